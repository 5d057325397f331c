//! Triggers: secret URLs that redeploy, scale or update the image of an application.
//!
//! A [`Trigger`] belongs to an application and has a [`TriggerKind`]. Its token is 256 random
//! bits, URL-safe, shown once when made and kept in [`crate::secrets`]; the database keeps
//! only its SHA-256 ([`token_hash`]), which is what the listener looks a caller up by.
//! Optional HMAC signing ([`verify_signature`]) checks `X-Signature: sha256=<hex>` or
//! GitHub's `X-Hub-Signature-256` over the raw body, in constant time.
//!
//! An image trigger's settings depend on its application's source ([`unfit_for_source`]): on
//! a Git application it may name a branch of its own for the new images' commits, on a Helm
//! application the values keys that take the image ([`ImageValues`]); on a template or Git
//! application it may name the containers it changes. Which tags it follows is its
//! [`TagFilter`] (all, a regular expression, a list, or a [`semver`] range); whatever the
//! filter, a push that would lower a deployed version is refused unless the trigger allows
//! downgrades (see [`matching::downgrade`]).

pub mod matching;
pub mod semver;
pub mod service;

use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

use crate::error::Refused;
pub use crate::source::helm::ImageValues;

/// The most tags a tag-list image trigger may name.
pub const MAX_TAGS: usize = 100;
/// The longest regular expression an image trigger may use.
pub const MAX_PATTERN: usize = 256;
/// The compiled size limit of that expression (bytes).
pub const MAX_PATTERN_SIZE: usize = 256 * 1024;
/// The most containers an image trigger may name.
pub const MAX_CONTAINERS: usize = 64;

/// Which tags an image trigger reacts to: seed 001's three modes, and semantic-version ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum TagFilter {
    /// Every push.
    All,
    /// Tags the whole of which match a regular expression.
    Regex {
        /// The expression, matched against the entire tag.
        pattern: String,
    },
    /// Tags in a list.
    Tags {
        /// The tags (at most 100).
        tags: Vec<String>,
    },
    /// Tags that name a version within a range (see [`semver`] for how tags and ranges are
    /// read): `^1.4`, `~2.3.1`, `>=1.0 <2`, `1.x`, `*`.
    Semver {
        /// The range, as npm writes ranges.
        range: String,
        /// Pre-release tags (`2.0.0-rc.1`, and suffixes such as `1.25.3-alpine`) pass too,
        /// within the same bounds; without it they never do.
        #[serde(default)]
        prerelease: bool,
    },
}

impl TagFilter {
    /// Whether `tag` passes, and why not when it does not. A regular expression must match
    /// the whole tag. To check many tags, take a [`TagFilter::matcher`] once instead.
    pub fn admits(&self, tag: &str) -> Admission {
        self.matcher().admits(tag)
    }

    /// The filter ready to check tags, its expression compiled once.
    pub fn matcher(&self) -> TagMatcher {
        match self {
            TagFilter::All => TagMatcher::All,
            TagFilter::Tags { tags } => TagMatcher::Tags(tags.clone()),
            TagFilter::Regex { pattern } => TagMatcher::Regex {
                pattern: pattern.clone(),
                regex: compile(pattern),
            },
            TagFilter::Semver { range, prerelease } => TagMatcher::Semver {
                range: range.trim().to_owned(),
                prerelease: *prerelease,
                parsed: semver::Range::parse(range).map_err(Refused),
            },
        }
    }
}

/// A [`TagFilter`] ready to check tags: compiling an expression costs far more than
/// matching it, so the listener's token index keeps one per trigger.
#[derive(Debug, Clone)]
pub enum TagMatcher {
    /// Every tag passes.
    All,
    /// Tags in the list pass.
    Tags(Vec<String>),
    /// Tags the whole of which match.
    Regex {
        /// The expression as written.
        pattern: String,
        /// It compiled, or why it does not.
        regex: Result<regex::Regex, Refused>,
    },
    /// Tags naming a version within the range.
    Semver {
        /// The range as written.
        range: String,
        /// Whether pre-release versions pass.
        prerelease: bool,
        /// It parsed, or why it does not.
        parsed: Result<semver::Range, Refused>,
    },
}

/// Whether a tag passes a filter. A tag that does not pass is a decision, not an error: the
/// listener answers it `untriggered` with the reason, and the desktop's preview shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The tag passes.
    Admitted,
    /// It does not pass: the reason, in words ("tag v2-rc is not in the list").
    Refused(String),
    /// Nothing can pass: the filter's expression does not compile (the reason says why).
    Broken(String),
}

impl Admission {
    /// Whether the tag passes.
    pub fn admitted(&self) -> bool {
        matches!(self, Admission::Admitted)
    }

    /// Why the tag does not pass, when it does not.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Admission::Admitted => None,
            Admission::Refused(reason) | Admission::Broken(reason) => Some(reason),
        }
    }
}

