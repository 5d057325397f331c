//! Registry authentication as registries do it: anonymous first; on a 401, the
//! `WWW-Authenticate` challenge says how. `Basic` gets the credentials; `Bearer realm=…,
//! service=…,scope=…` gets a token from the realm (Docker Hub, GHCR, ACR, Quay, Harbor), asked
//! for `repository:<name>:pull`, with the credentials when there are any.
//!
//! Credentials travel only over https, or plain http to this machine; the realm is the one
//! other origin they go to, because that is where a registry sends them.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::Url;
use serde::Deserialize;

/// A username and password (or token) for one registry. `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username (for a token-as-password registry, whatever it asks for).
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl Credentials {
    /// Credentials from a username and a password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// What a session sends, once a challenge has been answered.
pub(super) enum Granted {
    /// Nothing yet: requests go anonymous.
    Nothing,
    /// The credentials, as basic auth.
    Basic,
    /// A token from the realm, and how to ask for the next one.
    Bearer(Token),
}

/// A bearer token and where it came from.
pub(super) struct Token {
    /// The token itself. Never shown.
    pub value: String,
    /// When it stops being good (a few seconds early), if the token service said.
    pub expires: Option<Instant>,
    /// The challenge it answered, to ask again when it expires.
    pub challenge: Challenge,
}

impl Token {
    /// Whether the token is past its life.
    pub fn expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|at| now >= at)
    }
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// `Basic realm=…`.
    Basic,
    /// `Bearer realm=…,service=…,scope=…`.
    Bearer {
        /// Where tokens come from.
        realm: String,
        /// The `service` to ask for, when named.
        service: Option<String>,
    },
}

impl Challenge {
    /// Reads a `WWW-Authenticate` value; `None` for schemes the client does not speak.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim_start();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let params = params(rest);
        let find = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        Some(Challenge::Bearer {
            realm: find("realm")?,
            service: find("service"),
        })
    }
}

/// The token service's URL for a pull of `repository`; with no repository (a login's check of
/// the registry itself), for no scope at all, as `docker login` asks.
pub(crate) fn token_url(realm: &str, service: Option<&str>, repository: &str) -> Option<Url> {
    let mut url = Url::parse(realm)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())?;
    {
        let mut query = url.query_pairs_mut();
        if let Some(service) = service {
            query.append_pair("service", service);
        }
        if !repository.is_empty() {
            query.append_pair("scope", &format!("repository:{repository}:pull"));
        }
    }
    Some(url)
}

/// Whether credentials may travel to `url`: over https, or over plain http to this machine.
pub(crate) fn safe_for_credentials(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback(url),
        _ => false,
    }
}

/// Whether `url` names this machine (`localhost`, `127.0.0.0/8`, `::1`).
pub(crate) fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A token service's answer (the distribution token spec, and OAuth2's `access_token`).
#[derive(Deserialize)]
pub(crate) struct TokenAnswer {
    #[serde(default)]
    pub(crate) token: Option<String>,
    #[serde(default)]
    pub(crate) access_token: Option<String>,
    /// Seconds; the spec's default is 60.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl TokenAnswer {
    /// The token and its expiry, counted from `received` and cut short by a margin.
    pub fn into_token(self, received: Instant) -> Option<(String, Option<Instant>)> {
        let value = self.token.or(self.access_token).filter(|t| !t.is_empty())?;
        let life = Duration::from_secs(self.expires_in.unwrap_or(60));
        let margin = Duration::from_secs(5).min(life / 2);
        Some((value, Some(received + (life - margin))))
    }
}

/// `realm="https://auth",service="registry"` as lower-cased keys and their values.
fn params(params: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = params.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        pairs.push((key, value.to_owned()));
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read() {
        let table = [
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
                Some(Challenge::Bearer {
                    realm: "https://auth.docker.io/token".into(),
                    service: Some("registry.docker.io".into()),
                }),
            ),
            (
                "bearer realm=https://ghcr.io/token, scope=x",
                Some(Challenge::Bearer {
                    realm: "https://ghcr.io/token".into(),
                    service: None,
                }),
            ),
            (r#"Basic realm="Registry Realm""#, Some(Challenge::Basic)),
            ("Bearer service=\"x\"", None),
            ("Negotiate abc", None),
            ("", None),
        ];
        for (header, expected) in table {
            assert_eq!(Challenge::parse(header), expected, "{header}");
        }
    }

    #[test]
    fn token_urls_ask_for_a_pull_of_the_repository() {
        let url = token_url(
            "https://auth.docker.io/token?x=1",
            Some("registry.docker.io"),
            "library/nginx",
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://auth.docker.io/token?x=1&service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull"
        );
        assert_eq!(
            token_url("https://ghcr.io/token", Some("ghcr.io"), "")
                .unwrap()
                .as_str(),
            "https://ghcr.io/token?service=ghcr.io"
        );
        assert!(token_url("ftp://x/token", None, "a").is_none());
        assert!(token_url("/token", None, "a").is_none());
    }

    #[test]
    fn credentials_go_over_https_or_to_this_machine() {
        for (url, safe) in [
            ("https://ghcr.io/v2/", true),
            ("http://127.0.0.1:5000/v2/", true),
            ("http://127.8.0.1:5000/v2/", true),
            ("http://localhost:5000/v2/", true),
            ("http://[::1]:5000/v2/", true),
            ("http://registry.internal:5000/v2/", false),
            ("http://10.0.0.1/v2/", false),
        ] {
            assert_eq!(
                safe_for_credentials(&Url::parse(url).unwrap()),
                safe,
                "{url}"
            );
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let shown = format!("{:?}", Credentials::new("me", "s3cret"));
        assert!(shown.contains("me") && !shown.contains("s3cret"), "{shown}");
    }
}
