//! Label and field selectors, as `?labelSelector=` and `?fieldSelector=` carry them.
//!
//! A list or watch parses both once ([`LabelSelector::parse`], [`FieldSelector::parse`]) and
//! asks [`Selectors::matches`] of every object. Parse failures are 400 BadRequest, like the
//! real server's.

use serde_json::{Map, Value};

use super::resources::ResourceDef;
use super::status::{ApiError, ApiResult};

/// One label requirement.
#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Exists(String),
    DoesNotExist(String),
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    GreaterThan(String, i64),
    LessThan(String, i64),
}

/// A parsed label selector: every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LabelSelector(Vec<Requirement>);

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Bang,
    Eq,
    DoubleEq,
    NotEq,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
}

fn tokenize(input: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '!' => {
                chars.next();
                if chars.peek() == Some(&'=') {
                    chars.next();
                    tokens.push(Token::NotEq);
                } else {
                    tokens.push(Token::Bang);
                }
            }
            '=' => {
                chars.next();
                if chars.peek() == Some(&'=') {
                    chars.next();
                    tokens.push(Token::DoubleEq);
                } else {
                    tokens.push(Token::Eq);
                }
            }
            '>' => {
                chars.next();
                tokens.push(Token::Gt);
            }
            '<' => {
                chars.next();
                tokens.push(Token::Lt);
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            ',' => {
                chars.next();
                tokens.push(Token::Comma);
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "!=<>(),".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    tokens
}

fn describe(token: Option<&Token>) -> String {
    match token {
        None => "end of string".into(),
        Some(Token::Word(w)) => format!("'{w}'"),
        Some(Token::Bang) => "'!'".into(),
        Some(Token::Eq) => "'='".into(),
        Some(Token::DoubleEq) => "'=='".into(),
        Some(Token::NotEq) => "'!='".into(),
        Some(Token::Gt) => "'>'".into(),
        Some(Token::Lt) => "'<'".into(),
        Some(Token::Open) => "'('".into(),
        Some(Token::Close) => "')'".into(),
        Some(Token::Comma) => "','".into(),
    }
}

fn bad(selector: &str, why: String) -> ApiError {
    ApiError::bad_request(format!(
        "unable to parse requirement: {why} (in selector {selector:?})"
    ))
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63
/// alphanumerics, `-`, `_` or `.`, beginning and ending with an alphanumeric.
fn valid_key(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && (prefix.is_empty() || prefix.len() > 253 || !super::validate::is_subdomain(prefix))
    {
        return false;
    }
    !name.is_empty() && valid_value(name)
}

/// A label value: empty, or at most 63 alphanumerics, `-`, `_` or `.`, beginning and ending
/// with an alphanumeric.
pub(crate) fn valid_value(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let bytes = value.as_bytes();
    value.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl LabelSelector {
    /// Parses the string form (`app=web,tier in (a,b),!legacy`). Empty selects everything.
    pub fn parse(selector: &str) -> ApiResult<LabelSelector> {
        let tokens = tokenize(selector);
        let mut pos = 0;
        let mut requirements = Vec::new();
        if tokens.is_empty() {
            return Ok(LabelSelector(requirements));
        }
        loop {
            let requirement = Self::requirement(selector, &tokens, &mut pos)?;
            requirements.push(requirement);
            match tokens.get(pos) {
                None => break,
                Some(Token::Comma) => pos += 1,
                other => {
                    return Err(bad(
                        selector,
                        format!(
                            "found {}, expected: ',' or 'end of string'",
                            describe(other)
                        ),
                    ));
                }
            }
        }
        Ok(LabelSelector(requirements))
    }

    fn key(selector: &str, token: Option<&Token>) -> ApiResult<String> {
        match token {
            Some(Token::Word(w)) if valid_key(w) => Ok(w.clone()),
            Some(Token::Word(w)) => Err(bad(selector, format!("invalid label key {w:?}"))),
            other => Err(bad(
                selector,
                format!("found {}, expected: identifier", describe(other)),
            )),
        }
    }

    fn value(selector: &str, tokens: &[Token], pos: &mut usize) -> ApiResult<String> {
        match tokens.get(*pos) {
            Some(Token::Word(w)) => {
                *pos += 1;
                if valid_value(w) {
                    Ok(w.clone())
                } else {
                    Err(bad(selector, format!("invalid label value: {w:?}")))
                }
            }
            // `key=` selects an empty value.
            None | Some(Token::Comma) => Ok(String::new()),
            other => Err(bad(
                selector,
                format!("found {}, expected: identifier", describe(other)),
            )),
        }
    }

    fn set(selector: &str, tokens: &[Token], pos: &mut usize) -> ApiResult<Vec<String>> {
        if tokens.get(*pos) != Some(&Token::Open) {
            return Err(bad(
                selector,
                format!("found {}, expected: '('", describe(tokens.get(*pos))),
            ));
        }
        *pos += 1;
        let mut values = Vec::new();
        loop {
            match tokens.get(*pos) {
                Some(Token::Word(w)) => {
                    if !valid_value(w) {
                        return Err(bad(selector, format!("invalid label value: {w:?}")));
                    }
                    values.push(w.clone());
                    *pos += 1;
                }
                Some(Token::Close) if values.is_empty() => {
                    return Err(bad(
                        selector,
                        "for 'in', 'notin' operators, values set can't be empty".into(),
                    ));
                }
                other => {
                    return Err(bad(
                        selector,
                        format!("found {}, expected: identifier", describe(other)),
                    ));
                }
            }
            match tokens.get(*pos) {
                Some(Token::Comma) => *pos += 1,
                Some(Token::Close) => {
                    *pos += 1;
                    return Ok(values);
                }
                other => {
                    return Err(bad(
                        selector,
                        format!("found {}, expected: ',' or ')'", describe(other)),
                    ));
                }
            }
        }
    }

    fn requirement(selector: &str, tokens: &[Token], pos: &mut usize) -> ApiResult<Requirement> {
        if tokens.get(*pos) == Some(&Token::Bang) {
            *pos += 1;
            let key = Self::key(selector, tokens.get(*pos))?;
            *pos += 1;
            return Ok(Requirement::DoesNotExist(key));
        }
        let key = Self::key(selector, tokens.get(*pos))?;
        *pos += 1;
        let op = tokens.get(*pos).cloned();
        match op {
            None | Some(Token::Comma) => Ok(Requirement::Exists(key)),
            Some(Token::Eq | Token::DoubleEq) => {
                *pos += 1;
                Ok(Requirement::Equals(
                    key,
                    Self::value(selector, tokens, pos)?,
                ))
            }
            Some(Token::NotEq) => {
                *pos += 1;
                Ok(Requirement::NotEquals(
                    key,
                    Self::value(selector, tokens, pos)?,
                ))
            }
            Some(Token::Word(w)) if w == "in" || w == "notin" => {
                *pos += 1;
                let values = Self::set(selector, tokens, pos)?;
                Ok(if w == "in" {
                    Requirement::In(key, values)
                } else {
                    Requirement::NotIn(key, values)
                })
            }
            Some(Token::Gt | Token::Lt) => {
                *pos += 1;
                let raw = Self::value(selector, tokens, pos)?;
                let number: i64 = raw.parse().map_err(|_| {
                    bad(
                        selector,
                        format!("for 'Gt', 'Lt' operators, the value must be an integer: {raw:?}"),
                    )
                })?;
                Ok(if op == Some(Token::Gt) {
                    Requirement::GreaterThan(key, number)
                } else {
                    Requirement::LessThan(key, number)
                })
            }
            other => Err(bad(
                selector,
                format!(
                    "found {}, expected: in, notin, =, ==, !=, gt, lt",
                    describe(other.as_ref())
                ),
            )),
        }
    }

    /// Whether a label map satisfies every requirement.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let get = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Requirement::GreaterThan(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x > *n),
            Requirement::LessThan(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x < *n),
        })
    }
}

/// One `field=value` or `field!=value` term.
#[derive(Debug, Clone, PartialEq)]
struct FieldTerm {
    path: String,
    value: String,
    negated: bool,
}

/// A parsed field selector: every term must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FieldSelector(Vec<FieldTerm>);

/// Fields the real API server lets a kind select on, besides `metadata.name` and
/// `metadata.namespace`.
fn selectable(def: &ResourceDef) -> &'static [&'static str] {
    match (def.group, def.kind) {
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "Secret") => &["type"],
        ("", "Namespace") => &["status.phase"],
        ("", "Node") => &["spec.unschedulable"],
        ("", "ReplicationController") | ("apps", "ReplicaSet") => &["status.replicas"],
        ("batch", "Job") => &["status.successful"],
        _ => &[],
    }
}

