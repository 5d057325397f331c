//! Validation of the objects written to the sandbox, with the API server's field paths.
//!
//! [`object`] runs on every create and update after defaulting; its causes become a 422
//! Invalid `Status`. The rules themselves are [`tripline_validation`]'s, the same ones the
//! template store applies before it saves a version, so a template that saves is one the
//! sandbox accepts. Only what needs the stored object (immutable fields on update) is here.

use serde_json::Value;
use tripline_validation as validation;

use super::resources::ResourceDef;
use super::status::Cause;

/// An RFC 1123 subdomain (dot-separated labels, at most 253 characters).
pub(crate) fn is_subdomain(s: &str) -> bool {
    validation::is_dns1123_subdomain(s)
}

/// Every problem with an object of `def` (empty when it is valid). `old` is the stored
/// object on updates, for immutable fields.
pub(crate) fn object(def: &ResourceDef, object: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = validation::validate_with(def.group, def.kind, def.names, object);
    causes.extend(super::crd::validate(def, object));
    if let Some(old) = old
        && matches!(
            (def.group, def.kind),
            (
                "apps",
                "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet"
            )
        )
    {
        let before = old.pointer("/spec/selector");
        let after = object.pointer("/spec/selector");
        if before.is_some() && before != after {
            causes.push(Cause::invalid(
                "spec.selector",
                after.unwrap_or(&Value::Null),
                "field is immutable",
            ));
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::lookup;
    use serde_json::json;

    #[test]
    fn deployments_need_matching_selectors_and_images() {
        let def = lookup("apps", "v1", "deployments").unwrap();
        let good = json!({
            "metadata": {"name": "d"},
            "spec": {
                "selector": {"matchLabels": {"app": "d"}},
                "template": {"metadata": {"labels": {"app": "d"}},
                             "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
            }
        });
        assert!(object(def, &good, None).is_empty());
        let cases = [
            ("/spec/selector", Value::Null, "spec.selector"),
            (
                "/spec/template/metadata/labels",
                json!({"app": "other"}),
                "spec.template.metadata.labels",
            ),
            (
                "/spec/template/spec/containers",
                json!([{"name": "c"}]),
                "spec.template.spec.containers[0].image",
            ),
            (
                "/spec/template/spec/containers",
                json!([{"image": "x"}]),
                "spec.template.spec.containers[0].name",
            ),
            (
                "/spec/template/spec/containers",
                json!([]),
                "spec.template.spec.containers",
            ),
        ];
        for (pointer, value, field) in cases {
            let mut bad = good.clone();
            *bad.pointer_mut(pointer).unwrap() = value;
            let causes = object(def, &bad, None);
            assert!(
                causes.iter().any(|c| c.field == field),
                "{field}: {causes:?}"
            );
        }
        let mut changed = good.clone();
        changed["spec"]["selector"] = json!({"matchLabels": {"app": "e"}});
        changed["spec"]["template"]["metadata"]["labels"] = json!({"app": "e"});
        assert!(
            object(def, &changed, Some(&good))
                .iter()
                .any(|c| c.message.contains("immutable"))
        );
    }

    #[test]
    fn service_ports_need_a_port() {
        let def = lookup("", "v1", "services").unwrap();
        let svc = json!({"metadata": {"name": "s"}, "spec": {"ports": [{"targetPort": 80}]}});
        let causes = object(def, &svc, None);
        assert_eq!(causes[0].field, "spec.ports[0].port");
        assert_eq!(causes[0].reason, "FieldValueRequired");
    }
}
