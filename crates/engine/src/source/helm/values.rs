//! Setting an image in a chart's values, for image triggers.
//!
//! A trigger on a Helm application does not patch rendered manifests (the next render would
//! undo it); it sets the chart's image values and renders again. The keys are the trigger's
//! ([`ImageValues`]): `image.repository` and `image.tag` as `helm create` makes them, or keys
//! of the chart's own, or one key for the whole reference (`repository:tag`). Keys are dotted
//! paths, a dot inside a key written `\.` as `helm --set` does.
//!
//! The values text is edited in place (see `edit`): only the scalars set change, and every
//! comment, blank line and key order stays. Each edit is checked by reading the text back:
//! should it differ from the values with only those keys set (a key under an anchor that
//! other keys share, say), the values are written out again from what was read, which keeps
//! the values right and loses the comments, and a warning says so.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_saphyr::{Options, budget::Budget};

use super::SourceError;
use super::edit;
use crate::error::Code;

/// The values key a chart created by `helm create` reads its image repository from.
pub const DEFAULT_REPOSITORY_KEY: &str = "image.repository";
/// The values key a chart created by `helm create` reads its image tag from.
pub const DEFAULT_TAG_KEY: &str = "image.tag";
/// The longest values key a trigger may name.
pub const MAX_KEY_LENGTH: usize = 256;
/// The most segments a values key may have.
pub const MAX_KEY_SEGMENTS: usize = 32;
/// The longest value a trigger writes (an image reference is far shorter).
pub const MAX_VALUE_LENGTH: usize = 4096;

/// Where a Helm application's values take a pushed image: the keys an image trigger names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "form", rename_all = "kebab-case")]
pub enum ImageValues {
    /// The repository and the tag under a key each (`image.repository`, `image.tag`). A pushed
    /// digest goes with the tag (`v2@sha256:…`).
    Split {
        /// The repository's key.
        repository: String,
        /// The tag's key.
        tag: String,
    },
    /// The whole reference (`repository:tag`, `repository@sha256:…`) under one key.
    Whole {
        /// The key.
        image: String,
    },
}

impl Default for ImageValues {
    /// `image.repository` and `image.tag`, as `helm create` makes them.
    fn default() -> Self {
        ImageValues::Split {
            repository: DEFAULT_REPOSITORY_KEY.to_owned(),
            tag: DEFAULT_TAG_KEY.to_owned(),
        }
    }
}

impl ImageValues {
    /// Checks the keys: dotted paths of non-empty keys, within the limits, and two keys that
    /// can both be set (neither is the other, nor inside it).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            ImageValues::Whole { image } => key_path(image).map(|_| ()),
            ImageValues::Split { repository, tag } => {
                let repository_path = key_path(repository)?;
                let tag_path = key_path(tag)?;
                let (shorter, longer) = if repository_path.len() <= tag_path.len() {
                    (&repository_path, &tag_path)
                } else {
                    (&tag_path, &repository_path)
                };
                if longer.starts_with(shorter) {
                    return Err(if shorter.len() == longer.len() {
                        format!(
                            "the repository and the tag need keys of their own, not both `{repository}`"
                        )
                    } else {
                        format!(
                            "values keys `{repository}` and `{tag}` overlap: one is inside the \
                             other, so both cannot hold a value"
                        )
                    });
                }
                Ok(())
            }
        }
    }
}

impl std::fmt::Display for ImageValues {
    /// `image.repository and image.tag`, or `web.image (repository:tag)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageValues::Split { repository, tag } => write!(f, "{repository} and {tag}"),
            ImageValues::Whole { image } => write!(f, "{image} (repository:tag)"),
        }
    }
}

