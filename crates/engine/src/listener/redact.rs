//! Redaction: what an access record may keep of a call.
//!
//! A secret can reach the listener in many spellings: `?token=`, `?%74oken=`, `?TOKEN=`,
//! twice, after a `;`, inside a JSON body as `"\u0074oken"`, in a cookie, or as the value of
//! a parameter with an innocent name. So names and values are judged **decoded** (percent
//! escapes, `+`, JSON escapes), and a value is removed when
//!
//! - its name is secret-looking ([`is_secret_name`]: `token`, `secret`, `signature`,
//!   `authorization`, … anywhere in the name, any case), or
//! - it contains a value the call presented under a secret name ([`Presented`]), or
//! - it contains something shaped like a trigger token (`tl_` and a long URL-safe run).
//!
//! Redaction keeps the shape of what it cleans (the query's separators, the body's JSON
//! structure, duplicate keys and all), so a record still shows what the caller sent. After
//! the structured pass, every text a record keeps is scrubbed once more of the presented
//! values and token-shaped runs, whatever its format.

use std::borrow::Cow;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Presented values shorter than this are redacted where they stand, but not hunted for
/// elsewhere in the record (a one-letter "token" would otherwise blank every such letter).
const MIN_SCRUBBED: usize = 8;

/// A trigger token is `tl_` and 43 URL-safe characters; this many mark a run as one.
const TOKEN_SHAPE_RUN: usize = 16;

/// Values a call presented under secret names, kept to scrub them from the rest of its
/// record. Its `Debug` shows only how many there are.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Presented(Vec<Box<str>>);

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Presented({} values)", self.0.len())
    }
}

impl Presented {
    fn add(&mut self, value: &str) {
        if value.len() >= MIN_SCRUBBED && !self.0.iter().any(|v| &**v == value) {
            self.0.push(value.into());
        }
    }

    /// Whether `text` holds a presented value or a token-shaped run.
    fn taints(&self, text: &str) -> bool {
        has_token_shape(text) || self.0.iter().any(|v| holds(text, v))
    }

    /// `text` with every presented value and token-shaped run replaced by [`REDACTED`].
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        for value in &self.0 {
            if holds(&text, value) {
                text = Cow::Owned(text.replace(&**value, REDACTED));
            }
        }
        if has_token_shape(&text) {
            text = Cow::Owned(replace_token_shapes(&text));
        }
        text
    }

    /// Scrubs every string in a JSON value, keys included.
    pub fn scrub_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(text) => {
                if let Cow::Owned(clean) = self.scrub(text) {
                    *text = clean;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.scrub_json(item)),
            Value::Object(map) => {
                let tainted = map.keys().any(|key| self.taints(key));
                if tainted {
                    let old = std::mem::take(map);
                    for (key, child) in old {
                        map.insert(self.scrub(&key).into_owned(), child);
                    }
                }
                map.values_mut().for_each(|child| self.scrub_json(child));
            }
            _ => {}
        }
    }
}

/// Whether a (decoded) name says its value is a secret: any case, anywhere in the name.
///
/// `token`, `secret`, `password`, `passwd`, `authorization`, `apikey` (also `api_key`,
/// `api-key`), `signature`, `credential`, `cookie` and `session`. One pass over the name: at
/// each byte, only the words starting with that letter are compared (this runs for every
/// header and query parameter of every call).
pub fn is_secret_name(name: &str) -> bool {
    let name = name.as_bytes();
    (0..name.len()).any(|at| {
        let rest = &name[at..];
        let starts =
            |word: &[u8]| rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word);
        match name[at].to_ascii_lowercase() {
            b't' => starts(b"token"),
            b's' => starts(b"secret") || starts(b"signature") || starts(b"session"),
            b'p' => starts(b"password") || starts(b"passwd"),
            b'a' => {
                starts(b"authorization")
                    || starts(b"apikey")
                    || starts(b"api_key")
                    || starts(b"api-key")
            }
            b'c' => starts(b"credential") || starts(b"cookie"),
            _ => false,
        }
    })
}

/// Whether a header's value is a secret (its name says so, or it carries credentials).
pub fn is_secret_header(name: &str) -> bool {
    matches!(name, "authorization" | "proxy-authorization") || is_secret_name(name)
}

