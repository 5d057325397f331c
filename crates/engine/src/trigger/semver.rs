//! Semantic versions in image tags, and the ranges a semver image trigger follows.
//!
//! Tags are read as [`tag_version`] reads them: an optional `v`, then one to three numbers
//! (`1.4` is `1.4.0`, `1` is `1.0.0`), then an optional pre-release (`-rc.1`) and build
//! (`+build.7`). Build metadata never orders: `1.2.3+a` and `1.2.3+b` are the same version.
//! A suffix such as `-alpine` is a pre-release by the semver rules, so `1.25.3-alpine` is
//! followed only by a trigger that admits pre-releases.
//!
//! Ranges ([`Range::parse`]) are written as npm writes them, since that is what people type
//! for images: comparators separated by spaces or commas all hold (`>=1.0 <2`, `>=1.0, <2`),
//! `||` separates alternatives, and `^1.4`, `~2.3.1`, `1.x`, `1.4.*`, `*`, a bare `1.4`
//! (every 1.4.x), a bare `1.4.2` (exactly that) and spans `1.2 - 1.4` mean what they mean
//! there. A range only bounds versions; whether pre-releases pass is the trigger's choice
//! (`prerelease`), and when they do, they pass within the same bounds (`^1.4` admits
//! `1.5.0-rc.1`, never `2.0.0-rc.1`). The `semver` crate reads and orders the versions; its
//! own requirement syntax (Cargo's) is not used, as it reads a bare `1.4` as `^1.4`, takes no
//! spaces between comparators, and cannot admit pre-releases by the trigger's choice.

use std::cmp::Ordering;

use semver::{BuildMetadata, Prerelease, Version};

/// The longest range a semver image trigger may use.
pub const MAX_RANGE: usize = 256;
/// The most comparators (after `^`, `~` and `x` are spelled out) a range may hold.
pub const MAX_COMPARATORS: usize = 32;
/// The longest tag a registry takes (the distribution spec's limit); longer is no version.
pub const MAX_TAG: usize = 128;

/// The version a tag names, or `None` when it names none (`latest`, `stable`, `1.2.3.4`).
/// See the module's notes for what is read; the build metadata is kept, but
/// [`compare`] ignores it.
pub fn tag_version(tag: &str) -> Option<Version> {
    if tag.is_empty() || tag.len() > MAX_TAG {
        return None;
    }
    let text = tag.strip_prefix(['v', 'V']).unwrap_or(tag);
    let split = text.find(['-', '+']).unwrap_or(text.len());
    let (core, rest) = text.split_at(split);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 || parts.iter().any(|p| !is_number(p)) {
        return None;
    }
    let padded = format!("{core}{}{rest}", ".0".repeat(3 - parts.len()));
    Version::parse(&padded).ok()
}

/// Orders two versions as semver does, build metadata aside.
pub fn compare(a: &Version, b: &Version) -> Ordering {
    (a.major, a.minor, a.patch, &a.pre).cmp(&(b.major, b.minor, b.patch, &b.pre))
}

/// Whether `pushed` would lower a container now on `deployed`: `Some(true)` when both tags
/// name versions and the pushed one is lower, `Some(false)` when it is not lower, `None` when
/// either names no version (nothing to compare, so no guard).
pub fn is_lower(pushed: &str, deployed: &str) -> Option<bool> {
    let pushed = tag_version(pushed)?;
    let deployed = tag_version(deployed)?;
    Some(compare(&pushed, &deployed) == Ordering::Less)
}

/// A number as semver writes one: digits, no leading zero, and small enough to hold.
fn is_number(part: &str) -> bool {
    !part.is_empty()
        && part.bytes().all(|b| b.is_ascii_digit())
        && (part == "0" || !part.starts_with('0'))
        && part.parse::<u64>().is_ok()
}

/// A parsed semver range: alternatives, each a set of bounds that must all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    alternatives: Vec<Vec<Bound>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Greater,
    GreaterEq,
    Less,
    LessEq,
    Exact,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Bound {
    op: Op,
    version: Version,
}

impl Bound {
    fn holds(&self, version: &Version) -> bool {
        let order = compare(version, &self.version);
        match self.op {
            Op::Greater => order == Ordering::Greater,
            Op::GreaterEq => order != Ordering::Less,
            Op::Less => order == Ordering::Less,
            Op::LessEq => order != Ordering::Greater,
            Op::Exact => order == Ordering::Equal,
        }
    }
}

