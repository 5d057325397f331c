//! Security contexts of pods and containers: user and group ids in range, the enums, and the
//! one contradiction the API server refuses (a privileged container that may not escalate).

use serde_json::{Map, Value};

use super::Cause;
use super::pod::{int, one_of, present};

const ID_MESSAGE: &str = "must be between 0 and 2147483647, inclusive";

/// A user or group id, when given.
fn id(value: Option<&Value>, at: String, causes: &mut Vec<Cause>) {
    if let Some(value) = present(value)
        && !int(value).is_some_and(|n| (0..=i64::from(i32::MAX)).contains(&n))
    {
        causes.push(Cause::invalid(at, value, ID_MESSAGE));
    }
}

/// The context at `{at}.securityContext` as a mapping, or `None` (a problem noted) when it
/// is missing or not a mapping.
fn context<'a>(
    owner: &'a Map<String, Value>,
    at: &str,
    causes: &mut Vec<Cause>,
) -> Option<(&'a Value, String)> {
    let context = present(owner.get("securityContext"))?;
    let at = format!("{at}.securityContext");
    if !context.is_object() {
        causes.push(Cause::type_invalid(&at, context, "a mapping"));
        return None;
    }
    Some((context, at))
}

/// A pod's `securityContext` (`spec` at `at`).
pub(super) fn pod(spec: &Map<String, Value>, at: &str, causes: &mut Vec<Cause>) {
    let Some((context, at)) = context(spec, at, causes) else {
        return;
    };
    for key in ["runAsUser", "runAsGroup", "fsGroup"] {
        id(context.get(key), format!("{at}.{key}"), causes);
    }
    if let Some(groups) = context.get("supplementalGroups").and_then(Value::as_array) {
        for (i, group) in groups.iter().enumerate() {
            id(Some(group), format!("{at}.supplementalGroups[{i}]"), causes);
        }
    }
    one_of(
        Some(context),
        "fsGroupChangePolicy",
        &["OnRootMismatch", "Always"],
        &at,
        causes,
    );
}

/// A container's `securityContext` (the container at `at`).
pub(super) fn container(container: &Map<String, Value>, at: &str, causes: &mut Vec<Cause>) {
    let Some((context, at)) = context(container, at, causes) else {
        return;
    };
    for key in ["runAsUser", "runAsGroup"] {
        id(context.get(key), format!("{at}.{key}"), causes);
    }
    one_of(
        Some(context),
        "procMount",
        &["Default", "Unmasked"],
        &at,
        causes,
    );
    let flag = |key: &str| context.get(key).and_then(Value::as_bool);
    if flag("privileged") == Some(true) && flag("allowPrivilegeEscalation") == Some(false) {
        causes.push(Cause::invalid(
            at,
            context,
            "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
        ));
    }
}
