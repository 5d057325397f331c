//! The name and key syntaxes of the Kubernetes API (`k8s.io/apimachinery/pkg/util/validation`).

pub(super) const LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case \
    alphanumeric characters or '-', and must start and end with an alphanumeric character \
    (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

pub(super) const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of \
    lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
    character (e.g. 'example.com', regex used for validation is \
    '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

pub(super) const DNS1035_MESSAGE: &str = "a DNS-1035 label must consist of lower case \
    alphanumeric characters or '-', start with an alphabetic character, and end with an \
    alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is \
    '[a-z]([-a-z0-9]*[a-z0-9])?')";

pub(super) const LABEL_VALUE_MESSAGE: &str = "a valid label must be an empty string or consist \
    of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric \
    character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is \
    '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

pub(super) const QUALIFIED_NAME_MESSAGE: &str = "name part must consist of alphanumeric \
    characters, '-', '_' or '.', and must start and end with an alphanumeric character \
    (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is \
    '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' \
    (e.g. 'example.com/MyName')";

pub(super) const ENV_NAME_MESSAGE: &str = "a valid environment variable name must consist of \
    alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. \
    'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is \
    '[-._a-zA-Z][-._a-zA-Z0-9]*')";

pub(super) const CONFIG_KEY_MESSAGE: &str = "a valid config key must consist of alphanumeric \
    characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used \
    for validation is '[-._a-zA-Z0-9]+')";

/// An RFC 1123 label: at most 63 lowercase alphanumerics or `-`, alphanumeric at both ends.
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// An RFC 1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// An RFC 1035 label: an RFC 1123 label that starts with a letter.
pub fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

/// The part of a label value or qualified name after the prefix: alphanumerics, `-`, `_`, `.`,
/// alphanumeric at both ends, at most 63 characters.
fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A label value: empty, or a name part.
pub(super) fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_name_part(s)
}

/// Why `key` is not a qualified name (label and annotation keys), or `None` when it is.
pub(super) fn qualified_name_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Some("prefix part must be non-empty".into());
        }
        if !is_dns1123_subdomain(prefix) {
            return Some(format!("prefix part {SUBDOMAIN_MESSAGE}"));
        }
    }
    if name.is_empty() {
        return Some("name part must be non-empty".into());
    }
    if name.len() > 63 {
        return Some("name part must be no more than 63 characters".into());
    }
    if !is_name_part(name) {
        return Some(QUALIFIED_NAME_MESSAGE.into());
    }
    None
}

/// An environment variable name (the API server's strict rule, which every cluster version
/// accepts): `[-._a-zA-Z][-._a-zA-Z0-9]*`.
pub(super) fn is_env_var_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && !b[0].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A ConfigMap or Secret key: `[-._a-zA-Z0-9]+`, at most 253 characters, not `.` or `..`.
pub(super) fn is_config_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Why `name` is not an IANA service name (a named port), or `None` when it is: at most 15
/// lowercase alphanumerics or `-`, at least one letter, no `--`, no `-` at either end.
pub(super) fn port_name_problem(name: &str) -> Option<&'static str> {
    if name.len() > 15 {
        return Some("must be no more than 15 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Some("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        return Some("must contain at least one letter (a-z)");
    }
    if name.contains("--") {
        return Some("must not contain consecutive hyphens");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("must not begin or end with a hyphen");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_their_rules() {
        let cases: &[(&str, bool, bool, bool)] = &[
            // name, label, subdomain, dns1035
            ("web", true, true, true),
            ("web.v2", false, true, false),
            ("1web", true, true, false),
            ("Web", false, false, false),
            ("-web", false, false, false),
            ("web-", false, false, false),
            ("web_1", false, false, false),
            ("", false, false, false),
            (&"a".repeat(63), true, true, true),
            (&"a".repeat(64), false, false, false),
        ];
        for (name, label, subdomain, dns1035) in cases {
            assert_eq!(is_dns1123_label(name), *label, "label {name}");
            assert_eq!(is_dns1123_subdomain(name), *subdomain, "subdomain {name}");
            assert_eq!(is_dns1035_label(name), *dns1035, "dns1035 {name}");
        }
        assert!(!is_dns1123_subdomain(&format!("{}.a", "a.".repeat(126))));
    }

    #[test]
    fn keys_values_and_env_names() {
        for (key, ok) in [
            ("app", true),
            ("app.kubernetes.io/name", true),
            ("example.com/My_Name.1", true),
            ("/name", false),
            ("Example.com/name", false),
            ("a/b/c", false),
            ("has space", false),
            ("", false),
        ] {
            assert_eq!(qualified_name_problem(key).is_none(), ok, "key {key}");
        }
        for (value, ok) in [
            ("", true),
            ("v1.2_3-x", true),
            ("has space", false),
            ("-x", false),
            (&*"a".repeat(64), false),
        ] {
            assert_eq!(is_label_value(value), ok, "value {value}");
        }
        for (name, ok) in [
            ("PATH", true),
            ("my.env-name", true),
            ("_x", true),
            ("1 BAD", false),
            ("1BAD", false),
            ("A=B", false),
            ("", false),
        ] {
            assert_eq!(is_env_var_name(name), ok, "env {name}");
        }
        for (name, ok) in [
            ("http", true),
            ("http-8080", true),
            ("8080", false),
            ("a--b", false),
            ("-a", false),
            ("HTTP", false),
            ("sixteen-chars-xx", false),
        ] {
            assert_eq!(port_name_problem(name).is_none(), ok, "port {name}");
        }
        for (key, ok) in [("a.b_C-1", true), (".", false), ("a/b", false), ("", false)] {
            assert_eq!(is_config_key(key), ok, "config key {key}");
        }
    }
}