/// A version as a range writes it: numbers, or `x`/`X`/`*` from some place on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: Prerelease,
}

impl Partial {
    /// The lowest version it covers (`1.4` → `1.4.0`, `*` → `0.0.0`).
    fn floor(&self) -> Version {
        let mut version = Version::new(
            self.major.unwrap_or(0),
            self.minor.unwrap_or(0),
            self.patch.unwrap_or(0),
        );
        version.pre = self.pre.clone();
        version
    }

    fn is_full(&self) -> bool {
        self.patch.is_some()
    }
}

/// The lowest pre-release of a version (`2.0.0-0`): an exclusive upper bound below every
/// pre-release of it, so `<2` admits no `2.0.0-rc.1`.
fn below(major: u64, minor: u64, patch: u64) -> Version {
    Version {
        major,
        minor,
        patch,
        pre: Prerelease::new("0").expect("0 is a pre-release"),
        build: BuildMetadata::EMPTY,
    }
}

fn next(number: u64, range: &str) -> Result<u64, String> {
    number
        .checked_add(1)
        .ok_or_else(|| format!("semver range `{range}`: {number} is too large a version number"))
}

impl Range {
    /// Reads a range; the error names what is wrong and shows what is accepted.
    pub fn parse(text: &str) -> Result<Range, String> {
        let range = text.trim();
        if range.is_empty() {
            return Err(
                "the semver range is empty; write one such as ^1.4, ~2.3.1, >=1.0 <2 \
                        or * for every version"
                    .into(),
            );
        }
        if text.len() > MAX_RANGE {
            return Err(format!(
                "the semver range is {} characters long; the limit is {MAX_RANGE}",
                text.len()
            ));
        }
        if let Some(c) = range
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || " \t.,-+*<>=^~|".contains(*c)))
        {
            return Err(format!(
                "semver range `{range}` holds {c:?}, which no range uses; write one such as \
                 ^1.4, ~2.3.1 or >=1.0 <2"
            ));
        }
        let mut alternatives = Vec::new();
        let mut count = 0;
        for alternative in range.split("||") {
            let bounds = parse_alternative(alternative.trim(), range)?;
            count += bounds.len().max(1);
            if count > MAX_COMPARATORS {
                return Err(format!(
                    "semver range `{range}` holds more than {MAX_COMPARATORS} comparators"
                ));
            }
            alternatives.push(bounds);
        }
        Ok(Range { alternatives })
    }

    /// Whether `version` lies within the range (its pre-release, if any, is ordered as semver
    /// orders it; whether pre-releases are wanted at all is the caller's choice).
    pub fn contains(&self, version: &Version) -> bool {
        self.alternatives
            .iter()
            .any(|bounds| bounds.iter().all(|bound| bound.holds(version)))
    }

    /// The first pre-release the range names (`>=2.0.0-rc.1`), if any.
    pub fn names_prerelease(&self) -> Option<&Version> {
        self.alternatives
            .iter()
            .flatten()
            .map(|bound| &bound.version)
            .find(|version| !version.pre.is_empty() && version.pre.as_str() != "0")
    }
}

/// One alternative: comparators separated by spaces or commas, or a span `a - b`.
fn parse_alternative(alternative: &str, range: &str) -> Result<Vec<Bound>, String> {
    if alternative.is_empty() {
        return Err(format!(
            "semver range `{range}` has an empty alternative (around `||`)"
        ));
    }
    if let Some((low, high)) = alternative.split_once(" - ") {
        let low = partial(low.trim(), range)?;
        let high = partial(high.trim(), range)?;
        let mut bounds = Vec::new();
        if low.major.is_some() {
            bounds.push(Bound {
                op: Op::GreaterEq,
                version: low.floor(),
            });
        }
        bounds.extend(at_most(&high, range)?);
        return Ok(bounds);
    }
    // An operator may stand apart from its version (`>= 1.0`): join them first.
    let mut comparators: Vec<String> = Vec::new();
    let mut pending = String::new();
    for token in alternative
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
    {
        pending.push_str(token);
        if token.chars().all(|c| "<>=^~".contains(c)) {
            continue;
        }
        comparators.push(std::mem::take(&mut pending));
    }
    if !pending.is_empty() {
        return Err(format!(
            "semver range `{range}` ends with `{pending}`, an operator without a version"
        ));
    }
    let mut bounds = Vec::new();
    for comparator in comparators {
        bounds.extend(parse_comparator(&comparator, range)?);
    }
    Ok(bounds)
}