fn is_url_safe(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
}

/// Whether `text` contains `value`. A text shorter than the value is answered at once:
/// most strings of a body are shorter than a token, and a substring search prepares itself
/// from the value before it looks at the text.
fn holds(text: &str, value: &str) -> bool {
    text.len() >= value.len() && text.contains(value)
}

/// Where the token-shaped runs of `text` are: `tl_` (any case) starting a word, and a long
/// URL-safe run.
///
/// It looks for each `_` (a byte search, fast where they are rare, as in most text) and
/// checks for `tl` before it. A run that does not qualify can hide no token further in: each
/// later `tl_` inside it follows a URL-safe byte, so it starts no word.
fn token_shapes(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = text.as_bytes();
    // Always just after an ASCII byte, so a character boundary.
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(offset) = text[from..].find('_') {
            let underscore = from + offset;
            from = underscore + 1;
            if underscore < 2 || !bytes[underscore - 2..underscore].eq_ignore_ascii_case(b"tl") {
                continue;
            }
            let at = underscore - 2;
            let end = from
                + bytes[from..]
                    .iter()
                    .take_while(|b| is_url_safe(**b))
                    .count();
            // `kubectl_version_…` is not a token: one starts a word.
            let starts_word = at == 0 || !is_url_safe(bytes[at - 1]);
            if starts_word && end - from >= TOKEN_SHAPE_RUN {
                from = end;
                return Some((at, end));
            }
        }
        None
    })
}

fn has_token_shape(text: &str) -> bool {
    token_shapes(text).next().is_some()
}

fn replace_token_shapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end) in token_shapes(text) {
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// One `name=value` pair of a query or form body, decoded.
fn decode_pair(pair: &str) -> (Cow<'_, str>, Cow<'_, str>) {
    // Borrowed unless the pair has escapes or `+`.
    form_urlencoded::parse(pair.as_bytes())
        .next()
        .unwrap_or_default()
}

/// The pairs of a query or form body, split on `&` and `;` (some clients and servers take
/// either), each with the separator before it.
fn pairs(query: &str) -> impl Iterator<Item = (Option<char>, &str)> {
    let mut rest = Some(query);
    let mut separator = None;
    std::iter::from_fn(move || {
        let text = rest?;
        let before = separator;
        match text.find(['&', ';']) {
            Some(at) => {
                separator = text[at..].chars().next();
                rest = Some(&text[at + 1..]);
                Some((before, &text[..at]))
            }
            None => {
                rest = None;
                Some((before, text))
            }
        }
    })
}

/// Adds to `presented` the values `query` gives under secret names.
pub fn collect_query(query: &str, presented: &mut Presented) {
    for (_, pair) in pairs(query) {
        let (name, value) = decode_pair(pair);
        if is_secret_name(&name) {
            presented.add(&value);
        }
    }
}

/// Appends `query` to `out` with secrets masked: the value of a secret-named parameter,
/// and any pair whose decoded name or value holds a presented value or a token.
pub fn push_query(out: &mut String, query: &str, presented: &Presented) {
    for (separator, pair) in pairs(query) {
        if let Some(separator) = separator {
            out.push(separator);
        }
        let (name, value) = decode_pair(pair);
        let raw_name = pair.split_once('=').map(|(name, _)| name);
        if presented.taints(&name) {
            out.push_str(REDACTED);
        } else if is_secret_name(&name) || presented.taints(&value) {
            match raw_name {
                Some(raw) => {
                    out.push_str(raw);
                    out.push('=');
                    out.push_str(REDACTED);
                }
                // A secret name alone carries nothing to hide.
                None => out.push_str(pair),
            }
        } else {
            out.push_str(pair);
        }
    }
}

/// A body as a record keeps it: the caller's own bytes (at most `limit`, cut at a character
/// boundary), secrets masked. `content_type` chooses how it is read: a form, JSON (read
/// leniently, so a cut or broken document is still cleaned), or lines of `key: value` /
/// `key=value` text (YAML and the like).
pub fn body(bytes: &[u8], content_type: Option<&str>, presented: &Presented) -> String {
    // Valid UTF-8 is checked first, as std::str::from_utf8 checks it: several times faster on
    // ASCII than from_utf8_lossy's chunk by chunk walk, which is left for the rest.
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    };
    let essence = content_type
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let cleaned = if essence == "application/x-www-form-urlencoded" {
        let mut out = String::with_capacity(text.len());
        push_query(&mut out, &text, presented);
        out
    } else if text.trim_start().starts_with(['{', '[']) {
        json(&text, presented)
    } else {
        lines(&text)
    };
    presented.scrub(&cleaned).into_owned()
}

