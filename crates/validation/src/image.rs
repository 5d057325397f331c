//! Image references (`registry.example.com:5000/team/app:1.2@sha256:…`), in the grammar of the
//! distribution project's `reference` package, which container runtimes use to pull.
//!
//! The API server itself only requires a non-empty image without surrounding whitespace; a
//! reference that fails this grammar is accepted there and fails on every node at pull time,
//! so it is refused before it is saved.

/// Why `image` is not a valid image reference, or `None` when it is.
pub fn check_image_reference(image: &str) -> Option<&'static str> {
    if image.trim() != image {
        return Some("must not have leading or trailing whitespace");
    }
    if image.is_empty() {
        return Some("must not be empty");
    }
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    if let Some(digest) = digest
        && !is_digest(digest)
    {
        return Some(
            "the digest after '@' must be an algorithm and hex, e.g. 'sha256:' and 64 hex digits",
        );
    }
    // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
    let last_slash = rest.rfind('/').map_or(0, |p| p + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(colon) => (
            &rest[..last_slash + colon],
            Some(&rest[last_slash + colon + 1..]),
        ),
        None => (rest, None),
    };
    if let Some(tag) = tag
        && !is_tag(tag)
    {
        return Some(
            "the tag must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'",
        );
    }
    if name.len() > 255 {
        return Some("the repository name must be no more than 255 characters");
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 && is_domain(components[0]) {
        components.remove(0);
    }
    if components.iter().all(|c| is_path_component(c)) {
        None
    } else {
        Some(
            "must be a valid image reference: [registry[:port]/]repository[:tag][@digest], where \
             the repository is lowercase letters, digits and the separators '.', '_', '__' or '-' \
             between them, e.g. 'registry.example.com/team/app:1.2'",
        )
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    if bytes.is_empty() {
        return false;
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let separator_start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[separator_start..i];
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok || i == bytes.len() {
            return false;
        }
    }
}

/// A registry host with an optional port: DNS-like components, an IPv4 address, or a
/// bracketed IPv6 address.
fn is_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return false;
        };
        if inside.is_empty() || !inside.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        match after.strip_prefix(':') {
            Some(port) => return is_port(port),
            None => return after.is_empty(),
        }
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        }
    };
    if let Some(port) = port
        && !is_port(port)
    {
        return false;
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

fn is_port(port: &str) -> bool {
    !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
}

/// `[\w][\w.-]{0,127}`
fn is_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

/// `algorithm:encoded`, algorithm `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*`, encoded
/// at least 32 hex digits (`sha256` needs exactly 64).
fn is_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let algorithm_ok = algorithm.split(['-', '_', '+', '.']).all(|part| {
        let b = part.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    });
    let hex_ok = hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let length_ok = algorithm != "sha256" || hex.len() == 64;
    algorithm_ok && hex_ok && length_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_follow_the_distribution_grammar() {
        let sha = format!("sha256:{}", "a".repeat(64));
        let cases: Vec<(String, bool)> = vec![
            ("nginx".into(), true),
            ("nginx:1.27-alpine".into(), true),
            ("library/nginx:latest".into(), true),
            (
                "registry.cn-hangzhou.aliyuncs.com/acs/rollouts-demo:blue".into(),
                true,
            ),
            ("localhost:5000/app".into(), true),
            ("127.0.0.1:5000/team/app:v1".into(), true),
            ("[::1]:5000/app:v1".into(), true),
            ("ghcr.io/owner/my_app__x.y-z:1.0".into(), true),
            (format!("nginx@{sha}"), true),
            (format!("nginx:1.2@{sha}"), true),
            ("MyRegistry.example.com/app".into(), true),
            ("bad image name".into(), false),
            (" nginx".into(), false),
            ("nginx ".into(), false),
            ("".into(), false),
            ("Nginx".into(), false),
            ("team/App:1".into(), false),
            ("nginx:".into(), false),
            ("nginx:-x".into(), false),
            (format!("nginx:{}", "a".repeat(129)), false),
            ("nginx@sha256:abc".into(), false),
            ("nginx@".into(), false),
            ("app//x".into(), false),
            ("app/".into(), false),
            ("a..b".into(), false),
            ("a-b--c".into(), true),
            ("a___b".into(), false),
            ("host:port/app".into(), false),
        ];
        for (image, ok) in cases {
            assert_eq!(check_image_reference(&image).is_none(), ok, "{image:?}");
        }
    }
}