/// A values key as its segments: `backend.image.tag` is `[backend, image, tag]`, and
/// `podAnnotations.example\.com/tag` is `[podAnnotations, example.com/tag]` (`\.` is a dot
/// inside a key and `\\` a backslash, as `helm --set` reads them). The error says what is wrong
/// with it.
pub fn key_path(key: &str) -> Result<Vec<String>, String> {
    if key.trim().is_empty() {
        return Err("a values key is empty; write a dotted path such as image.tag".into());
    }
    if key.len() > MAX_KEY_LENGTH {
        return Err(format!(
            "values key is {} characters long; the limit is {MAX_KEY_LENGTH}",
            key.len()
        ));
    }
    if key.chars().any(char::is_control) {
        return Err(format!("values key {key:?} holds a control character"));
    }
    let mut segments = vec![String::new()];
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('.' | '\\')) => segments.last_mut().expect("one").push(escaped),
                _ => {
                    return Err(format!(
                        "values key `{key}`: a backslash escapes a dot (`\\.`) or a backslash \
                         (`\\\\`), nothing else"
                    ));
                }
            },
            '.' => segments.push(String::new()),
            c => segments.last_mut().expect("one").push(c),
        }
    }
    if segments.len() > MAX_KEY_SEGMENTS {
        return Err(format!(
            "values key `{key}` is {} keys deep; the limit is {MAX_KEY_SEGMENTS}",
            segments.len()
        ));
    }
    if let Some(position) = segments.iter().position(String::is_empty) {
        let place = match position {
            0 => "it starts with a dot".to_owned(),
            p if p + 1 == segments.len() => "it ends with a dot".to_owned(),
            _ => "it has two dots in a row".to_owned(),
        };
        return Err(format!(
            "`{key}` is not a values key: {place}; write a dotted path such as image.tag"
        ));
    }
    if let Some(segment) = segments.iter().find(|s| s.trim() != s.as_str()) {
        return Err(format!(
            "values key `{key}`: {segment:?} begins or ends with a space"
        ));
    }
    Ok(segments)
}

/// Sets a pushed image in a YAML values text under `keys` (see [`ImageValues`]): the
/// repository as given, and the tag (with `@digest` when there is one; a push with a digest
/// and no tag is refused, as a tag key cannot hold it), or the whole reference under one key. Values are always written as
/// strings, so `1.10` stays `1.10`. The text is edited in place (see the module's notes).
/// Values that are not a map, a key that is not a dotted path, or a path through something that
/// is not a map are refused with [`Code::SourceInvalid`], naming the key.
pub fn set_image_values(
    values: &str,
    keys: &ImageValues,
    repository: &str,
    tag: Option<&str>,
    digest: Option<&str>,
) -> Result<String, SourceError> {
    match keys {
        ImageValues::Split {
            repository: repository_key,
            tag: tag_key,
        } => {
            let version = match (tag, digest) {
                (Some(tag), Some(digest)) => format!("{tag}@{digest}"),
                (Some(tag), None) => tag.to_owned(),
                // Charts write `repository:tag`: a digest alone in the tag would render
                // `repository:sha256:…`, which is no image reference.
                (None, Some(_)) => {
                    return Err(invalid(format!(
                        "the push names a digest and no tag; `{tag_key}` holds a tag, which \
                         the chart puts after `{repository}:`, so a digest cannot go there: \
                         name one values key for the whole image to deploy digests"
                    )));
                }
                (None, None) => return Ok(values.to_owned()),
            };
            set_values(
                values,
                &[(repository_key, repository), (tag_key, version.as_str())],
            )
        }
        ImageValues::Whole { image } => {
            let reference = match (tag, digest) {
                (Some(tag), Some(digest)) => format!("{repository}:{tag}@{digest}"),
                (Some(tag), None) => format!("{repository}:{tag}"),
                (None, Some(digest)) => format!("{repository}@{digest}"),
                (None, None) => return Ok(values.to_owned()),
            };
            set_values(values, &[(image, reference.as_str())])
        }
    }
}

/// The tag the values hold under `keys`: `1.4.2` from a tag key reading `1.4.2` or
/// `1.4.2@sha256:…`, or from a whole-reference key reading `repository:1.4.2`; for the image
/// triggers' anti-downgrade guard. `None` when the values cannot be read, lack the key, or hold
/// no tag there. A tag written as a YAML float (`1.10`, read as 1.1) is not trusted: `None`.
pub fn image_tag(values: &str, keys: &ImageValues) -> Option<String> {
    let root = parse(values).ok()?;
    let lookup = |key: &str| -> Option<String> {
        let path = key_path(key).ok()?;
        let node = path
            .iter()
            .try_fold(&root, |node, segment| node.get(segment.as_str()))?;
        match node {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) if number.is_u64() => Some(number.to_string()),
            _ => None,
        }
    };
    match keys {
        ImageValues::Split { tag, .. } => {
            let text = lookup(tag)?;
            let tag = text.split('@').next().unwrap_or("").trim();
            (!tag.is_empty()).then(|| tag.to_owned())
        }
        ImageValues::Whole { image } => crate::registry::ImageRef::parse(&lookup(image)?)
            .ok()?
            .tag()
            .map(str::to_owned),
    }
}