impl TagMatcher {
    /// As [`TagFilter::admits`].
    pub fn admits(&self, tag: &str) -> Admission {
        match self {
            TagMatcher::All => Admission::Admitted,
            TagMatcher::Tags(tags) if tags.iter().any(|t| t == tag) => Admission::Admitted,
            // Joined, not formatted: every push of a tag the trigger does not follow says this.
            TagMatcher::Tags(_) => {
                Admission::Refused(["tag ", tag, " is not in the list"].concat())
            }
            TagMatcher::Regex { regex: Ok(re), .. } if re.is_match(tag) => Admission::Admitted,
            TagMatcher::Regex {
                pattern,
                regex: Ok(_),
            } => Admission::Refused(format!("tag {tag} does not match /{pattern}/")),
            TagMatcher::Regex { regex: Err(e), .. } => Admission::Broken(e.0.clone()),
            TagMatcher::Semver {
                range,
                prerelease,
                parsed,
            } => {
                let range_of = match parsed {
                    Ok(parsed) => parsed,
                    Err(e) => return Admission::Broken(e.0.clone()),
                };
                let Some(version) = semver::tag_version(tag) else {
                    return Admission::Refused(format!("tag {tag} is not a version"));
                };
                if !version.pre.is_empty() && !prerelease {
                    return Admission::Refused(format!(
                        "tag {tag} is a pre-release, and the trigger does not admit pre-releases"
                    ));
                }
                if range_of.contains(&version) {
                    Admission::Admitted
                } else {
                    Admission::Refused(format!("tag {tag} is outside the range {range}"))
                }
            }
        }
    }

    /// Why nothing can pass (an expression that does not compile, a range that does not
    /// parse), or `None` when the filter works.
    pub fn broken(&self) -> Option<&str> {
        match self {
            TagMatcher::Regex { regex: Err(e), .. } | TagMatcher::Semver { parsed: Err(e), .. } => {
                Some(&e.0)
            }
            _ => None,
        }
    }

    /// The highest of `tags` (a registry's tag list, say) that passes: for a semver range the
    /// highest version within it; for the other modes the highest version among the tags that
    /// pass. Tags that name no version (`latest`, `stable`) have no order and are never chosen
    /// here; `None` when no passing tag names a version. Versions are compared as
    /// [`semver::compare`] does (build metadata aside, `1.4` equal to `1.4.0`); of equal
    /// versions the first listed is chosen.
    pub fn best<'t, S: AsRef<str>>(&self, tags: &'t [S]) -> Option<&'t str> {
        let mut best: Option<(::semver::Version, &'t str)> = None;
        for tag in tags {
            let tag = tag.as_ref();
            let Some(version) = semver::tag_version(tag) else {
                continue;
            };
            let higher = best.as_ref().is_none_or(|(top, _)| {
                semver::compare(&version, top) == std::cmp::Ordering::Greater
            });
            if higher && self.admits(tag).admitted() {
                best = Some((version, tag));
            }
        }
        best.map(|(_, tag)| tag)
    }
}

/// What a trigger does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum TriggerKind {
    /// Refresh the source and deploy; a template application's call may carry a patch.
    Redeploy,
    /// Scale one workload in or out (`type=scale_out|scale_in&step=N`).
    Scale {
        /// The workload's kind (Deployment, StatefulSet, ReplicaSet).
        kind: String,
        /// Its name.
        name: String,
        /// Never fewer replicas than this.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<u32>,
        /// Never more replicas than this.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u32>,
    },
    /// Follow pushes of image repositories.
    Image {
        /// The repositories, as in the template (normalised when matched).
        repositories: Vec<String>,
        /// Which tags count.
        filter: TagFilter,
        /// Deploy `tag@digest`, the digest as the registry reads it (or, unverified, as the
        /// push names it). On unless the trigger opts out; a trigger stored before this
        /// default keeps the setting it was made with.
        #[serde(default = "pin_by_default")]
        pin_digest: bool,
        /// Git applications: write the new image to this branch instead of the tracked one.
        /// The branch is made from the tracked reference's newest commit when the server has
        /// no such branch yet, and built on its own head after that; the release deploys the
        /// commit written there, and the application keeps following its tracked reference
        /// (its next redeploy reads that again).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        branch: Option<String>,
        /// Helm applications: the values keys that take the image (none: `image.repository`
        /// and `image.tag`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        values: Option<ImageValues>,
        /// Whether a push is checked against the registry before anything is done with it.
        #[serde(default, skip_serializing_if = "Verify::is_default")]
        verify: Verify,
        /// Watch the repositories: ask the registry for new tags (and a moved tag's new
        /// digest) every this many seconds, jittered. None: only pushes the listener receives.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        watch: Option<u32>,
        /// Deploy a tag only once it has kept its digest for this many minutes; a newer push
        /// in between takes its place. None: at once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        maturing: Option<u32>,
        /// The containers it may change, by name (containers, init containers and ephemeral
        /// containers alike); none: every container that uses a followed repository. Not for
        /// Helm applications, whose images are values keys.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        containers: Vec<String>,
        /// Let a push lower a container's version. Without it, when both the tag deployed
        /// (as the template, the Git files or the Helm values hold it) and the pushed tag name
        /// versions, a lower pushed version is refused and the refusal recorded, whatever the
        /// mode.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        allow_downgrade: bool,
    },
}

fn pin_by_default() -> bool {
    true
}

