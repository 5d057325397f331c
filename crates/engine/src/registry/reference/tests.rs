//! Table-driven tests of the reference grammar and its normalisation, including hostile
//! input.

use super::{Error, ImageRef, check_digest, check_tag};

const SHA256: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn sha512() -> String {
    format!("sha512:{}", "ab".repeat(64))
}

/// A short name for each variant, so tables can say which error they expect.
fn kind(error: &Error) -> &'static str {
    match error {
        Error::Empty => "empty",
        Error::Whitespace { .. } => "whitespace",
        Error::ControlCharacter { .. } => "control",
        Error::NonAscii { .. } => "non-ascii",
        Error::NameTooLong { .. } => "name-too-long",
        Error::InvalidRegistry { .. } => "registry",
        Error::UpperCaseRepository { .. } => "upper-case",
        Error::InvalidRepository { .. } => "repository",
        Error::HexIdentifier { .. } => "hex",
        Error::InvalidTag { .. } => "tag",
        Error::InvalidDigest { .. } => "digest",
    }
}

#[test]
fn valid_references_normalise_like_docker() {
    let with_digest = format!("ghcr.io/acme/api@{SHA256}");
    let tag_and_digest = format!("ghcr.io/acme/api:v1@{SHA256}");
    let sha512_ref = format!("quay.io/a/b@{}", sha512());
    let long_tag = format!("app:{}", "t".repeat(128));
    let cases: Vec<(&str, String)> = vec![
        ("nginx", "docker.io/library/nginx".into()),
        ("nginx:1.27", "docker.io/library/nginx:1.27".into()),
        ("library/nginx", "docker.io/library/nginx".into()),
        ("docker.io/nginx", "docker.io/library/nginx".into()),
        (
            "docker.io/library/nginx:latest",
            "docker.io/library/nginx:latest".into(),
        ),
        (
            "index.docker.io/library/nginx",
            "docker.io/library/nginx".into(),
        ),
        ("index.docker.io/nginx", "docker.io/library/nginx".into()),
        ("registry-1.docker.io/acme/api", "docker.io/acme/api".into()),
        ("Docker.IO/acme/api", "docker.io/acme/api".into()),
        ("acme/api:v2", "docker.io/acme/api:v2".into()),
        ("localhost/app", "localhost/app".into()),
        ("localhost:5000/app:dev", "localhost:5000/app:dev".into()),
        ("LOCALHOST:5000/app", "localhost:5000/app".into()),
        (
            "Registry.Example.COM:443/team/app",
            "registry.example.com:443/team/app".into(),
        ),
        ("192.168.1.10:5000/app", "192.168.1.10:5000/app".into()),
        ("[::1]:5000/app", "[::1]:5000/app".into()),
        ("[fe80::1]/app", "[fe80::1]/app".into()),
        ("quay.io/a/b/c/d", "quay.io/a/b/c/d".into()),
        (
            "my-registry.local/a__b/c.d/e--f/g_h",
            "my-registry.local/a__b/c.d/e--f/g_h".into(),
        ),
        ("nginx:_tag", "docker.io/library/nginx:_tag".into()),
        ("nginx:1.0-RC_1", "docker.io/library/nginx:1.0-RC_1".into()),
        (&with_digest, with_digest.clone()),
        (&tag_and_digest, tag_and_digest.clone()),
        (&sha512_ref, sha512_ref.clone()),
        (&long_tag, format!("docker.io/library/{long_tag}")),
        // As in Docker: with no '/', "localhost:5000" is the image "localhost", tag "5000".
        ("localhost:5000", "docker.io/library/localhost:5000".into()),
        // A dotted name with no '/' is a Docker Hub repository, not a registry.
        ("ghcr.io", "docker.io/library/ghcr.io".into()),
    ];
    for (input, expected) in cases {
        let image = ImageRef::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(image.to_string(), expected, "{input:?}");
        let again = ImageRef::parse(&image.to_string()).unwrap();
        assert_eq!(again, image, "{input:?} does not survive a round trip");
    }
}

#[test]
fn parts_are_split_into_registry_repository_tag_and_digest() {
    // (input, (registry, repository, tag, digest))
    type Parts<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>);
    let cases: Vec<(String, Parts)> = vec![
        ("nginx".into(), ("docker.io", "library/nginx", None, None)),
        (
            "localhost:5000/app:dev".into(),
            ("localhost:5000", "app", Some("dev"), None),
        ),
        (
            format!("ghcr.io/acme/api:v1@{SHA256}"),
            ("ghcr.io", "acme/api", Some("v1"), Some(SHA256)),
        ),
        (
            format!("acme/api@{SHA256}"),
            ("docker.io", "acme/api", None, Some(SHA256)),
        ),
    ];
    for (input, (registry, repository, tag, digest)) in cases {
        let image = ImageRef::parse(&input).unwrap();
        assert_eq!(image.registry(), registry, "{input}");
        assert_eq!(image.repository(), repository, "{input}");
        assert_eq!(image.tag(), tag, "{input}");
        assert_eq!(image.digest(), digest, "{input}");
    }
}

