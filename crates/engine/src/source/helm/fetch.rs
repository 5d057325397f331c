//! HTTP for Helm sources: one client with timeouts, bodies read in chunks and cut off past a
//! size limit, statuses turned into [`SourceError`]s, and URLs shown without credentials.

use std::sync::Arc;

use reqwest::{Client, RequestBuilder, Response, StatusCode, Url};

use super::{Credentials, Limits, SourceError};
use crate::error::Code;

/// How a request proves who is asking.
#[derive(Clone, Copy)]
pub(super) enum Auth<'a> {
    /// No credentials.
    None,
    /// HTTP basic authentication.
    Basic(&'a Credentials),
    /// A registry token.
    Bearer(&'a str),
}

/// Builds the client every Helm source request goes through: rustls on ring (the provider
/// kube uses, so no second one), the platform's trust store, HTTP/1.1, the limits' timeouts.
pub(super) fn client(limits: &Limits) -> Result<Client, SourceError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?;
    let tls = rustls_platform_verifier::BuilderVerifierExt::with_platform_verifier(tls)
        .map_err(tls_error)?
        .with_no_client_auth();
    Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(limits.connect_timeout)
        .timeout(limits.request_timeout)
        .user_agent(concat!("tripline/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            SourceError::new(
                Code::SourceUnreachable,
                format!("the HTTP client could not be set up: {}", e.without_url()),
            )
        })
}

fn tls_error(error: rustls::Error) -> SourceError {
    SourceError::new(
        Code::SourceUnreachable,
        format!("TLS could not be set up: {error}"),
    )
}

/// Applies `auth` to a request.
pub(super) fn authorize(request: RequestBuilder, auth: Auth<'_>) -> RequestBuilder {
    match auth {
        Auth::None => request,
        Auth::Basic(credentials) => {
            request.basic_auth(&credentials.username, Some(&credentials.password))
        }
        Auth::Bearer(token) => request.bearer_auth(token),
    }
}

/// Sends a request; a failure to get any answer is [`Code::SourceUnreachable`].
pub(super) async fn send(request: RequestBuilder, url: &Url) -> Result<Response, SourceError> {
    request
        .send()
        .await
        .map_err(|error| unreachable(url, error))
}

fn unreachable(url: &Url, error: reqwest::Error) -> SourceError {
    let why = if error.is_timeout() {
        "it did not answer in time".to_owned()
    } else if error.is_connect() {
        format!("could not connect ({})", root_cause(&error))
    } else {
        root_cause(&error)
    };
    SourceError::new(
        Code::SourceUnreachable,
        format!("{} could not be read: {why}", shown(url)),
    )
}

/// The innermost cause's text: reqwest's own message repeats the URL, which may be secret.
fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Turns an unsuccessful status into an error naming what was asked for.
pub(super) fn check_status(
    response: Response,
    url: &Url,
    what: &str,
    had_credentials: bool,
) -> Result<Response, SourceError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let at = shown(url);
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if had_credentials => SourceError::new(
            Code::SourceAuth,
            format!(
                "{at} refused the credentials (HTTP {status}); check the username and password"
            ),
        ),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => SourceError::new(
            Code::SourceAuth,
            format!("{at} needs credentials (HTTP {status}); add a username and password"),
        ),
        StatusCode::NOT_FOUND => SourceError::new(
            Code::SourceNotFound,
            format!("{what} was not found at {at} (HTTP 404)"),
        ),
        _ => SourceError::new(
            Code::SourceUnreachable,
            format!("{at} answered HTTP {status} for {what}"),
        ),
    })
}

/// Reads a body, at most `limit` bytes of it: a declared length past the limit is refused
/// before reading, and a body that keeps coming is cut off as soon as it passes the limit.
pub(super) async fn body(
    mut response: Response,
    url: &Url,
    what: &str,
    limit: usize,
) -> Result<Vec<u8>, SourceError> {
    let too_large = || {
        SourceError::new(
            Code::SourceTooLarge,
            format!(
                "{what} at {} is larger than the {} limit",
                shown(url),
                super::bytes(limit)
            ),
        )
    };
    let declared = response.content_length().unwrap_or(0);
    if declared > limit as u64 {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity((declared as usize).min(limit));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| unreachable(url, error))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A URL as messages show it: without a username, password, query or fragment.
pub(super) fn shown(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// Whether `a` and `b` share scheme, host and port: credentials for a chart repository are
/// sent only to it, never to a server its index points at.
pub(super) fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_carry_no_secrets() {
        let url =
            Url::parse("https://user:s3cret@charts.example.com/x/index.yaml?token=abc#f").unwrap();
        let text = shown(&url);
        assert_eq!(text, "https://charts.example.com/x/index.yaml");
    }

    #[test]
    fn credentials_stay_with_their_origin() {
        let repo = Url::parse("https://charts.example.com/stable/index.yaml").unwrap();
        for (other, same) in [
            ("https://charts.example.com/other/a.tgz", true),
            ("https://charts.example.com:443/a.tgz", true),
            ("http://charts.example.com/a.tgz", false),
            ("https://charts.example.com:8443/a.tgz", false),
            ("https://evil.example.com/a.tgz", false),
            ("https://charts.example.com.evil.com/a.tgz", false),
        ] {
            assert_eq!(
                same_origin(&repo, &Url::parse(other).unwrap()),
                same,
                "{other}"
            );
        }
    }
}