/// The shortest watch interval, in seconds.
pub const MIN_WATCH_INTERVAL: u32 = 5;
/// The longest watch interval (a day), in seconds.
pub const MAX_WATCH_INTERVAL: u32 = 86_400;
/// The watch interval a trigger gets when it asks to watch without saying how often.
pub const DEFAULT_WATCH_INTERVAL: u32 = 300;
/// The longest maturing delay (a week), in minutes.
pub const MAX_MATURING: u32 = 7 * 24 * 60;

/// How an image trigger checks a push with the registry before acting on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Verify {
    /// The tag must exist and its digest is read from the registry; a push whose digest
    /// disagrees is refused. When the registry cannot be reached, the push waits and is
    /// retried within a bound, then refused with `503` and `Retry-After` (registries retry
    /// their notifications); it is never deployed unverified.
    #[default]
    Required,
    /// As [`Verify::Required`], but when the registry still cannot be reached after the
    /// retries, the push is deployed as it names itself, and the record says it was not
    /// verified. A tag the registry says does not exist, or a digest it contradicts, is
    /// still refused.
    IfReachable,
    /// The push is believed as it is (for a registry this machine cannot reach at all); the
    /// record says it was not verified.
    Off,
}

impl Verify {
    /// Whether this is the default, [`Verify::Required`].
    pub fn is_default(&self) -> bool {
        *self == Verify::Required
    }

    /// `required`, `if-reachable` or `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verify::Required => "required",
            Verify::IfReachable => "if-reachable",
            Verify::Off => "off",
        }
    }
}

impl TriggerKind {
    /// `redeploy`, `scale` or `image`.
    pub fn name(&self) -> &'static str {
        match self {
            TriggerKind::Redeploy => "redeploy",
            TriggerKind::Scale { .. } => "scale",
            TriggerKind::Image { .. } => "image",
        }
    }

    /// Checks the settings; the error says which and why.
    pub fn validate(&self) -> Result<(), Refused> {
        match self {
            TriggerKind::Redeploy => Ok(()),
            TriggerKind::Scale {
                kind,
                name,
                min,
                max,
            } => {
                if !SCALABLE_KINDS.contains(&kind.as_str()) {
                    return Err(Refused(format!(
                        "a scale trigger scales a Deployment, StatefulSet or ReplicaSet, not {kind:?}"
                    )));
                }
                if name.is_empty() {
                    return Err("a scale trigger must name its workload".into());
                }
                if let (Some(min), Some(max)) = (min, max)
                    && min > max
                {
                    return Err(Refused(format!(
                        "min replicas ({min}) is above max replicas ({max})"
                    )));
                }
                Ok(())
            }
            TriggerKind::Image {
                repositories,
                filter,
                branch,
                values,
                watch,
                maturing,
                containers,
                ..
            } => {
                if let Some(seconds) = watch
                    && !(MIN_WATCH_INTERVAL..=MAX_WATCH_INTERVAL).contains(seconds)
                {
                    return Err(Refused(format!(
                        "the watch interval is {seconds}s; it must be between \
                         {MIN_WATCH_INTERVAL}s and {MAX_WATCH_INTERVAL}s (a day)"
                    )));
                }
                if let Some(minutes) = maturing
                    && *minutes > MAX_MATURING
                {
                    return Err(Refused(format!(
                        "the maturing delay is {minutes} minutes; the longest is {MAX_MATURING} \
                         (a week)"
                    )));
                }
                if repositories.is_empty() {
                    return Err("an image trigger must name at least one image repository".into());
                }
                check_containers(containers)?;
                for repository in repositories {
                    crate::registry::ImageRef::parse(repository).map_err(|e| e.to_string())?;
                }
                if let Some(branch) = branch {
                    crate::source::writeback::check_branch(branch)
                        .map_err(|problem| Refused(format!("write-back branch: {problem}")))?;
                }
                if let Some(values) = values {
                    values
                        .validate()
                        .map_err(|problem| Refused(format!("image values: {problem}")))?;
                }
                match filter {
                    TagFilter::All => Ok(()),
                    TagFilter::Regex { pattern } => compile(pattern).map(|_| ()),
                    TagFilter::Semver { range, prerelease } => {
                        let parsed = semver::Range::parse(range).map_err(Refused)?;
                        if let Some(pre) = parsed.names_prerelease()
                            && !prerelease
                        {
                            return Err(Refused(format!(
                                "semver range `{}` names the pre-release {pre}, but the trigger \
                                 does not admit pre-releases: allow them, or name a release",
                                range.trim()
                            )));
                        }
                        Ok(())
                    }
                    TagFilter::Tags { tags } => {
                        if tags.is_empty() {
                            return Err("a tag list needs at least one tag".into());
                        }
                        if tags.len() > MAX_TAGS {
                            return Err(Refused(format!(
                                "a tag list holds at most {MAX_TAGS} tags, not {}",
                                tags.len()
                            )));
                        }
                        Ok(())
                    }
                }
            }
        }
    }
}

/// Checks the container names an image trigger may change: at most [`MAX_CONTAINERS`], each
/// once, each a DNS-1123 label as Kubernetes requires of container names.
pub fn check_containers(containers: &[String]) -> Result<(), Refused> {
    if containers.len() > MAX_CONTAINERS {
        return Err(Refused(format!(
            "an image trigger names at most {MAX_CONTAINERS} containers, not {}",
            containers.len()
        )));
    }
    for (position, name) in containers.iter().enumerate() {
        if let Err(problem) = dns_label(name) {
            return Err(Refused(format!(
                "container name {name:?} is not valid: {problem}"
            )));
        }
        if containers[..position].contains(name) {
            return Err(Refused(format!("container {name} is named twice")));
        }
    }
    Ok(())
}

