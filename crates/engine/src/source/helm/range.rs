//! Which chart version a source asks for: an exact version, or a range resolved to the newest
//! listed version it matches.
//!
//! Ranges use Cargo's comparators (`^1.2`, `~1.2.3`, `>=1.0, <2`, `1.2.*`), plus what Helm
//! users write: `||` between alternatives, `1.2 - 1.4` for an inclusive span, a leading `v`,
//! and a bare version meaning exactly that version (`1.2.3`) or that minor line (`1.2`). A
//! pre-release matches only a range that names a pre-release of the same version, so `^1.2`
//! never picks `1.3.0-rc.1`. Chart versions are read leniently, as Helm reads them: `v1.2`
//! is `1.2.0`.

use semver::{Version, VersionReq};

/// A parsed `version` field of a Helm source.
#[derive(Debug, Clone)]
pub(super) enum Wanted {
    /// The newest stable version (an empty field, `*` or `latest`).
    Newest,
    /// Exactly this version.
    Exact(Version),
    /// The newest version matching any of these requirements.
    Range(Vec<VersionReq>),
}

impl Wanted {
    /// Reads a version field; the error says what is wrong and what is accepted.
    pub(super) fn parse(text: &str) -> Result<Wanted, String> {
        let text = text.trim();
        if text.is_empty() || text == "*" || text.eq_ignore_ascii_case("latest") {
            return Ok(Wanted::Newest);
        }
        if let Some(version) = strict_version(text) {
            return Ok(Wanted::Exact(version));
        }
        let mut alternatives = Vec::new();
        for alternative in text.split("||") {
            let requirement = cargo_syntax(alternative.trim())
                .and_then(|cargo| VersionReq::parse(&cargo).map_err(|e| e.to_string()))
                .map_err(|reason| {
                    format!(
                        "version `{text}` is neither a version nor a range ({reason}); write an \
                         exact version such as 1.2.3 or a range such as ^1.2, ~1.2.3 or >=1.0, <2"
                    )
                })?;
            alternatives.push(requirement);
        }
        Ok(Wanted::Range(alternatives))
    }

    /// Whether `version` (a chart version as listed) is wanted.
    pub(super) fn matches(&self, version: &Version) -> bool {
        match self {
            Wanted::Newest => version.pre.is_empty(),
            Wanted::Exact(exact) => exact == version,
            Wanted::Range(alternatives) => alternatives.iter().any(|r| r.matches(version)),
        }
    }

    /// The newest of `listed` that is wanted.
    pub(super) fn pick<'a>(&self, listed: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
        listed
            .into_iter()
            .filter_map(|text| lenient_version(text).map(|v| (v, text)))
            .filter(|(version, _)| self.matches(version))
            .max_by(|(a, _), (b, _)| a.cmp(b))
            .map(|(_, text)| text)
    }
}

/// A full `x.y.z` version, with an optional `v`, pre-release and build.
fn strict_version(text: &str) -> Option<Version> {
    Version::parse(text.strip_prefix(['v', 'V']).unwrap_or(text)).ok()
}

/// A listed chart version as Helm reads it: `v` allowed, a missing minor or patch is zero.
pub(super) fn lenient_version(text: &str) -> Option<Version> {
    let text = text.trim();
    let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
    if let Ok(version) = Version::parse(text) {
        return Some(version);
    }
    let split = text.find(['-', '+']).unwrap_or(text.len());
    let (core, rest) = text.split_at(split);
    let parts = core.split('.').count();
    if parts == 0 || parts > 2 || core.split('.').any(|p| p.parse::<u64>().is_err()) {
        return None;
    }
    let padded = format!("{core}{}{rest}", ".0".repeat(3 - parts));
    Version::parse(&padded).ok()
}

/// Rewrites one alternative into Cargo's syntax: a span `a - b` becomes `>=a, <=b`; a bare
/// version becomes `=x.y.z` or `~x.y`; a `v` before a version is dropped.
fn cargo_syntax(alternative: &str) -> Result<String, String> {
    if alternative.is_empty() {
        return Err("an alternative is empty".into());
    }
    if let Some((low, high)) = alternative.split_once(" - ") {
        return Ok(format!(
            ">={}, <={}",
            strip_v(low.trim()),
            strip_v(high.trim())
        ));
    }
    let comparators: Vec<String> = alternative
        .split(',')
        .map(|comparator| {
            let comparator = comparator.trim();
            let operator_end = comparator
                .find(|c: char| !matches!(c, '=' | '<' | '>' | '~' | '^' | ' '))
                .unwrap_or(comparator.len());
            let (operator, version) = comparator.split_at(operator_end);
            let version = strip_v(version);
            let bare = operator.trim().is_empty()
                && !version.contains(['*', 'x', 'X'])
                && version.starts_with(|c: char| c.is_ascii_digit());
            if bare {
                match version
                    .split(['-', '+'])
                    .next()
                    .unwrap_or("")
                    .split('.')
                    .count()
                {
                    3 => format!("={version}"),
                    2 => format!("~{version}"),
                    _ => version.to_owned(),
                }
            } else {
                format!("{}{version}", operator.trim())
            }
        })
        .collect();
    Ok(comparators.join(", "))
}