/// Sets each `(key, value)` in a YAML values text (keys are dotted paths, see [`key_path`]),
/// creating maps on the way, editing the text in place. See [`set_image_values`] for what is
/// refused.
pub fn set_values(values: &str, settings: &[(&str, &str)]) -> Result<String, SourceError> {
    let mut expected = match parse(values)? {
        Value::Null => Value::Object(Map::new()),
        Value::Object(map) => Value::Object(map),
        other => {
            return Err(invalid(format!(
                "the values are {}, not a map of keys; image values cannot be set in them",
                kind(&other)
            )));
        }
    };
    let mut paths = Vec::with_capacity(settings.len());
    for (key, value) in settings {
        let path = key_path(key).map_err(invalid)?;
        if value.len() > MAX_VALUE_LENGTH {
            return Err(invalid(format!(
                "the value for `{key}` is {} bytes long; the limit is {MAX_VALUE_LENGTH}",
                value.len()
            )));
        }
        set(&mut expected, key, &path, value)?;
        paths.push(path);
    }
    let mut text = values.to_owned();
    let mut kept = true;
    for ((key, value), path) in settings.iter().zip(&paths) {
        match edit::set_scalar(&text, path, value) {
            Ok(edited) => text = edited,
            Err(refusal) => {
                tracing::warn!(key, ?refusal, "values could not be edited in place");
                kept = false;
                break;
            }
        }
    }
    if kept && parse(&text).is_ok_and(|read| read == expected) {
        return Ok(text);
    }
    // The edit did not give exactly the values wanted: write them out from what was read.
    tracing::warn!("values written out again: their comments and layout are not kept");
    let text = serde_saphyr::to_string(&expected)
        .map_err(|e| invalid(format!("the values could not be written back: {e}")))?;
    Ok(text
        .strip_prefix("---\n")
        .map(str::to_owned)
        .unwrap_or(text))
}

/// Checks that a values text is YAML holding a map of keys (or nothing), as `helm` wants;
/// the error ([`Code::SourceInvalid`]) says what it holds instead.
pub fn check_values(values: &str) -> Result<(), SourceError> {
    match parse(values)? {
        Value::Null | Value::Object(_) => Ok(()),
        other => Err(invalid(format!(
            "the values are {}, not a map of keys such as `replicaCount: 2`",
            kind(&other)
        ))),
    }
}

fn parse(values: &str) -> Result<Value, SourceError> {
    let mut options = Options::default();
    let mut budget = Budget::default();
    budget.max_depth = 64;
    options.budget = Some(budget);
    let value: Option<Value> = serde_saphyr::from_str_with_options(values, options)
        .map_err(|e| invalid(format!("the values are not valid YAML: {e}")))?;
    Ok(value.unwrap_or(Value::Null))
}