/// A DNS-1123 label: 1 to 63 lower-case letters, digits and `-`, starting and ending with a
/// letter or digit.
fn dns_label(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > 63 {
        return Err("it is longer than 63 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("a container name holds only lower-case letters, digits and '-'");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("it must start and end with a letter or digit");
    }
    Ok(())
}

/// Compiles an image trigger's expression, anchored to the whole tag, with size limits.
pub fn compile(pattern: &str) -> Result<regex::Regex, Refused> {
    if pattern.is_empty() {
        return Err("the regular expression is empty".into());
    }
    if pattern.len() > MAX_PATTERN {
        return Err(Refused(format!(
            "the regular expression is {} characters long; the limit is {MAX_PATTERN}",
            pattern.len()
        )));
    }
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(MAX_PATTERN_SIZE)
        .dfa_size_limit(MAX_PATTERN_SIZE)
        .build()
        .map_err(|e| Refused(format!("invalid regular expression {pattern:?}: {e}")))
}

/// A stored trigger (the token is not part of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    /// Unique id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// The application it acts on.
    pub app: String,
    /// What it does.
    pub kind: TriggerKind,
    /// Disabled triggers answer 409 and do nothing.
    pub enabled: bool,
    /// Calls must be signed with the trigger's HMAC key.
    pub signed: bool,
    /// The token's first characters, to tell tokens apart without revealing them.
    pub token_hint: String,
    /// When it was made.
    pub created_at: String,
    /// When its token was last replaced.
    pub rotated_at: Option<String>,
}

/// A new token: `tl_` and 43 URL-safe characters (256 bits).
pub fn new_token() -> String {
    format!("tl_{}", random_url_safe())
}

/// A new HMAC key.
pub fn new_signing_key() -> String {
    format!("tls_{}", random_url_safe())
}

fn random_url_safe() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database stores for a token: its [`token_digest`] in hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(token_digest(token))
}

/// A token's SHA-256, as the listener's index keeps it.
pub type TokenDigest = [u8; 32];

/// The SHA-256 of `token` (its [`token_hash`] before it is written as hex).
pub fn token_digest(token: &str) -> TokenDigest {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// The digest a stored [`token_hash`] stands for; `None` for text that is not 64 hex digits.
pub fn digest_of_hash(hash: &str) -> Option<TokenDigest> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hash, &mut digest).ok()?;
    Some(digest)
}

/// Compares two token digests in constant time.
pub fn same_digest(a: &TokenDigest, b: &TokenDigest) -> bool {
    bool::from(a.ct_eq(b))
}

/// `tl_abcd…`: enough to recognise a token, not enough to use it.
pub fn token_hint(token: &str) -> String {
    format!("{}…", token.chars().take(7).collect::<String>())
}

/// Compares two hashes (or any two secrets) in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The keyring name of a trigger's token.
pub fn token_secret_name(trigger: &str) -> String {
    format!("trigger/{trigger}/token")
}

/// The keyring name of a trigger's HMAC key.
pub fn signing_secret_name(trigger: &str) -> String {
    format!("trigger/{trigger}/hmac")
}