#[test]
fn invalid_references_name_the_problem() {
    let long_name = format!("a/{}", "b".repeat(260));
    let long_tag = format!("app:{}", "t".repeat(129));
    let hex64 = "0123456789abcdef".repeat(4);
    let upper_hex = format!("app@sha256:{}", "A".repeat(64));
    let cases: Vec<(&str, &str, &str)> = vec![
        ("", "empty", "is empty"),
        (" nginx", "whitespace", "at byte 0"),
        ("nginx ", "whitespace", "at byte 5"),
        ("ngi nx", "whitespace", "whitespace"),
        ("nginx\t", "whitespace", "whitespace"),
        ("nginx\n", "whitespace", "whitespace"),
        ("nginx\u{0}", "control", "control character at byte 5"),
        ("nginx\u{7f}", "control", "control character"),
        ("ñginx", "non-ascii", "'ñ'"),
        ("nginx:тег", "non-ascii", "non-ASCII"),
        ("ghcr.io/акме/api", "non-ascii", "non-ASCII"),
        ("nginx\u{200b}", "non-ascii", "non-ASCII"),
        ("nginx\u{ff1a}1.27", "non-ascii", "non-ASCII"),
        (
            "Foo/bar",
            "upper-case",
            "image reference \"Foo/bar\" has upper-case letters in its repository \"Foo/bar\"",
        ),
        ("NGINX", "upper-case", "\"NGINX\""),
        ("ghcr.io/Acme/api", "upper-case", "repository \"Acme/api\""),
        ("a/../b", "repository", "\"..\""),
        ("a//b", "repository", "empty path component"),
        ("/a", "repository", "empty path component"),
        ("a/", "repository", "empty path component"),
        ("ghcr.io/", "repository", "is empty"),
        ("ghcr.io//a", "repository", "empty path component"),
        ("-a/b", "repository", "must start and end"),
        ("a-/b", "repository", "must start and end"),
        ("a..b", "repository", "separator \"..\""),
        ("a___b", "repository", "separator \"___\""),
        ("a.-b", "repository", "separator \".-\""),
        ("a/b:v1:v2", "repository", "contains ':'"),
        ("a+b", "repository", "contains '+'"),
        ("@", "repository", "is empty"),
        (":tag", "repository", "is empty"),
        ("a/b@", "digest", "'@' with no digest"),
        ("a/b@sha256", "digest", "no ':'"),
        ("a/b@sha256:", "digest", "64 hex digits, this one has 0"),
        ("a/b@sha256:abc", "digest", "this one has 3"),
        (&upper_hex, "digest", "lower-case"),
        (
            "a/b@md5:d41d8cd98f00b204e9800998ecf8427e",
            "digest",
            "not sha256 or sha512",
        ),
        ("a/b@@sha256:00", "digest", "second '@'"),
        ("a/b@sha256:00@x", "digest", "second '@'"),
        ("a/b:", "tag", "':' with nothing after it"),
        ("a/b:-x", "tag", "must start with"),
        ("a/b:.x", "tag", "must start with"),
        ("a/b:x+y", "tag", "contains '+'"),
        (&long_tag, "tag", "129 bytes; the limit is 128"),
        (&long_name, "name-too-long", "the limit is 255"),
        (&hex64, "hex", "image ID"),
        ("https://ghcr.io/acme/api", "registry", "port"),
        ("ghcr.io:99999/a", "registry", "not between 1 and 65535"),
        ("ghcr.io:0/a", "registry", "not between 1 and 65535"),
        ("ghcr.io:abc/a", "registry", "is not a number"),
        ("gh_cr.io/a", "registry", "contains '_'"),
        ("-ghcr.io/a", "registry", "starts or ends with '-'"),
        ("ghcr..io/a", "registry", "empty label"),
        ("[::1/a", "registry", "must end with ']'"),
        ("[::1]x:5/a", "registry", "after the IPv6 address"),
        ("[zz::1]:5000/a", "registry", "not an IPv6 address"),
    ];
    for (input, expected_kind, fragment) in cases {
        let error = ImageRef::parse(input).expect_err(input);
        let message = error.to_string();
        assert_eq!(kind(&error), expected_kind, "{input:?}: {message}");
        assert!(
            message.contains(fragment),
            "{input:?}: {message:?} lacks {fragment:?}"
        );
    }
}

#[test]
fn hostile_input_never_panics_and_errors_stay_short() {
    let megabyte = "a".repeat(1 << 20);
    let slashes = "a/".repeat(1 << 18);
    let colons = ":".repeat(10_000);
    let ats = "@".repeat(10_000);
    let unicode = "é".repeat(100_000);
    let dots = format!("{}/x", ".".repeat(5_000));
    let nested = format!("ghcr.io/{}", "a/".repeat(200) + "b");
    let cases = [
        megabyte.as_str(),
        slashes.as_str(),
        colons.as_str(),
        ats.as_str(),
        unicode.as_str(),
        dots.as_str(),
        nested.as_str(),
        "\u{0}",
        "\u{feff}nginx",
        "💥",
        "a/b:💥",
        "a/b@sha256:💥",
        ":",
        "/",
        "@:",
        "[]/a",
        "[/a",
        "]/a",
        "::/a",
    ];
    for input in cases {
        let error = ImageRef::parse(input).expect_err(&input[..input.len().min(40)]);
        assert!(
            error.to_string().len() < 600,
            "the error for a {}-byte input is {} bytes long",
            input.len(),
            error.to_string().len()
        );
    }
}

