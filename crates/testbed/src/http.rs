//! A blocking HTTP/1.0 GET over a `TcpStream`, enough for a test to read what the fixtures
//! serve (`http://` URLs on loopback only; no TLS, no redirects).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use crate::{Error, Result, io};

/// A response: its status, headers (names lower-cased) and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code (`200`, `401`, …).
    pub status: u16,
    /// The headers, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// GETs `url` (`http://host:port/path`), with basic auth when `credentials` are given.
pub fn get(url: &str, credentials: Option<(&str, &str)>) -> Result<Response> {
    get_with_headers(url, credentials, &[])
}

/// GETs `url` as [`get`] does, sending `headers` as well (an `Accept`, say).
pub fn get_with_headers(
    url: &str,
    credentials: Option<(&str, &str)>,
    headers: &[(&str, &str)],
) -> Result<Response> {
    let invalid = || Error::Invalid {
        what: "http URL",
        value: url.to_string(),
    };
    let rest = url.strip_prefix("http://").ok_or_else(invalid)?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut request =
        format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: tripline-testbed\r\n");
    if let Some((user, password)) = credentials {
        let token = base64(format!("{user}:{password}").as_bytes());
        request.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let what = format!("GET {url}");
    let mut stream = TcpStream::connect(authority).map_err(io(&what))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(io(&what))?;
    stream.write_all(request.as_bytes()).map_err(io(&what))?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(io(&what))?;
    parse(&raw).ok_or_else(|| Error::Unexpected {
        what,
        output: String::from_utf8_lossy(&raw[..raw.len().min(200)]).into_owned(),
    })
}

fn parse(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Response {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    })
}

/// Standard base64, with padding.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn a_response_is_parsed() {
        let response =
            parse(b"HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic\r\n\r\nno").unwrap();
        assert_eq!(response.status, 401);
        assert_eq!(response.header("www-authenticate"), Some("Basic"));
        assert_eq!(response.text(), "no");
    }
}