/// Checks a `sha256=<hex>` signature of `body` made with `key`, in constant time.
pub fn verify_signature(key: &str, body: &[u8], header: &str) -> bool {
    let Some(digits) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    // The MAC's own check refuses any length but 32 bytes.
    let Ok(given) = hex::decode(digits) else {
        return false;
    };
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// Signs `body` as [`verify_signature`] expects (for tests and the UI's curl examples).
pub fn sign(key: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 43);
        assert!(
            a[3..]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_eq!(token_hint(&a).chars().count(), 8);
        assert!(same_secret(&token_hash(&a), &token_hash(&a)));
        assert!(!same_secret(&token_hash(&a), &token_hash(&b)));
        assert!(!same_secret("short", "longer"));
    }

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let key = new_signing_key();
        let body = br#"{"resource":{}}"#;
        let signature = sign(&key, body);
        assert!(verify_signature(&key, body, &signature));
        assert!(!verify_signature(&key, b"{}", &signature));
        assert!(!verify_signature("other", body, &signature));
        for bad in [
            "",
            "sha256=",
            "sha1=abc",
            "sha256=zz",
            &signature[..signature.len() - 1],
            &signature.to_uppercase(),
        ] {
            assert!(!verify_signature(&key, body, bad), "{bad:?}");
        }
    }

    #[test]
    fn regexes_match_whole_tags_and_are_bounded() {
        let re = compile(r"v\d+\.\d+").unwrap();
        assert!(re.is_match("v1.2"));
        assert!(!re.is_match("v1.2-rc1"), "the whole tag must match");
        assert!(!re.is_match("xv1.2"));
        assert!(
            compile("(")
                .unwrap_err()
                .0
                .contains("invalid regular expression")
        );
        assert!(
            compile(&"a".repeat(300))
                .unwrap_err()
                .0
                .contains("limit is 256")
        );
        assert!(compile("").is_err());
        // A pattern that compiles to a huge program is refused, not built.
        assert!(compile(r"(\w{50}){50}").is_err());
    }

    #[test]
    fn a_matcher_checks_tags_as_its_filter_says() {
        let list = TagFilter::Tags {
            tags: vec!["1.0".into(), "stable".into()],
        };
        let regex = TagFilter::Regex {
            pattern: r"1\.[0-9]+".into(),
        };
        let broken = TagFilter::Regex {
            pattern: "(".into(),
        };
        let cases: [(&TagFilter, &str, Result<(), &str>); 7] = [
            (&TagFilter::All, "anything", Ok(())),
            (&list, "stable", Ok(())),
            (&list, "latest", Err("not in the list")),
            (&regex, "1.25", Ok(())),
            (&regex, "1.25-rc1", Err("does not match")),
            (&regex, "x1.25", Err("does not match")),
            (&broken, "1.0", Err("invalid regular expression")),
        ];
        for (filter, tag, expected) in cases {
            // One matcher, checked twice: the compiled expression is reused.
            let matcher = filter.matcher();
            for _ in 0..2 {
                let admission = matcher.admits(tag);
                match (admission.reason(), expected) {
                    (None, Ok(())) => {}
                    (Some(got), Err(want)) => assert!(got.contains(want), "{tag}: {got}"),
                    (got, want) => panic!("{filter:?} {tag}: {got:?}, wanted {want:?}"),
                }
                let broken_filter = std::ptr::eq(filter, &broken);
                assert_eq!(
                    matches!(admission, Admission::Broken(_)),
                    broken_filter,
                    "{tag}"
                );
            }
        }
    }

    #[test]
    fn a_semver_matcher_admits_versions_in_range_and_pre_releases_only_when_asked() {
        let stable = TagFilter::Semver {
            range: "^1.4".into(),
            prerelease: false,
        }
        .matcher();
        let early = TagFilter::Semver {
            range: " ^1.4 ".into(),
            prerelease: true,
        }
        .matcher();
        let cases = [
            ("1.4.0", Ok(()), Ok(())),
            ("v1.9", Ok(()), Ok(())),
            ("1.5.0+build.3", Ok(()), Ok(())),
            ("1.5.0-rc.1", Err("is a pre-release"), Ok(())),
            (
                "2.0.0",
                Err("outside the range ^1.4"),
                Err("outside the range ^1.4"),
            ),
            (
                "2.0.0-rc.1",
                Err("is a pre-release"),
                Err("outside the range"),
            ),
            ("latest", Err("is not a version"), Err("is not a version")),
        ];
        for (tag, without, with) in cases {
            for (matcher, expected) in [(&stable, without), (&early, with)] {
                match (matcher.admits(tag).reason(), expected) {
                    (None, Ok(())) => {}
                    (Some(got), Err(want)) => assert!(got.contains(want), "{tag}: {got}"),
                    (got, want) => panic!("{tag}: {got:?}, wanted {want:?}"),
                }
            }
        }
        let broken = TagFilter::Semver {
            range: "^1.x.3".into(),
            prerelease: false,
        }
        .matcher();
        assert!(matches!(broken.admits("1.0.3"), Admission::Broken(_)));
        assert!(broken.broken().unwrap().contains("after a wildcard"));
        assert_eq!(stable.broken(), None);
    }

    #[test]
    fn the_best_tag_is_the_highest_version_that_passes() {
        let tags = [
            "latest",
            "1.3.9",
            "1.10.0-rc.1",
            "v1.9.2",
            "1.9.2",
            "1.4",
            "2.0.0",
            "1.9.2+b",
            "stable",
        ];
        let semver = |range: &str, prerelease| TagFilter::Semver {
            range: range.into(),
            prerelease,
        };
        let cases = [
            (semver("^1.4", false), Some("v1.9.2")),
            (semver("^1.4", true), Some("1.10.0-rc.1")),
            (semver("~1.4", false), Some("1.4")),
            (semver(">=3", false), None),
            (semver("^1.x.3", false), None),
            (TagFilter::All, Some("2.0.0")),
            (
                TagFilter::Regex {
                    pattern: r"1\.\d+\.\d+".into(),
                },
                Some("1.9.2"),
            ),
            (
                TagFilter::Tags {
                    tags: vec!["latest".into(), "stable".into()],
                },
                None,
            ),
            (
                TagFilter::Tags {
                    tags: vec!["1.3.9".into(), "1.4".into()],
                },
                Some("1.4"),
            ),
        ];
        for (filter, expected) in cases {
            assert_eq!(filter.matcher().best(&tags), expected, "{filter:?}");
        }
        let owned: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        assert_eq!(semver("*", false).matcher().best(&owned), Some("2.0.0"));
        assert_eq!(TagFilter::All.matcher().best::<&str>(&[]), None);
    }

    #[test]
    fn the_redeploy_curl_example_is_a_patch_that_applies() {
        let manifest = crate::template::Manifest::parse(include_str!(
            "../../tests/fixtures/templates/seed-demo.yaml"
        ))
        .unwrap();
        let target = ExampleTarget::find(&manifest).unwrap();
        assert_eq!(
            (target.kind.as_str(), target.container.as_str()),
            ("deployment", "demo")
        );
        let trigger = Trigger {
            id: 1,
            name: "demo-redeploy".into(),
            app: "demo".into(),
            kind: TriggerKind::Redeploy,
            enabled: true,
            signed: false,
            token_hint: String::new(),
            created_at: String::new(),
            rotated_at: None,
        };
        let examples = curl_examples(&trigger, "http://h/hook/trigger?token=t", Some(&target));
        let body = examples[1]
            .rsplit_once(" -d '")
            .unwrap()
            .1
            .trim_end_matches('\'');
        let patch =
            crate::patch::Patch::parse(crate::patch::PatchType::Resource, body.as_bytes(), None)
                .unwrap();
        let applied = crate::patch::apply(manifest, &patch).unwrap();
        assert!(
            applied.changed.is_empty(),
            "the example names the current image: a no-op"
        );
    }

    #[test]
    fn named_containers_must_use_a_followed_repository() {
        let manifest = crate::template::Manifest::parse(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      initContainers:\n      - {name: migrate, image: 'ghcr.io/acme/tools:2'}\n      containers:\n      - {name: web, image: 'ghcr.io/acme/tools:2'}\n      - {name: logs, image: 'ghcr.io/acme/logs:1'}\n",
        )
        .unwrap();
        let naming = |containers: &[&str]| TriggerKind::Image {
            repositories: vec!["ghcr.io/acme/tools".into()],
            filter: TagFilter::All,
            pin_digest: false,
            branch: None,
            values: None,
            containers: containers.iter().map(|c| (*c).to_owned()).collect(),
            allow_downgrade: false,
            verify: Verify::Off,
            watch: None,
            maturing: None,
        };
        assert_eq!(unfit_for_template(&naming(&[]), "web", &manifest), None);
        assert_eq!(
            unfit_for_template(&naming(&["web", "migrate"]), "web", &manifest),
            None
        );
        for name in ["logs", "sidecar"] {
            let said = unfit_for_template(&naming(&["web", name]), "web", &manifest).unwrap();
            assert_eq!(
                said,
                format!(
                    "template \"web\" has no container named {name} that uses ghcr.io/acme/tools \
                     (the containers that do: migrate, web)"
                )
            );
        }
    }

    #[test]
    fn branches_are_for_git_and_values_keys_for_helm() {
        use crate::app::Source;
        use crate::source::git::GitSource;
        use crate::source::helm::HelmSource;
        let git = |reference: &str| Source::Git {
            git: GitSource {
                url: "https://git.example/app.git".into(),
                reference: reference.into(),
                path: String::new(),
            },
            template: "web".into(),
        };
        let helm = Source::Helm {
            helm: HelmSource {
                repository: "https://charts.example".into(),
                chart: "web".into(),
                version: String::new(),
                plain_http: false,
            },
            template: "web".into(),
        };
        let template = Source::Template {
            template: "web".into(),
            pin: Default::default(),
        };
        let image = |branch: Option<&str>, values: Option<ImageValues>| TriggerKind::Image {
            repositories: vec!["nginx".into()],
            filter: TagFilter::All,
            pin_digest: false,
            branch: branch.map(str::to_owned),
            values,
            verify: Verify::Off,
            watch: None,
            maturing: None,
            containers: Vec::new(),
            allow_downgrade: false,
        };
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let keys = || Some(ImageValues::default());
        let table: [(TriggerKind, &Source, Option<&str>); 9] = [
            (image(None, None), &template, None),
            (image(Some("images"), None), &git("main"), None),
            (image(None, keys()), &helm, None),
            (
                image(Some("images"), None),
                &template,
                Some("deploy from Git"),
            ),
            (image(Some("images"), None), &helm, Some("deploy from Git")),
            (
                image(None, keys()),
                &git("main"),
                Some("deploy a Helm chart"),
            ),
            (image(None, keys()), &template, Some("deploy a Helm chart")),
            (image(None, None), &git(commit), Some("name a branch")),
            (image(Some("images"), None), &git(commit), None),
        ];
        for (kind, source, expected) in table {
            let got = unfit_for_source(&kind, "web", source);
            match (&got, expected) {
                (None, None) => {}
                (Some(said), Some(want)) => assert!(said.contains(want), "{said}"),
                _ => panic!("{kind:?} on {source:?}: {got:?}"),
            }
        }
        assert_eq!(unfit_for_source(&TriggerKind::Redeploy, "web", &helm), None);
        let named = TriggerKind::Image {
            repositories: vec!["nginx".into()],
            filter: TagFilter::All,
            pin_digest: false,
            branch: None,
            values: None,
            containers: vec!["web".into()],
            allow_downgrade: false,
            verify: Verify::Off,
            watch: None,
            maturing: None,
        };
        assert_eq!(unfit_for_source(&named, "web", &template), None);
        assert_eq!(unfit_for_source(&named, "web", &git("main")), None);
        let said = unfit_for_source(&named, "web", &helm).unwrap();
        assert!(said.contains("cannot name containers (web)"), "{said}");
    }

    #[test]
    fn kinds_validate_their_settings() {
        let scale = |kind: &str, min, max| TriggerKind::Scale {
            kind: kind.into(),
            name: "web".into(),
            min,
            max,
        };
        assert!(scale("Deployment", Some(1), Some(5)).validate().is_ok());
        assert!(
            scale("Deployment", Some(6), Some(5))
                .validate()
                .unwrap_err()
                .0
                .contains("above max")
        );
        assert!(scale("Service", None, None).validate().is_err());
        let image = |filter| TriggerKind::Image {
            repositories: vec!["nginx".into()],
            filter,
            pin_digest: false,
            branch: None,
            values: None,
            verify: Verify::Off,
            watch: None,
            maturing: None,
            containers: Vec::new(),
            allow_downgrade: false,
        };
        assert!(image(TagFilter::All).validate().is_ok());
        assert!(image(TagFilter::Tags { tags: vec![] }).validate().is_err());
        assert!(
            image(TagFilter::Tags {
                tags: vec!["x".into(); 101]
            })
            .validate()
            .unwrap_err()
            .0
            .contains("at most 100")
        );
        assert!(
            image(TagFilter::Regex {
                pattern: "[".into()
            })
            .validate()
            .is_err()
        );
        let semver = |range: &str, prerelease| {
            image(TagFilter::Semver {
                range: range.into(),
                prerelease,
            })
            .validate()
            .map_err(|e| e.0)
        };
        assert_eq!(semver(">=1.0 <2", false), Ok(()));
        assert_eq!(semver(">=2.0.0-rc.1", true), Ok(()));
        assert!(semver("", false).unwrap_err().contains("range is empty"));
        assert!(semver("1.x.3", false).unwrap_err().contains("`1.x.3`"));
        let error = semver(">=2.0.0-rc.1", false).unwrap_err();
        assert!(
            error.contains("names the pre-release 2.0.0-rc.1"),
            "{error}"
        );
        let none = TriggerKind::Image {
            repositories: vec![],
            filter: TagFilter::All,
            pin_digest: false,
            branch: None,
            values: None,
            verify: Verify::Off,
            watch: None,
            maturing: None,
            containers: Vec::new(),
            allow_downgrade: false,
        };
        assert!(none.validate().is_err());
        let with = |branch: Option<&str>, values: Option<ImageValues>| TriggerKind::Image {
            repositories: vec!["nginx".into()],
            filter: TagFilter::All,
            pin_digest: false,
            branch: branch.map(str::to_owned),
            values,
            verify: Verify::Off,
            watch: None,
            maturing: None,
            containers: Vec::new(),
            allow_downgrade: false,
        };
        assert!(with(Some("tripline/images"), None).validate().is_ok());
        let error = with(Some("a..b"), None).validate().unwrap_err().0;
        assert!(error.starts_with("write-back branch: "), "{error}");
        let keys = ImageValues::Split {
            repository: "a.repo".into(),
            tag: "a..tag".into(),
        };
        let error = with(None, Some(keys)).validate().unwrap_err().0;
        assert!(error.starts_with("image values: "), "{error}");
        let naming = |containers: Vec<String>| {
            TriggerKind::Image {
                repositories: vec!["nginx".into()],
                filter: TagFilter::All,
                pin_digest: false,
                branch: None,
                values: None,
                containers,
                allow_downgrade: true,
                verify: Verify::Off,
                watch: None,
                maturing: None,
            }
            .validate()
            .map_err(|e| e.0)
        };
        assert_eq!(naming(vec!["web".into(), "log-shipper-2".into()]), Ok(()));
        let long = "a".repeat(64);
        let many: Vec<String> = (0..65).map(|i| format!("c{i}")).collect();
        let refused: [(Vec<String>, &str); 7] = [
            (vec!["".into()], "\"\" is not valid: it is empty"),
            (vec!["Web".into()], "only lower-case letters"),
            (vec!["web_1".into()], "only lower-case letters"),
            (vec!["-web".into()], "start and end"),
            (vec![long], "longer than 63"),
            (vec!["web".into(), "web".into()], "named twice"),
            (many, "at most 64 containers"),
        ];
        for (containers, want) in refused {
            let error = naming(containers).unwrap_err();
            assert!(error.contains(want), "{error}");
        }
    }
}