#[test]
fn repository_identity_and_versions() {
    let nginx = ImageRef::parse("nginx").unwrap();
    let pinned = ImageRef::parse("docker.io/library/nginx:1.27").unwrap();
    let elsewhere = ImageRef::parse("ghcr.io/library/nginx").unwrap();
    assert_eq!(nginx.full_repository(), "docker.io/library/nginx");
    assert!(nginx.same_repository(&pinned));
    assert!(!nginx.same_repository(&elsewhere));

    let tagged = pinned.with_digest(SHA256).unwrap();
    assert_eq!(tagged.tag(), Some("1.27"));
    assert_eq!(tagged.digest(), Some(SHA256));
    let retagged = tagged.with_tag("1.28").unwrap();
    assert_eq!(
        retagged.to_string(),
        format!("docker.io/library/nginx:1.28@{SHA256}")
    );
    assert_eq!(retagged.without_version(), nginx);

    let error = nginx.with_tag("bad tag").unwrap_err();
    assert_eq!(kind(&error), "tag");
    let error = nginx.with_digest("sha256:nothex").unwrap_err();
    assert_eq!(kind(&error), "digest");
}

#[test]
fn familiar_form_drops_docker_hub_defaults() {
    let cases = [
        ("docker.io/library/nginx:1.27", "nginx:1.27"),
        ("nginx", "nginx"),
        ("docker.io/acme/api", "acme/api"),
        ("docker.io/library/a/b", "library/a/b"),
        ("ghcr.io/acme/api:v1", "ghcr.io/acme/api:v1"),
        ("localhost:5000/app", "localhost:5000/app"),
    ];
    for (input, familiar) in cases {
        assert_eq!(
            ImageRef::parse(input).unwrap().familiar(),
            familiar,
            "{input}"
        );
    }
}

#[test]
fn from_parts_normalises_like_parse() {
    let cases = [
        ("Index.Docker.io", "nginx", Ok("docker.io/library/nginx")),
        ("ghcr.io", "acme/api", Ok("ghcr.io/acme/api")),
        (
            "registry.cn-hangzhou.aliyuncs.com",
            "ns/app",
            Ok("registry.cn-hangzhou.aliyuncs.com/ns/app"),
        ),
        ("ghcr.io", "Acme/api", Err("upper-case")),
        ("bad host", "x", Err("registry")),
        ("ghcr.io", "a b", Err("whitespace")),
        ("ghcr.io", "", Err("repository")),
        ("", "x", Err("registry")),
        ("ghcr.io", "a:b", Err("repository")),
        // A host that image text cannot name (found by fuzzing: a distribution notification's
        // `target.url` of `https://registry/…`): `registry/acme/shop` is a Docker Hub name.
        ("registry", "acme/shop", Err("registry")),
        ("Registry", "shop", Err("registry")),
        ("registry:5000", "acme/shop", Ok("registry:5000/acme/shop")),
        ("LOCALHOST", "app", Ok("localhost/app")),
        ("[::1]", "app", Ok("[::1]/app")),
    ];
    for (registry, path, expected) in cases {
        let result = ImageRef::from_parts(registry, path);
        match (result, expected) {
            (Ok(image), Ok(canonical)) => {
                assert_eq!(image.to_string(), canonical);
                let again = ImageRef::parse(canonical).unwrap();
                assert_eq!(again, image, "{canonical} reads back as another image");
            }
            (Err(error), Err(expected_kind)) => {
                assert_eq!(
                    kind(&error),
                    expected_kind,
                    "{registry:?} {path:?}: {error}"
                );
            }
            (other, expected) => panic!("{registry:?} {path:?}: {other:?}, expected {expected:?}"),
        }
    }
}

#[test]
fn tags_and_digests_check_on_their_own() {
    assert!(check_tag("v1.2.3").is_ok());
    assert!(check_tag(&"x".repeat(128)).is_ok());
    assert!(check_tag(&"x".repeat(129)).is_err());
    assert!(check_tag("").is_err());
    assert!(check_digest(SHA256).is_ok());
    assert!(check_digest(&sha512()).is_ok());
    assert!(check_digest("sha256:6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b").is_err());
}

#[test]
fn serde_uses_the_canonical_string() {
    let image = ImageRef::parse("nginx:1.27").unwrap();
    let json = serde_json::to_string(&image).unwrap();
    assert_eq!(json, "\"docker.io/library/nginx:1.27\"");
    let back: ImageRef = serde_json::from_str(&json).unwrap();
    assert_eq!(back, image);
    let refused = serde_json::from_str::<ImageRef>("\"Foo/bar\"").unwrap_err();
    assert!(refused.to_string().contains("upper-case"), "{refused}");
}