fn parse_comparator(comparator: &str, range: &str) -> Result<Vec<Bound>, String> {
    let split = comparator
        .find(|c: char| !"<>=^~".contains(c))
        .unwrap_or(comparator.len());
    let (op, version) = comparator.split_at(split);
    let p = partial(version, range)?;
    let bound = |op, version| vec![Bound { op, version }];
    let floor = p.floor();
    Ok(match op {
        "" | "=" => match (p.major, p.minor, p.patch) {
            (None, _, _) => Vec::new(),
            (Some(_), Some(_), Some(_)) => bound(Op::Exact, floor),
            (Some(major), None, _) => vec![
                Bound {
                    op: Op::GreaterEq,
                    version: floor,
                },
                Bound {
                    op: Op::Less,
                    version: below(next(major, range)?, 0, 0),
                },
            ],
            (Some(major), Some(minor), None) => vec![
                Bound {
                    op: Op::GreaterEq,
                    version: floor,
                },
                Bound {
                    op: Op::Less,
                    version: below(major, next(minor, range)?, 0),
                },
            ],
        },
        ">=" => match p.major {
            None => Vec::new(),
            Some(_) => bound(Op::GreaterEq, floor),
        },
        ">" => match (p.major, p.minor, p.patch) {
            (None, _, _) => {
                return Err(format!(
                    "semver range `{range}`: `{comparator}` admits no version"
                ));
            }
            (Some(major), None, _) => bound(Op::GreaterEq, Version::new(next(major, range)?, 0, 0)),
            (Some(major), Some(minor), None) => {
                bound(Op::GreaterEq, Version::new(major, next(minor, range)?, 0))
            }
            _ => bound(Op::Greater, floor),
        },
        "<" => match p.major {
            None => {
                return Err(format!(
                    "semver range `{range}`: `{comparator}` admits no version"
                ));
            }
            Some(_) if p.is_full() => bound(Op::Less, floor),
            Some(major) => bound(Op::Less, below(major, p.minor.unwrap_or(0), 0)),
        },
        "<=" => at_most(&p, range)?,
        "~" | "~>" => match (p.major, p.minor) {
            (None, _) => Vec::new(),
            (Some(major), None) => vec![
                Bound {
                    op: Op::GreaterEq,
                    version: floor,
                },
                Bound {
                    op: Op::Less,
                    version: below(next(major, range)?, 0, 0),
                },
            ],
            (Some(major), Some(minor)) => vec![
                Bound {
                    op: Op::GreaterEq,
                    version: floor,
                },
                Bound {
                    op: Op::Less,
                    version: below(major, next(minor, range)?, 0),
                },
            ],
        },
        "^" => match (p.major, p.minor, p.patch) {
            (None, _, _) => Vec::new(),
            (Some(major), minor, patch) => {
                let upper = if major > 0 || minor.is_none() {
                    below(next(major, range)?, 0, 0)
                } else if minor.unwrap_or(0) > 0 || patch.is_none() {
                    below(0, next(minor.unwrap_or(0), range)?, 0)
                } else {
                    below(0, 0, next(patch.unwrap_or(0), range)?)
                };
                vec![
                    Bound {
                        op: Op::GreaterEq,
                        version: floor,
                    },
                    Bound {
                        op: Op::Less,
                        version: upper,
                    },
                ]
            }
        },
        other => {
            return Err(format!(
                "semver range `{range}`: `{other}` is not an operator; use =, >, >=, <, <=, ~ \
                 or ^"
            ));
        }
    })
}

/// `<= p`: up to and with every version `p` covers (`<=1.4` admits 1.4.9, not 1.5.0-rc.1).
fn at_most(p: &Partial, range: &str) -> Result<Vec<Bound>, String> {
    Ok(match (p.major, p.minor, p.patch) {
        (None, _, _) => Vec::new(),
        (Some(major), None, _) => vec![Bound {
            op: Op::Less,
            version: below(next(major, range)?, 0, 0),
        }],
        (Some(major), Some(minor), None) => vec![Bound {
            op: Op::Less,
            version: below(major, next(minor, range)?, 0),
        }],
        _ => vec![Bound {
            op: Op::LessEq,
            version: p.floor(),
        }],
    })
}

