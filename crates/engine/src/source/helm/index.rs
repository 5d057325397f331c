//! A chart repository's `index.yaml`: which charts it holds, their versions, where each
//! version's archive is and its digest.
//!
//! Only `entries.<chart>[].{version, urls, digest}` are read; every other field (and there
//! are many: maintainers, icons, annotations) is skipped, so an index written by any tool
//! parses. The reader's budget is sized for the largest public indexes (tens of megabytes),
//! and the body was already held to the size limit before it gets here.

use std::collections::BTreeMap;

use reqwest::Url;
use serde::Deserialize;
use serde_saphyr::{Options, RenderOptions, SnippetMode, budget::Budget};

/// A parsed index.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Index {
    #[serde(default)]
    entries: Option<BTreeMap<String, Option<Vec<Entry>>>>,
}

/// One chart version in the index.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Entry {
    /// The chart version, as listed.
    pub version: String,
    /// Where its archive is: absolute, or relative to the index.
    #[serde(default)]
    pub urls: Option<Vec<String>>,
    /// The archive's sha256, in hex (some tools prefix `sha256:`).
    #[serde(default)]
    pub digest: Option<String>,
}

impl Index {
    /// Parses an index body; the error is a sentence about what is wrong.
    pub(super) fn parse(body: &[u8]) -> Result<Index, String> {
        let text = std::str::from_utf8(body).map_err(|_| "it is not UTF-8 text".to_owned())?;
        let mut options = Options::default();
        let mut budget = Budget::default();
        // A 64 MiB index of short scalars stays under these; a nesting bomb does not get deep.
        budget.max_events = 40_000_000;
        budget.max_nodes = 20_000_000;
        budget.max_depth = 32;
        options.budget = Some(budget);
        let index: Option<Index> =
            serde_saphyr::from_str_with_options(text, options).map_err(|error| {
                let mut render = RenderOptions::default();
                render.snippets = SnippetMode::Off;
                let message = error.render_with_options(render);
                message.lines().next().unwrap_or("").trim().to_owned()
            })?;
        Ok(index.unwrap_or_default())
    }

    /// The chart's entries, or `None` when the index does not list it.
    pub(super) fn chart(&self, name: &str) -> Option<&[Entry]> {
        let entries = self.entries.as_ref()?.get(name)?;
        Some(entries.as_deref().unwrap_or(&[]))
    }

    /// The names of the charts listed, in order.
    pub(super) fn charts(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .flat_map(|e| e.keys().map(String::as_str))
    }
}

impl Entry {
    /// The archive's URL: the first listed, resolved against the index URL. Only http and
    /// https are fetched; an entry pointing elsewhere (a `file:` path, say) is refused.
    pub(super) fn archive_url(&self, index_url: &Url) -> Result<Url, String> {
        let first = self
            .urls
            .as_deref()
            .and_then(|urls| urls.first())
            .ok_or_else(|| format!("version {} lists no archive URL", self.version))?;
        let url = index_url
            .join(first.trim())
            .map_err(|e| format!("version {} has an unreadable URL ({e})", self.version))?;
        match url.scheme() {
            "http" | "https" => Ok(url),
            scheme => Err(format!(
                "version {} points at a `{scheme}:` URL; only http and https archives are fetched",
                self.version
            )),
        }
    }