/// Resolves `\` escapes (`\,`, `\=`, `\\`) in a field selector value.
fn unescape(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl FieldSelector {
    /// Parses `metadata.name=demo,status.phase!=Running` for a resource.
    pub fn parse(selector: &str, def: &ResourceDef) -> ApiResult<FieldSelector> {
        let mut terms = Vec::new();
        if selector.trim().is_empty() {
            return Ok(FieldSelector(terms));
        }
        for part in split_terms(selector) {
            let (path, value, negated) = if let Some((p, v)) = part.split_once("!=") {
                (p, v, true)
            } else if let Some((p, v)) = part.split_once("==") {
                (p, v, false)
            } else if let Some((p, v)) = part.split_once('=') {
                (p, v, false)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{selector}'; can't understand '{part}'"
                )));
            };
            let path = path.trim();
            if !matches!(path, "metadata.name" | "metadata.namespace")
                && !selectable(def).contains(&path)
            {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {path}"
                )));
            }
            terms.push(FieldTerm {
                path: path.to_owned(),
                value: unescape(value),
                negated,
            });
        }
        Ok(FieldSelector(terms))
    }

    /// Whether an object satisfies every term.
    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|term| {
            let path = match term.path.as_str() {
                "status.successful" => "status.succeeded",
                other => other,
            };
            let found = path
                .split('.')
                .try_fold(object, |v, k| v.get(k))
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            (found == term.value) != term.negated
        })
    }
}