fn set(root: &mut Value, key: &str, path: &[String], value: &str) -> Result<(), SourceError> {
    let (last, parents) = path.split_last().expect("a key has a segment");
    let mut node = root;
    for (depth, part) in parents.iter().enumerate() {
        let map = node.as_object_mut().expect("every step is a map");
        let child = map
            .entry(part.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if child.is_null() {
            *child = Value::Object(Map::new());
        }
        if !child.is_object() {
            return Err(invalid(format!(
                "values key `{}` is {}, not a map, so `{key}` cannot be set",
                shown(&path[..=depth]),
                kind(child)
            )));
        }
        node = child;
    }
    let map = node.as_object_mut().expect("every step is a map");
    if let Some(existing @ (Value::Object(_) | Value::Array(_))) = map.get(last) {
        return Err(invalid(format!(
            "values key `{key}` is {}, not a single value; name the key that holds the value",
            kind(existing)
        )));
    }
    map.insert(last.clone(), Value::String(value.to_owned()));
    Ok(())
}

/// A path as a key again, dots inside keys escaped.
fn shown(path: &[String]) -> String {
    path.iter()
        .map(|p| p.replace('\\', "\\\\").replace('.', "\\."))
        .collect::<Vec<_>>()
        .join(".")
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn invalid(message: String) -> SourceError {
    SourceError::new(Code::SourceInvalid, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Value {
        parse(text).unwrap()
    }

    fn split(repository: &str, tag: &str) -> ImageValues {
        ImageValues::Split {
            repository: repository.into(),
            tag: tag.into(),
        }
    }

    #[test]
    fn the_deployed_tag_is_read_from_the_image_keys() {
        let split = ImageValues::default();
        let whole = ImageValues::Whole {
            image: "web.image".into(),
        };
        let pinned = format!(
            "web: {{image: 'ghcr.io/acme/web:2.0.0@sha256:{}'}}\n",
            "ab".repeat(32)
        );
        let cases = [
            (
                "image:\n  repository: app\n  tag: 7.9.1\n",
                &split,
                Some("7.9.1"),
            ),
            ("image: {tag: '1.10@sha256:ab'}\n", &split, Some("1.10")),
            ("image: {tag: 3}\n", &split, Some("3")),
            ("image: {tag: 1.10}\n", &split, None),
            ("image: {tag: ''}\n", &split, None),
            ("other: 1\n", &split, None),
            ("[not, a, map]\n", &split, None),
            (pinned.as_str(), &whole, Some("2.0.0")),
            (
                "web: {image: 'ghcr.io/acme/web:2.0.0'}\n",
                &whole,
                Some("2.0.0"),
            ),
            (
                "web: {image: 'ghcr.io/acme/web:2.0.0@sha256:ab'}\n",
                &whole,
                None,
            ),
            ("web: {image: 'ghcr.io/acme/web'}\n", &whole, None),
        ];
        for (values, keys, expected) in cases {
            assert_eq!(image_tag(values, keys).as_deref(), expected, "{values}");
        }
    }

    #[test]
    fn image_values_are_set_and_the_rest_kept() {
        let values = "replicaCount: 2\nimage:\n  repository: nginx\n  pullPolicy: IfNotPresent\n  tag: \"\"\nservice:\n  port: 80\n";
        let out = set_image_values(
            values,
            &ImageValues::default(),
            "registry.example.com/team/app",
            Some("1.10"),
            None,
        )
        .unwrap();
        assert_eq!(
            out,
            "replicaCount: 2\nimage:\n  repository: registry.example.com/team/app\n  pullPolicy: IfNotPresent\n  tag: \"1.10\"\nservice:\n  port: 80\n"
        );
    }

    /// The values `helm create` writes, comments and all: only the two lines change.
    #[test]
    fn comments_and_layout_survive() {
        let values = include_str!("../../../tests/fixtures/values/helm-create.yaml");
        let out = set_image_values(
            values,
            &ImageValues::default(),
            "registry.example.com/team/web",
            Some("v2"),
            Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        let changed: Vec<(&str, &str)> = values
            .lines()
            .zip(out.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(
            changed,
            [
                (
                    "  repository: nginx",
                    "  repository: registry.example.com/team/web"
                ),
                (
                    "  tag: \"\"",
                    "  tag: \"v2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\""
                ),
            ]
        );
        assert_eq!(values.lines().count(), out.lines().count());
        assert!(out.contains("# Overrides the image tag whose default is the chart appVersion."));
    }

    #[test]
    fn keys_the_trigger_names() {
        let values = "# the backend\nbackend:\n  image:\n    repo: old # CI sets it\n    tag: v1\nweb:\n  replicas: 2\n";
        let out = set_image_values(
            values,
            &split("backend.image.repo", "backend.image.tag"),
            "ghcr.io/org/backend",
            Some("v2"),
            None,
        )
        .unwrap();
        assert_eq!(
            out,
            "# the backend\nbackend:\n  image:\n    repo: ghcr.io/org/backend # CI sets it\n    tag: v2\nweb:\n  replicas: 2\n"
        );
        // One key for the whole reference, added where it is missing.
        let whole = ImageValues::Whole {
            image: "web.image".into(),
        };
        let out = set_image_values(values, &whole, "ghcr.io/org/web", Some("1.0"), None).unwrap();
        assert!(
            out.ends_with("web:\n  replicas: 2\n  image: ghcr.io/org/web:1.0\n"),
            "{out}"
        );
        let pinned =
            set_image_values(values, &whole, "ghcr.io/org/web", None, Some("sha256:ab")).unwrap();
        assert!(
            pinned.contains("image: ghcr.io/org/web@sha256:ab\n"),
            "{pinned}"
        );
        // A digest without a tag: a tag key cannot hold it, and nothing is written.
        let error = set_image_values(
            values,
            &split("backend.image.repo", "backend.image.tag"),
            "ghcr.io/org/backend",
            None,
            Some("sha256:ab"),
        )
        .unwrap_err();
        assert_eq!(error.code, Code::SourceInvalid);
        assert!(
            error.message.contains("`backend.image.tag`") && error.message.contains("whole image"),
            "{}",
            error.message
        );
        // A dot inside a key, written `\.`.
        let annotated = set_values(
            "podAnnotations:\n  other: x\n",
            &[("podAnnotations.example\\.com/tag", "v2")],
        )
        .unwrap();
        assert_eq!(
            read(&annotated)["podAnnotations"]["example.com/tag"],
            Value::String("v2".into())
        );
        assert!(annotated.contains("  example.com/tag: v2\n"), "{annotated}");
    }

    #[test]
    fn maps_are_created_as_needed() {
        let table = [
            ("", "app.image.repo", "app.image.tag"),
            ("# only a comment\n", "image.repository", "image.tag"),
            ("app: null\n", "app.image.repo", "app.version"),
            ("other: 1\n", "repo", "tag"),
            ("app: {image: {}}\n", "app.image.repo", "app.image.tag"),
        ];
        for (values, repository_key, tag_key) in table {
            let out = set_image_values(
                values,
                &split(repository_key, tag_key),
                "r",
                Some("007"),
                None,
            )
            .unwrap();
            let value = read(&out);
            let at = |key: &str| {
                key.split('.')
                    .try_fold(&value, |node, part| node.get(part))
                    .cloned()
            };
            assert_eq!(at(repository_key), Some(Value::String("r".into())), "{out}");
            assert_eq!(at(tag_key), Some(Value::String("007".into())), "{out}");
            if !values.contains("null") && !values.contains('{') {
                assert!(out.starts_with(values.trim_end_matches('\n')), "{out}");
            }
        }
    }

    #[test]
    fn values_must_be_a_map() {
        for (values, ok) in [
            ("", true),
            ("# nothing\n", true),
            ("a: 1\nb: {c: d}\n", true),
            ("- a\n", false),
            ("just words", false),
            ("a: {unclosed\n", false),
        ] {
            assert_eq!(check_values(values).is_ok(), ok, "{values:?}");
        }
    }

    #[test]
    fn values_that_cannot_hold_the_keys_are_refused() {
        let deep = format!("{}x", "a.".repeat(40));
        let nested = (0..100).fold(String::from("1"), |inner, _| format!("{{a: {inner}}}"));
        let table = [
            ("image: nginx\n", "image.repository", "`image` is a string"),
            ("- a\n- b\n", "image.repository", "the values are a list"),
            ("image: [1]\n", "image.repository", "`image` is a list"),
            ("a: {b: 3}\n", "a.b.c", "`a.b` is a number"),
            ("a: {b: true}\n", "a.b.c", "`a.b` is a boolean"),
            (
                "image:\n  tag: {x: 1}\n",
                "image.tag",
                "is a map, not a single value",
            ),
            (
                "image:\n  tag: [1]\n",
                "image.tag",
                "is a list, not a single value",
            ),
            ("{}", "image..repository", "two dots in a row"),
            ("{}", ".image", "starts with a dot"),
            ("{}", "image.", "ends with a dot"),
            ("{}", "", "empty"),
            ("{}", "a\\b", "a backslash escapes"),
            ("{}", "a. b", "begins or ends with a space"),
            ("{}", "a\tb", "control character"),
            ("{}", &deep, "41 keys deep"),
            ("{}", &"k".repeat(300), "the limit is 256"),
            ("image: {unclosed\n", "image.repository", "not valid YAML"),
            (&nested, "a.b", "not valid YAML"),
            (
                "a: {\"x.y\": {b: 1}}\n",
                "a.x\\.y.b.c",
                "`a.x\\.y.b` is a number",
            ),
        ];
        for (values, key, expected) in table {
            let error = set_values(values, &[(key, "v")]).unwrap_err();
            assert_eq!(error.code, Code::SourceInvalid);
            assert!(
                error.message.contains(expected),
                "{values:?} {key:?}: {}",
                error.message
            );
        }
    }

    #[test]
    fn huge_values_and_values_texts() {
        // A long values text: the edit touches one line, quickly.
        let mut values = String::from("# generated\n");
        for n in 0..20_000 {
            values.push_str(&format!("key{n}:\n  value: {n} # number {n}\n"));
        }
        values.push_str("image:\n  repository: old\n  tag: v1\n");
        let started = std::time::Instant::now();
        let out =
            set_image_values(&values, &ImageValues::default(), "new", Some("v2"), None).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert_eq!(out.len(), values.len());
        assert!(out.ends_with("image:\n  repository: new\n  tag: v2\n"));
        // A value beyond any image reference is refused, not written.
        let long = "t".repeat(MAX_VALUE_LENGTH + 1);
        let error = set_values("a: 1\n", &[("tag", &long)]).unwrap_err();
        assert!(
            error.message.contains("the limit is 4096"),
            "{}",
            error.message
        );
        // Strange but valid values are written so that they read back the same.
        for value in [
            "",
            " x ",
            "a: b",
            "# not a comment",
            "\"quoted\"",
            "line\nbreak",
            "ü",
            "1e3",
            "-",
        ] {
            let out = set_values("a: 1 # keep\ntag: old\n", &[("tag", value)]).unwrap();
            assert_eq!(read(&out)["tag"], Value::String(value.into()), "{out}");
            assert!(out.starts_with("a: 1 # keep\n"), "{out}");
        }
    }

    /// Anchors shared with other keys cannot be edited in place without changing those keys:
    /// the values are written out again instead, right but without comments.
    #[test]
    fn an_edit_that_would_change_other_keys_is_written_out_again() {
        let values = "# shared\nbase: &img\n  tag: v1\nweb:\n  image: *img\nimage: *img\n";
        let out = set_values(values, &[("image.tag", "v2")]).unwrap();
        let read_back = read(&out);
        assert_eq!(
            read_back["image"]["tag"],
            Value::String("v2".into()),
            "{out}"
        );
        assert_eq!(read_back["web"]["image"]["tag"], Value::String("v1".into()));
        assert_eq!(read_back["base"]["tag"], Value::String("v1".into()));
        let values = "tag: &t v1\nother: *t\n";
        let out = set_values(values, &[("tag", "v2")]).unwrap();
        let read = read(&out);
        assert_eq!(read["tag"], Value::String("v2".into()));
        assert_eq!(read["other"], Value::String("v1".into()), "{out}");
    }

    #[test]
    fn trigger_keys_are_checked() {
        assert!(ImageValues::default().validate().is_ok());
        assert!(split("a.repo", "a.tag").validate().is_ok());
        for (keys, expected) in [
            (split("image", "image"), "keys of their own"),
            (split("image", "image.tag"), "overlap"),
            (split("a.b.c", "a.b"), "overlap"),
            (split("image.repository", "image..tag"), "two dots"),
            (ImageValues::Whole { image: " ".into() }, "empty"),
        ] {
            let error = keys.validate().unwrap_err();
            assert!(error.contains(expected), "{keys:?}: {error}");
        }
        assert_eq!(
            key_path("a.b\\.c.d\\\\").unwrap(),
            ["a", "b.c", "d\\"].map(String::from)
        );
    }
}
