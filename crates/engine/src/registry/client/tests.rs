use super::*;

#[test]
fn references_name_a_registry_and_a_repository() {
    let table = [
        (
            "nginx:1.27",
            "https://registry-1.docker.io/",
            "library/nginx",
        ),
        (
            "docker.io/acme/api",
            "https://registry-1.docker.io/",
            "acme/api",
        ),
        ("ghcr.io/o/r:tag", "https://ghcr.io/", "o/r"),
        (
            "127.0.0.1:5000/demo/app:1",
            "http://127.0.0.1:5000/",
            "demo/app",
        ),
        ("localhost:5000/app", "http://localhost:5000/", "app"),
        (
            "registry.internal:5000/app",
            "https://registry.internal:5000/",
            "app",
        ),
    ];
    for (reference, base, name) in table {
        let repository = Repository::parse(reference).unwrap();
        assert_eq!(repository.base().as_str(), base, "{reference}");
        assert_eq!(repository.name(), name, "{reference}");
    }
    let repository = Repository::parse("registry.internal:5000/app")
        .unwrap()
        .plain_http();
    assert_eq!(repository.base().as_str(), "http://registry.internal:5000/");
    assert_eq!(repository.host(), "registry.internal:5000");
    assert!(matches!(
        Repository::parse("Bad Name"),
        Err(Error::Reference { .. })
    ));
}

#[test]
fn next_pages_stay_in_the_registry() {
    let base = Url::parse("http://127.0.0.1:5000/").unwrap();
    let page = base.join("v2/demo/app/tags/list?n=100").unwrap();
    let next = |links: &[&str]| {
        let mut headers = HeaderMap::new();
        for link in links {
            headers.append(header::LINK, HeaderValue::from_str(link).unwrap());
        }
        next_page(&headers, &page, &base).map(|url| url.map(String::from))
    };
    assert_eq!(next(&[]), Ok(None));
    assert_eq!(
        next(&[r#"</v2/demo/app/tags/list?last=b&n=100>; rel="next""#]),
        Ok(Some(
            "http://127.0.0.1:5000/v2/demo/app/tags/list?last=b&n=100".into()
        ))
    );
    assert_eq!(
        next(&[
            r#"</v2/x/tags/list?last=a>; rel="prev", </v2/x/tags/list?last=b>; rel="first next""#
        ]),
        Ok(Some("http://127.0.0.1:5000/v2/x/tags/list?last=b".into()))
    );
    for hostile in [
        r#"<http://evil.example/v2/x/tags/list>; rel="next""#,
        r#"<https://127.0.0.1:5000/v2/x/tags/list>; rel="next""#,
        r#"<http://127.0.0.1:5001/v2/x/tags/list>; rel="next""#,
        r#"</token?scope=x>; rel="next""#,
        r#"<//evil.example/v2/x>; rel="next""#,
    ] {
        let error = next(&[hostile]).unwrap_err();
        assert!(error.contains("outside the registry"), "{hostile}: {error}");
    }
    assert_eq!(next(&["garbage", "<unterminated; rel=next"]), Ok(None));
}

#[test]
fn clipped_text_ends_with_an_ellipsis() {
    assert_eq!(clip("abcdef", 3), "abc…");
    assert_eq!(clip("abc", 3), "abc");
}