/// A version as a range writes it: `v` allowed, `x`/`X`/`*` for any number from some place
/// on, a pre-release only after a full version, build metadata read and ignored.
fn partial(text: &str, range: &str) -> Result<Partial, String> {
    let refuse = |why: &str| {
        Err(format!(
            "semver range `{range}`: `{text}` is not a version ({why}); write one such as \
             1.4.2, 1.4, 1.x or *"
        ))
    };
    if text.is_empty() {
        return refuse("it is empty");
    }
    let text = match text.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => text,
    };
    let (text, _build) = text.split_once('+').unwrap_or((text, ""));
    let (core, pre) = match text.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (text, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return refuse("more than three numbers");
    }
    let mut numbers: [Option<u64>; 3] = [None; 3];
    let mut wild = false;
    for (place, part) in parts.iter().enumerate() {
        if matches!(*part, "x" | "X" | "*") {
            wild = true;
            continue;
        }
        if wild {
            return refuse("a number after a wildcard");
        }
        if !is_number(part) {
            return refuse(if part.is_empty() {
                "an empty number"
            } else if part.bytes().all(|b| b.is_ascii_digit()) {
                "a number with a leading zero, or too large"
            } else {
                "a part that is not a number"
            });
        }
        numbers[place] = part.parse().ok();
    }
    let pre = match pre {
        None => Prerelease::EMPTY,
        Some(_) if numbers[2].is_none() => return refuse("a pre-release needs all three numbers"),
        Some(pre) => match Prerelease::new(pre) {
            Ok(pre) if !pre.is_empty() => pre,
            _ => return refuse("its pre-release is malformed"),
        },
    };
    Ok(Partial {
        major: numbers[0],
        minor: numbers[1],
        patch: numbers[2],
        pre,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_read_with_or_without_v_and_partly() {
        let cases = [
            ("1.4.2", Some("1.4.2")),
            ("v1.4.2", Some("1.4.2")),
            ("V2", Some("2.0.0")),
            ("1.4", Some("1.4.0")),
            ("1.25.3-alpine", Some("1.25.3-alpine")),
            ("1.4-rc.1", Some("1.4.0-rc.1")),
            ("1.2.3+build.7", Some("1.2.3+build.7")),
            ("latest", None),
            ("", None),
            ("v", None),
            ("1.2.3.4", None),
            ("01.2.3", None),
            ("1..2", None),
            ("1.2.", None),
            ("99999999999999999999.0.0", None),
            ("1.2.3-", None),
            ("sha256:abcd", None),
        ];
        for (tag, expected) in cases {
            assert_eq!(
                tag_version(tag).map(|v| v.to_string()),
                expected.map(str::to_owned),
                "{tag}"
            );
        }
        assert_eq!(tag_version(&format!("1.2.3-{}", "a".repeat(200))), None);
    }

    #[test]
    fn build_metadata_does_not_order_and_pre_releases_come_first() {
        let v = |t| tag_version(t).unwrap();
        assert_eq!(compare(&v("1.2.3+a"), &v("1.2.3+b")), Ordering::Equal);
        assert_eq!(compare(&v("1.2.3-rc.1"), &v("1.2.3")), Ordering::Less);
        assert_eq!(compare(&v("1.4"), &v("v1.4.0")), Ordering::Equal);
        assert_eq!(compare(&v("1.10.0"), &v("1.9.9")), Ordering::Greater);
        assert_eq!(is_lower("3.0.0", "7.9.1"), Some(true));
        assert_eq!(is_lower("7.9.1+x", "7.9.1"), Some(false));
        assert_eq!(is_lower("8", "7.9.1"), Some(false));
        assert_eq!(is_lower("latest", "7.9.1"), None);
        assert_eq!(is_lower("3.0.0", "stable"), None);
    }

    #[test]
    fn ranges_admit_what_npm_would() {
        // (range, admitted, refused); pre-release tags here are within the bounds or not,
        // the trigger's own choice about pre-releases aside.
        let table: &[(&str, &[&str], &[&str])] = &[
            (
                "^1.4",
                &["1.4.0", "1.4", "v1.9.3", "1.5.0-rc.1"],
                &["1.3.9", "2.0.0", "2.0.0-rc.1", "1.4.0-rc.1"],
            ),
            ("^0.4.2", &["0.4.2", "0.4.9"], &["0.5.0", "0.4.1"]),
            ("^0.0.2", &["0.0.2"], &["0.0.3", "0.0.1"]),
            ("^0", &["0.0.0", "0.9.9"], &["1.0.0"]),
            (
                "~2.3.1",
                &["2.3.1", "2.3.99"],
                &["2.4.0", "2.3.0", "2.4.0-rc.1"],
            ),
            ("~2", &["2.0.0", "2.9.0"], &["3.0.0"]),
            (
                ">=1.0 <2",
                &["1.0.0", "1.99.0"],
                &["0.9.0", "2.0.0", "2.0.0-alpha"],
            ),
            (">=1.0, <2", &["1.0.0", "1.99.0"], &["2.0.0"]),
            (">= 1.0 , < 2", &["1.5.0"], &["2.1.0"]),
            ("1.x", &["1.0.0", "1.99.1"], &["2.0.0", "0.9.0"]),
            ("1.4.*", &["1.4.0", "1.4.7"], &["1.5.0"]),
            ("1.4", &["1.4.0", "1.4.7"], &["1.5.0", "1.3.0"]),
            ("1.4.2", &["1.4.2", "v1.4.2+b"], &["1.4.3"]),
            ("=1.4.2", &["1.4.2"], &["1.4.3"]),
            ("*", &["0.0.1", "99.0.0"], &[]),
            ("x", &["3.0.0"], &[]),
            (">1.4", &["1.5.0"], &["1.4.9"]),
            (">1.4.2", &["1.4.3"], &["1.4.2"]),
            ("<1.4", &["1.3.9"], &["1.4.0", "1.4.0-rc.1"]),
            ("<=1.4", &["1.4.9"], &["1.5.0", "1.5.0-rc.1"]),
            ("<=1.4.2", &["1.4.2"], &["1.4.3"]),
            ("1.2 - 1.4", &["1.2.0", "1.4.9"], &["1.1.9", "1.5.0"]),
            ("1.2.3 - 1.4.0", &["1.4.0"], &["1.4.1"]),
            ("^1.0 || ^3.0", &["1.2.0", "3.1.0"], &["2.0.0"]),
            (
                ">=2.0.0-rc.1 <3",
                &["2.0.0-rc.2", "2.0.0"],
                &["2.0.0-beta.1"],
            ),
            ("v1.x", &["1.2.0"], &["2.0.0"]),
        ];
        for (text, admitted, refused) in table {
            let range = Range::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            for tag in *admitted {
                assert!(
                    range.contains(&tag_version(tag).unwrap()),
                    "{text} should admit {tag}"
                );
            }
            for tag in *refused {
                assert!(
                    !range.contains(&tag_version(tag).unwrap()),
                    "{text} should refuse {tag}"
                );
            }
        }
    }

    #[test]
    fn malformed_and_hostile_ranges_are_refused_with_the_problem() {
        let long = "1".repeat(300);
        let many = vec![">=1"; 40].join(" ");
        let huge = format!("^{}", u64::MAX);
        let cases: Vec<(&str, &str)> = vec![
            ("", "is empty"),
            ("   ", "is empty"),
            (&long, "limit is 256"),
            (&many, "more than 32 comparators"),
            ("^1.4 ||", "empty alternative"),
            (">=", "operator without a version"),
            ("1.2.3.4", "more than three numbers"),
            ("1.x.3", "a number after a wildcard"),
            ("01.2", "leading zero"),
            ("1..2", "an empty number"),
            ("1.4-rc.1", "needs all three numbers"),
            ("1.2.3-", "pre-release is malformed"),
            ("latest", "not a number"),
            ("=>1.0", "not an operator"),
            (">*", "admits no version"),
            ("<x", "admits no version"),
            ("^1.4; rm -rf /", "holds ';'"),
            ("1.0\u{0}", "holds '\\0'"),
            (&huge, "too large"),
            ("99999999999999999999", "too large"),
        ];
        for (text, want) in cases {
            let error = Range::parse(text).expect_err(text);
            assert!(error.contains(want), "{text:?}: {error}");
        }
    }

    #[test]
    fn a_range_says_when_it_names_a_pre_release() {
        assert!(Range::parse("^1.4").unwrap().names_prerelease().is_none());
        assert!(Range::parse("<2").unwrap().names_prerelease().is_none());
        assert_eq!(
            Range::parse(">=2.0.0-rc.1")
                .unwrap()
                .names_prerelease()
                .map(|v| v.to_string()),
            Some("2.0.0-rc.1".into())
        );
    }
}