/// The kinds a scale trigger can scale (they have `/scale` and `spec.replicas`).
pub const SCALABLE_KINDS: &[&str] = &["Deployment", "StatefulSet", "ReplicaSet"];

/// Why a trigger could never fire for its application's template: a scale trigger's
/// workload, or an image trigger's repository, that the template's latest version lacks.
/// `None` when it fits.
pub fn unfit_for_template(
    kind: &TriggerKind,
    template: &str,
    manifest: &crate::template::Manifest,
) -> Option<String> {
    match kind {
        TriggerKind::Scale { kind, name, .. } => {
            let found = manifest
                .documents()
                .iter()
                .any(|d| &d.id.kind == kind && &d.id.name == name);
            if found {
                return None;
            }
            let workloads: Vec<String> = manifest
                .documents()
                .iter()
                .filter(|d| SCALABLE_KINDS.contains(&d.id.kind.as_str()))
                .map(|d| format!("{}/{}", d.id.kind, d.id.name))
                .collect();
            Some(format!(
                "template {template:?} has no {kind}/{name} (it has: {})",
                if workloads.is_empty() {
                    "no scalable workloads".into()
                } else {
                    workloads.join(", ")
                }
            ))
        }
        TriggerKind::Image {
            repositories,
            containers,
            ..
        } => {
            let used = matching::repositories(manifest);
            let mut wanted = Vec::new();
            for repository in repositories {
                let parsed = match crate::registry::ImageRef::parse(repository) {
                    Ok(parsed) => parsed,
                    Err(e) => return Some(e.to_string()),
                };
                if !used.iter().any(|u| u.same_repository(&parsed)) {
                    return Some(format!(
                        "template {template:?} uses no image from {} (it uses: {})",
                        parsed.full_repository(),
                        used.iter()
                            .map(|u| u.familiar())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                wanted.push(parsed);
            }
            let using = matching::containers_using(manifest, &wanted);
            containers
                .iter()
                .find(|name| !using.contains(name))
                .map(|name| {
                    format!(
                        "template {template:?} has no container named {name} that uses {} (the \
                         containers that do: {})",
                        repositories.join(", "),
                        using.join(", ")
                    )
                })
        }
        TriggerKind::Redeploy => None,
    }
}

/// Why a trigger's settings do not fit its application's source: a write-back branch is for
/// Git applications (and needed when the application follows a commit, which cannot be
/// written to), values keys for Helm applications. `None` when they fit.
pub fn unfit_for_source(
    kind: &TriggerKind,
    app: &str,
    source: &crate::app::Source,
) -> Option<String> {
    let TriggerKind::Image {
        branch,
        values,
        containers,
        ..
    } = kind
    else {
        return None;
    };
    use crate::app::Source;
    let (from, git, helm) = match source {
        Source::Template { .. } => ("a template", false, false),
        Source::Git { .. } => ("Git", true, false),
        Source::Helm { .. } => ("a Helm chart", false, true),
    };
    if branch.is_some() && !git {
        return Some(format!(
            "{app} deploys from {from}: a write-back branch is for applications that deploy from Git"
        ));
    }
    if values.is_some() && !helm {
        return Some(format!(
            "{app} deploys from {from}: values keys are for applications that deploy a Helm chart"
        ));
    }
    if !containers.is_empty() && helm {
        return Some(format!(
            "{app} deploys a Helm chart: a trigger sets its image through values keys, not by \
             container, so it cannot name containers ({}); name the values keys instead",
            containers.join(", ")
        ));
    }
    if let Source::Git { git, .. } = source
        && branch.is_none()
        && crate::source::git::is_commit_id(git.reference.trim())
    {
        return Some(format!(
            "{app} follows commit {}, which cannot move: name a branch for the trigger to write \
             new images to",
            crate::source::short(git.reference.trim())
        ));
    }
    None
}

/// The URL a caller uses: `/hook/trigger` for redeploy and scale, `/hook/registry` for image
/// triggers.
pub fn url_with_token(trigger: &Trigger, base: &str, token: &str) -> String {
    let base = base.trim_end_matches('/');
    let path = match trigger.kind {
        TriggerKind::Image { .. } => "/hook/registry",
        _ => "/hook/trigger",
    };
    format!("{base}{path}?token={token}")
}

/// A container a redeploy example can patch: the first one of the template's first workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleTarget {
    /// The workload's kind, lower-case as in seed 000 (`deployment`).
    pub kind: String,
    /// The workload's name.
    pub name: String,
    /// The container's name.
    pub container: String,
    /// Its image, as written.
    pub image: String,
}

impl ExampleTarget {
    /// The first container of the first workload in `manifest`.
    pub fn find(manifest: &crate::template::Manifest) -> Option<Self> {
        manifest.documents().iter().find_map(|document| {
            let spec = document.value.pointer("/spec/template/spec")?;
            let container = spec.get("containers")?.as_array()?.first()?;
            Some(ExampleTarget {
                kind: document.id.kind.to_ascii_lowercase(),
                name: document.id.name.clone(),
                container: container.get("name")?.as_str()?.to_owned(),
                image: container.get("image")?.as_str()?.to_owned(),
            })
        })
    }
}

/// Ready-to-run `curl` examples in the seeds' forms, filled in from `target` when given.
pub fn curl_examples(trigger: &Trigger, url: &str, target: Option<&ExampleTarget>) -> Vec<String> {
    match &trigger.kind {
        TriggerKind::Redeploy => {
            let (kind, name, container, image) = match target {
                Some(t) => (
                    t.kind.as_str(),
                    t.name.as_str(),
                    t.container.as_str(),
                    t.image.as_str(),
                ),
                None => ("deployment", "NAME", "CONTAINER", "IMAGE:TAG"),
            };
            let body = serde_json::json!({"resource": {kind: {"metadata": {"name": name},
                "spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}}}});
            vec![
                format!("curl -X POST '{url}'"),
                format!("curl -X POST -H 'content-type: application/json' '{url}' -d '{body}'"),
            ]
        }
        TriggerKind::Scale { .. } => vec![
            format!("curl '{url}&type=scale_out&step=1'"),
            format!("curl '{url}&type=scale_in&step=1'"),
        ],
        TriggerKind::Image { repositories, .. } => {
            let image = repositories.first().map(String::as_str).unwrap_or("IMAGE");
            vec![format!(
                "curl -X POST -H 'content-type: application/json' '{url}' -d '{{\"image\":\"{image}:TAG\"}}'"
            )]
        }
    }
}