fn strip_v(version: &str) -> &str {
    match version.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => version,
    }
}

/// `versions` newest first by version order; those that are not versions at all go last, as
/// listed.
pub(super) fn newest_first(versions: &mut [String]) {
    versions.sort_by(|a, b| match (lenient_version(a), lenient_version(b)) {
        (Some(a), Some(b)) => b.cmp(&a),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTED: &[&str] = &[
        "0.9.0",
        "1.0.0",
        "1.2.0",
        "1.2.3",
        "1.2.9",
        "1.3.0-rc.1",
        "1.3.0",
        "1.10.0",
        "2.0.0-beta.1",
        "2.0.0",
        "v2.1",
        "not-a-version",
    ];

    fn pick(wanted: &str) -> Option<&'static str> {
        Wanted::parse(wanted).unwrap().pick(LISTED.iter().copied())
    }

    #[test]
    fn ranges_resolve_to_the_newest_match() {
        let table: &[(&str, Option<&str>)] = &[
            ("", Some("v2.1")),
            ("latest", Some("v2.1")),
            ("*", Some("v2.1")),
            ("1.2.3", Some("1.2.3")),
            ("v1.2.3", Some("1.2.3")),
            ("1.2.4", None),
            ("^1.2", Some("1.10.0")),
            ("~1.2.3", Some("1.2.9")),
            ("~1.2", Some("1.2.9")),
            ("1.2", Some("1.2.9")),
            ("1.2.x", Some("1.2.9")),
            ("1.*", Some("1.10.0")),
            (">=1.0, <2", Some("1.10.0")),
            (">=1.0.0, <2.0.0", Some("1.10.0")),
            ("<1", Some("0.9.0")),
            ("1.0 - 1.2.3", Some("1.2.3")),
            ("^0.9 || ~1.2", Some("1.2.9")),
            (">=3", None),
            ("2.1.0", Some("v2.1")),
            // Pre-releases only when the range names one.
            ("~1.3.0-rc.0", Some("1.3.0")),
            (">=1.3.0-rc.0, <1.3.0", Some("1.3.0-rc.1")),
            ("1.3.0-rc.1", Some("1.3.0-rc.1")),
            (">=2.0.0-beta.0, <2.0.0", Some("2.0.0-beta.1")),
            ("^2.0.0-alpha", Some("v2.1")),
        ];
        for (wanted, expected) in table {
            assert_eq!(pick(wanted), *expected, "range `{wanted}`");
        }
    }

    #[test]
    fn bad_ranges_say_what_is_accepted() {
        for bad in [
            "^^1",
            "1.2.3.4.5",
            ">=",
            "banana",
            "1.0 ||",
            "~>1.2",
            ">=1.0 <2",
        ] {
            let error = Wanted::parse(bad).unwrap_err();
            assert!(error.contains(&format!("`{bad}`")), "{bad}: {error}");
            assert!(error.contains("such as ^1.2"), "{bad}: {error}");
        }
    }

    #[test]
    fn chart_versions_are_read_as_helm_reads_them() {
        let table = [
            ("1.2.3", Some("1.2.3")),
            ("v1.2.3", Some("1.2.3")),
            ("1.2", Some("1.2.0")),
            ("1", Some("1.0.0")),
            ("1.2-rc.1", Some("1.2.0-rc.1")),
            ("1.2.3+build.5", Some("1.2.3+build.5")),
            ("1.x", None),
            ("", None),
            ("latest", None),
        ];
        for (text, expected) in table {
            assert_eq!(
                lenient_version(text).map(|v| v.to_string()),
                expected.map(str::to_owned),
                "{text}"
            );
        }
    }

    #[test]
    fn newest_first_sorts_by_version_not_text() {
        let mut versions: Vec<String> = ["1.9.0", "junk", "1.10.0", "v2", "1.10.0-rc.1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        newest_first(&mut versions);
        assert_eq!(versions, ["v2", "1.10.0", "1.10.0-rc.1", "1.9.0", "junk"]);
    }
}