/// Masks the values of `key: value` and `key=value` lines whose key is secret-looking.
fn lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let separator = line.find([':', '=']);
        let key = separator.map(|at| {
            line[..at].trim_matches(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '-'))
        });
        match (separator, key) {
            (Some(at), Some(key)) if is_secret_name(key) => {
                out.push_str(&line[..=at]);
                out.push(' ');
                out.push_str(REDACTED);
                if line.ends_with('\n') {
                    out.push('\n');
                }
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// Masks secrets in JSON text without parsing it into a tree, so duplicate keys, key order
/// and spacing stay as the caller sent them. A string followed by `:` is a key; the value
/// of a secret-looking key is replaced, and inside an object or array under such a key every
/// value is. Any string whose decoded text holds a presented value or a token is replaced
/// too. Broken or cut JSON is cleaned as far as it goes: an unterminated string runs to the
/// end.
fn json(text: &str, presented: &Presented) -> String {
    const MASK: &str = "\"[redacted]\"";
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let replace = |out: &mut String, start: usize, end: usize, copied: &mut usize| {
        out.push_str(&text[*copied..start]);
        out.push_str(MASK);
        *copied = end;
    };
    let mut depth = 0usize;
    // The depth at which a secret container began: everything deeper is masked.
    let mut secret_from: Option<usize> = None;
    // The key just read names a secret.
    let mut pending = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let end = string_end(bytes, i);
                let literal = &text[i..end];
                let decoded = decode_string(literal);
                let mut next = end;
                while next < bytes.len() && bytes[next].is_ascii_whitespace() {
                    next += 1;
                }
                let is_key = bytes.get(next) == Some(&b':');
                if is_key {
                    pending = is_secret_name(&decoded);
                    if presented.taints(&decoded) {
                        replace(&mut out, i, end, &mut copied);
                    }
                } else {
                    if pending || secret_from.is_some() || presented.taints(&decoded) {
                        replace(&mut out, i, end, &mut copied);
                    }
                    pending = false;
                }
                i = end;
            }
            b'{' | b'[' => {
                depth += 1;
                if pending && secret_from.is_none() {
                    secret_from = Some(depth);
                }
                pending = false;
                i += 1;
            }
            b'}' | b']' => {
                if secret_from == Some(depth) {
                    secret_from = None;
                }
                depth = depth.saturating_sub(1);
                pending = false;
                i += 1;
            }
            b',' | b':' => i += 1,
            byte if byte.is_ascii_whitespace() => i += 1,
            _ => {
                // A number, `true`, `false`, `null` — or garbage: up to the next delimiter.
                let start = i;
                while i < bytes.len()
                    && !matches!(bytes[i], b',' | b'}' | b']' | b':' | b'"' | b'{' | b'[')
                    && !bytes[i].is_ascii_whitespace()
                {
                    i += 1;
                }
                if pending || secret_from.is_some() {
                    replace(&mut out, start, i, &mut copied);
                }
                pending = false;
            }
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The end (exclusive) of the string literal starting at `start`, or the text's end.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// A JSON string literal's text, escapes decoded (as written when it cannot be decoded).
fn decode_string(literal: &str) -> Cow<'_, str> {
    let inner = literal
        .strip_prefix('"')
        .map(|rest| rest.strip_suffix('"').unwrap_or(rest))
        .unwrap_or(literal);
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    match serde_json::from_str::<String>(literal) {
        Ok(decoded) => Cow::Owned(decoded),
        Err(_) => Cow::Borrowed(inner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_found_anywhere_in_any_case_as_a_plain_search_finds_them() {
        const WORDS: [&str; 12] = [
            "token",
            "secret",
            "password",
            "passwd",
            "authorization",
            "apikey",
            "api_key",
            "api-key",
            "signature",
            "credential",
            "cookie",
            "session",
        ];
        let reference = |name: &str| {
            let lower = name.to_ascii_lowercase();
            WORDS.iter().any(|word| lower.contains(word))
        };
        let parts = [
            "",
            "x",
            "TOK",
            "en",
            "Token",
            "tokeN",
            "se",
            "cret",
            "SESSION",
            "api",
            "_key",
            "-",
            "key",
            "pass",
            "wd",
            "word",
            "auth",
            "orization",
            "cook",
            "ie",
            "sig",
            "nature",
            "credent",
            "ial",
            "é",
            "tt",
            "ss",
        ];
        let mut checked = 0;
        for a in parts {
            for b in parts {
                for c in parts {
                    let name = format!("{a}{b}{c}");
                    assert_eq!(is_secret_name(&name), reference(&name), "{name:?}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, parts.len().pow(3));
    }

    fn presented(query: &str) -> Presented {
        let mut presented = Presented::default();
        collect_query(query, &mut presented);
        presented
    }

    fn query(text: &str) -> String {
        let mut out = String::new();
        push_query(&mut out, text, &presented(text));
        out
    }

    #[test]
    fn query_values_are_masked_by_decoded_name_keeping_separators() {
        for (given, expected) in [
            (
                "token=tl_abc&type=scale_out&step=2&secret=x",
                "token=[redacted]&type=scale_out&step=2&secret=[redacted]",
            ),
            (
                "X_API_KEY=1&myToken=2&PassWord&tok=3&=&&apikeys=4",
                "X_API_KEY=[redacted]&myToken=[redacted]&PassWord&tok=3&=&&apikeys=[redacted]",
            ),
            ("%74oken=abc", "%74oken=[redacted]"),
            ("%54OKEN=abc", "%54OKEN=[redacted]"),
            ("x=1;token=abc;y=2", "x=1;token=[redacted];y=2"),
            ("to%6Ben=abc", "to%6Ben=[redacted]"),
            ("tok+en=abc", "tok+en=abc"),
            ("", ""),
        ] {
            assert_eq!(query(given), expected, "{given}");
        }
    }

    #[test]
    fn a_presented_value_is_masked_wherever_it_reappears() {
        let given = "token=abcdefgh12&note=see%20abcdefgh12&abcdefgh12";
        assert_eq!(query(given), "token=[redacted]&note=[redacted]&[redacted]");
        // Short values are masked in place only.
        assert_eq!(query("token=ab&note=ab"), "token=[redacted]&note=ab");
    }

    #[test]
    fn token_shaped_runs_are_masked_under_any_name() {
        let token = "tl_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
        let encoded = token.replace('t', "%74");
        assert_eq!(
            query(&format!("x={encoded}&y=tl_short")),
            "x=[redacted]&y=tl_short"
        );
        assert_eq!(
            Presented::default().scrub(&format!("a {token} b")),
            "a [redacted] b"
        );
    }

    /// The token-shaped runs as first written: every `tl_` found by a window over the
    /// bytes, the search going on after each run.
    fn token_shapes_by_windows(text: &str) -> Vec<(usize, usize)> {
        let bytes = text.as_bytes();
        let (mut from, mut found) = (0, Vec::new());
        while from + 3 <= bytes.len() {
            let Some(offset) = bytes[from..]
                .windows(3)
                .position(|w| w.eq_ignore_ascii_case(b"tl_"))
            else {
                break;
            };
            let at = from + offset;
            let end = at
                + 3
                + bytes[at + 3..]
                    .iter()
                    .take_while(|b| is_url_safe(**b))
                    .count();
            from = end.max(at + 1);
            let starts_word = at == 0 || !is_url_safe(bytes[at - 1]);
            if starts_word && end - at - 3 >= TOKEN_SHAPE_RUN {
                found.push((at, end));
            }
        }
        found
    }

    #[test]
    fn token_shapes_are_found_as_a_window_over_every_byte_finds_them() {
        let parts = [
            "",
            "tl_",
            "TL_",
            "tL",
            "_",
            "t",
            "l",
            "x",
            "-",
            " ",
            "é",
            "0123456789abcdef",
            "kubectl",
            "tl_0123456789abcdefg",
            "__",
            "\"",
            "/",
        ];
        let mut checked = 0;
        for a in parts {
            for b in parts {
                for c in parts {
                    for d in ["", "tl_", "0123456789", "é_"] {
                        let text = format!("{a}{b}{c}{d}");
                        let found: Vec<_> = token_shapes(&text).collect();
                        assert_eq!(found, token_shapes_by_windows(&text), "{text:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, parts.len().pow(3) * 4);
        // Some of them hold tokens, so the comparison is not only of empty lists.
        let token = "tl_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
        assert_eq!(
            token_shapes(&format!("a {token}, {token}")).collect::<Vec<_>>(),
            [(2, 48), (50, 96)]
        );
    }

    #[test]
    fn json_bodies_keep_their_bytes_and_lose_their_secrets() {
        let none = Presented::default();
        for (given, expected) in [
            (r#"{"a":1,"a":2}"#, r#"{"a":1,"a":2}"#),
            (
                r#"{"token":"x", "token" : 5, "n":{"password":null}}"#,
                r#"{"token":"[redacted]", "token" : "[redacted]", "n":{"password":"[redacted]"}}"#,
            ),
            (
                r#"{"\u0074oken":"x","TOKEN":"y"}"#,
                r#"{"\u0074oken":"[redacted]","TOKEN":"[redacted]"}"#,
            ),
            (
                r#"{"secrets":["a",{"k":"b"}],"tag":"v1"}"#,
                r#"{"secrets":["[redacted]",{"k":"[redacted]"}],"tag":"v1"}"#,
            ),
            (
                r#"{"u":"\u0074l_0123456789abcdefghij","v":"ok"}"#,
                r#"{"u":"[redacted]","v":"ok"}"#,
            ),
            // Cut or broken: cleaned as far as it goes.
            (r#"{"token":"abc"#, r#"{"token":"[redacted]""#),
            (r#"{"token":tru"#, r#"{"token":"[redacted]""#),
            (r#"[{"x":"]"#, r#"[{"x":"]"#),
        ] {
            assert_eq!(body(given.as_bytes(), None, &none), expected, "{given}");
        }
    }

    #[test]
    fn hostile_bodies_are_cleaned_without_recursion_or_panics() {
        let none = Presented::default();
        let deep = format!("{}\"token\":1{}", "[{".repeat(50_000), "}]".repeat(50_000));
        let cleaned = body(deep.as_bytes(), None, &none);
        assert!(!cleaned.contains("\"token\":1"));
        let deep_secret = format!(
            "{{\"token\":{}1{}}}",
            "[".repeat(50_000),
            "]".repeat(50_000)
        );
        assert!(!body(deep_secret.as_bytes(), None, &none).contains('1'));
        for given in [
            &b"{\"token\":\"abc\\"[..],
            b"{\"\\uZZZZ\":\"x\",\"token\":\"\\ud800\"}",
            b"{\"token\":\xff\xfe,\"a\":\"\xc3\"}",
            b"\"\\",
            b"{:::,,,]]]}}}",
            b"",
        ] {
            let cleaned = body(given, Some("application/json"), &none);
            assert!(!cleaned.contains("abc"), "{cleaned}");
        }
    }

    #[test]
    fn other_bodies_are_cleaned_by_their_form() {
        let none = Presented::default();
        assert_eq!(
            body(
                b"a=1&token=x",
                Some("application/x-www-form-urlencoded; charset=utf-8"),
                &none
            ),
            "a=1&token=[redacted]"
        );
        assert_eq!(
            body(b"kind: x\n  token: abc\npassword=p\n", None, &none),
            "kind: x\n  token: [redacted]\npassword= [redacted]\n"
        );
    }

    #[test]
    fn scrubbing_json_values_cleans_keys_and_strings() {
        let presented = presented("token=abcdefgh12");
        let mut value = serde_json::json!({"abcdefgh12": 1, "a": ["x abcdefgh12"]});
        presented.scrub_json(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"[redacted]": 1, "a": ["x [redacted]"]})
        );
    }
}