    /// The archive's expected sha256 as 64 lowercase hex digits, when the index gives one.
    pub(super) fn sha256(&self) -> Result<Option<String>, String> {
        let Some(digest) = self.digest.as_deref().map(str::trim) else {
            return Ok(None);
        };
        if digest.is_empty() {
            return Ok(None);
        }
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Some(hex.to_ascii_lowercase()))
        } else {
            Err(format!(
                "version {} has a digest that is not a sha256 (`{}`)",
                self.version,
                super::clip(digest, 80)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = include_str!("../../../tests/fixtures/helm/index.yaml");

    #[test]
    fn an_index_parses_with_unknown_fields() {
        let index = Index::parse(INDEX.as_bytes()).unwrap();
        let demo = index.chart("demo").unwrap();
        let versions: Vec<&str> = demo.iter().map(|e| e.version.as_str()).collect();
        assert_eq!(versions, ["1.2.0", "1.0", "0.1.0"]);
        assert_eq!(
            demo[0].sha256().unwrap().as_deref(),
            Some("5ab8e4e5f7c7e4f0f1b3f5d6f2a1c0e9d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3")
        );
        assert_eq!(index.chart("empty").unwrap().len(), 0);
        assert!(index.chart("absent").is_none());
        assert_eq!(
            index.charts().collect::<Vec<_>>(),
            ["demo", "empty", "other"]
        );
    }

    #[test]
    fn relative_urls_resolve_against_the_index() {
        let index_url = Url::parse("https://charts.example.com/stable/index.yaml").unwrap();
        let table: &[(&str, Result<&str, &str>)] = &[
            (
                "demo-1.2.0.tgz",
                Ok("https://charts.example.com/stable/demo-1.2.0.tgz"),
            ),
            (
                "charts/demo-1.2.0.tgz",
                Ok("https://charts.example.com/stable/charts/demo-1.2.0.tgz"),
            ),
            // Dot segments stay on the same server; the archive is never saved under its name.
            (
                "../../../etc/passwd",
                Ok("https://charts.example.com/etc/passwd"),
            ),
            (
                "/abs/demo.tgz",
                Ok("https://charts.example.com/abs/demo.tgz"),
            ),
            (
                "https://mirror.example.org/demo.tgz",
                Ok("https://mirror.example.org/demo.tgz"),
            ),
            ("file:///etc/passwd", Err("`file:` URL")),
            ("ftp://example.com/demo.tgz", Err("`ftp:` URL")),
            ("http://[::1", Err("unreadable URL")),
        ];
        for (listed, expected) in table {
            let entry = Entry {
                version: "1.2.0".into(),
                urls: Some(vec![(*listed).to_owned()]),
                digest: None,
            };
            match (entry.archive_url(&index_url), expected) {
                (Ok(url), Ok(expected)) => assert_eq!(url.as_str(), *expected, "{listed}"),
                (Err(error), Err(expected)) => assert!(error.contains(expected), "{error}"),
                (got, _) => panic!("{listed}: {got:?}"),
            }
        }
        let none = Entry {
            version: "1.0.0".into(),
            urls: None,
            digest: None,
        };
        assert!(
            none.archive_url(&index_url)
                .unwrap_err()
                .contains("no archive URL")
        );
    }

    #[test]
    fn digests_are_sha256_hex() {
        let hex = "AB".repeat(32);
        let table = [
            (Some(hex.clone()), Ok(Some("ab".repeat(32)))),
            (Some(format!("sha256:{hex}")), Ok(Some("ab".repeat(32)))),
            (None, Ok(None)),
            (Some(String::new()), Ok(None)),
            (Some("md5:abc".to_owned()), Err(())),
            (Some("zz".repeat(32)), Err(())),
        ];
        for (digest, expected) in table {
            let entry = Entry {
                version: "1.0.0".into(),
                urls: None,
                digest: digest.clone(),
            };
            assert_eq!(entry.sha256().map_err(|_| ()), expected, "{digest:?}");
        }
    }

    #[test]
    fn broken_indexes_are_refused_with_a_reason() {
        let table: &[&[u8]] = &[
            b"entries: [unclosed",
            b"entries:\n  demo:\n    - urls: [a.tgz]\n",
            b"entries:\n  demo: 12\n",
            b"\xff\xfe not utf-8",
            b"entries:\n  demo:\n    - version: {a: b}\n",
        ];
        for body in table {
            let error = Index::parse(body).unwrap_err();
            assert!(!error.is_empty(), "{body:?}");
        }
        // A nesting bomb stops at the depth limit instead of the stack.
        let deep = format!("entries: {}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(Index::parse(deep.as_bytes()).is_err());
        // An alias bomb stops at the alias budget.
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            bomb.push_str(&format!(
                "{}: &{} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n",
                (b'a' + i) as char,
                (b'a' + i) as char,
                p = (b'a' + i - 1) as char
            ));
        }
        assert!(Index::parse(bomb.as_bytes()).is_err());
    }

    #[test]
    fn an_empty_index_lists_nothing() {
        for body in [
            &b""[..],
            b"apiVersion: v1\n",
            b"entries: null\n",
            b"entries: {}\n",
        ] {
            let index = Index::parse(body).unwrap();
            assert!(index.chart("demo").is_none());
        }
    }
}