/// Splits a field selector on unescaped commas, keeping escapes for the values.
fn split_terms(selector: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for c in selector.chars() {
        if escaped {
            parts.last_mut().expect("never empty").push('\\');
            parts.last_mut().expect("never empty").push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            parts.push(String::new());
        } else {
            parts.last_mut().expect("never empty").push(c);
        }
    }
    parts
}

/// Both selectors of a list or watch.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selectors {
    /// `labelSelector`.
    pub labels: LabelSelector,
    /// `fieldSelector`.
    pub fields: FieldSelector,
}

impl Selectors {
    /// Whether an object matches both.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object);
        self.labels.matches(labels) && self.fields.matches(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::lookup;
    use serde_json::json;

    #[test]
    fn label_selectors_match_like_kubernetes() {
        let labels = json!({"app": "web", "tier": "front", "n": "5"});
        let labels = labels.as_object();
        let cases = [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("app in (web, db)", true),
            ("app notin (web)", false),
            ("missing notin (web)", true),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("app=web,tier=back", false),
            ("app=web, tier in (front)", true),
            ("n>4", true),
            ("n<5", false),
            ("app=", false),
        ];
        for (selector, expected) in cases {
            let parsed =
                LabelSelector::parse(selector).unwrap_or_else(|e| panic!("{selector}: {e}"));
            assert_eq!(parsed.matches(labels), expected, "{selector}");
        }
    }

    #[test]
    fn bad_label_selectors_are_bad_requests() {
        for selector in [
            "app=(",
            "app in web",
            "app in ()",
            "=x",
            "a b",
            "app=web,",
            "Bad Key=1",
            "x=no spaces",
        ] {
            let err = LabelSelector::parse(selector).expect_err(selector);
            assert_eq!(err.code().as_u16(), 400, "{selector}");
        }
    }

    #[test]
    fn field_selectors_select_and_refuse_unknown_fields() {
        let pods = lookup("", "v1", "pods").unwrap();
        let pod =
            json!({"metadata": {"name": "p", "namespace": "ns"}, "status": {"phase": "Running"}});
        let cases = [
            ("metadata.name=p", true),
            ("metadata.name==p", true),
            ("metadata.name!=p", false),
            ("metadata.namespace=ns,status.phase=Running", true),
            ("status.phase!=Running", false),
            ("spec.nodeName=", true),
        ];
        for (selector, expected) in cases {
            let parsed = FieldSelector::parse(selector, pods).unwrap();
            assert_eq!(parsed.matches(&pod), expected, "{selector}");
        }
        let deployments = lookup("apps", "v1", "deployments").unwrap();
        assert!(FieldSelector::parse("spec.replicas=1", deployments).is_err());
        assert!(FieldSelector::parse("nonsense", deployments).is_err());
    }
}
