//! The patch strategies Kubernetes declares for its built-in types.
//!
//! Strategic merge patch needs to know, for each list, whether it is merged and by which key.
//! The API declares this per field (`x-kubernetes-patch-strategy: merge` and
//! `x-kubernetes-patch-merge-key` in the OpenAPI document, `patchStrategy`/`patchMergeKey`
//! struct tags in Go). This module holds that table for every type on the path from a
//! built-in object to a merged list; any field not listed is merged as a map if it is one,
//! and replaced whole if it is a list.

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListMerge {
    /// A list of objects merged item by item, matched on this key.
    ByKey(&'static str),
    /// A list of scalars merged as a set (`finalizers`).
    Set,
}

/// One field of a type that needs more than the default treatment.
#[derive(Debug)]
pub struct Field {
    /// The JSON field name.
    pub name: &'static str,
    /// How the field merges, when it is a merged list.
    pub merge: Option<ListMerge>,
    /// The type of the field (of its items, for lists), when it has fields of its own here.
    pub ty: Option<&'static Type>,
}

/// A type's fields that have patch metadata, directly or further down.
#[derive(Debug)]
pub struct Type {
    /// The fields.
    pub fields: &'static [Field],
}

impl Type {
    /// Looks up a field.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        // The tables are small (at most a dozen fields): a scan beats hashing.
        let fields: &'static [Field] = self.fields;
        fields.iter().find(|f| f.name == name)
    }
}

const fn list(name: &'static str, key: &'static str, ty: Option<&'static Type>) -> Field {
    Field {
        name,
        merge: Some(ListMerge::ByKey(key)),
        ty,
    }
}

const fn nested(name: &'static str, ty: &'static Type) -> Field {
    Field {
        name,
        merge: None,
        ty: Some(ty),
    }
}

static CONTAINER: Type = Type {
    fields: &[
        list("ports", "containerPort", None),
        list("env", "name", None),
        list("volumeMounts", "mountPath", None),
        list("volumeDevices", "devicePath", None),
    ],
};

static POD_SPEC: Type = Type {
    fields: &[
        list("containers", "name", Some(&CONTAINER)),
        list("initContainers", "name", Some(&CONTAINER)),
        list("ephemeralContainers", "name", Some(&CONTAINER)),
        list("volumes", "name", None),
        list("imagePullSecrets", "name", None),
        list("hostAliases", "ip", None),
        list("topologySpreadConstraints", "topologyKey", None),
        list("resourceClaims", "name", None),
        list("schedulingGates", "name", None),
    ],
};

static OBJECT_META: Type = Type {
    fields: &[
        Field {
            name: "finalizers",
            merge: Some(ListMerge::Set),
            ty: None,
        },
        list("ownerReferences", "uid", None),
    ],
};

static POD_TEMPLATE_SPEC: Type = Type {
    fields: &[nested("metadata", &OBJECT_META), nested("spec", &POD_SPEC)],
};

static CONDITIONS_STATUS: Type = Type {
    fields: &[list("conditions", "type", None)],
};

/// `spec` of Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, ReplicationController.
static WORKLOAD_SPEC: Type = Type {
    fields: &[nested("template", &POD_TEMPLATE_SPEC)],
};

static WORKLOAD: Type = Type {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("spec", &WORKLOAD_SPEC),
        nested("status", &CONDITIONS_STATUS),
    ],
};

static JOB_TEMPLATE_SPEC: Type = Type {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("spec", &WORKLOAD_SPEC),
    ],
};

static CRON_JOB: Type = Type {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested(
            "spec",
            &Type {
                fields: &[nested("jobTemplate", &JOB_TEMPLATE_SPEC)],
            },
        ),
    ],
};

static POD: Type = Type {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("spec", &POD_SPEC),
        nested("status", &CONDITIONS_STATUS),
    ],
};

static POD_TEMPLATE: Type = Type {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("template", &POD_TEMPLATE_SPEC),
    ],
};

static SERVICE: Type = Type {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested(
            "spec",
            &Type {
                fields: &[list("ports", "port", None)],
            },
        ),
    ],
};

static SERVICE_ACCOUNT: Type = Type {
    fields: &[
        nested("metadata", &OBJECT_META),
        list("secrets", "name", None),
    ],
};

static CUSTOM_RESOURCE_DEFINITION: Type = Type {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("status", &CONDITIONS_STATUS),
    ],
};

static OBJECT: Type = Type {
    fields: &[nested("metadata", &OBJECT_META)],
};

/// API groups whose types are built into Kubernetes (strategic merge applies to them).
const BUILT_IN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "extensions",
    "policy",
    "autoscaling",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "node.k8s.io",
    "certificates.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "resource.k8s.io",
];

/// The patch schema of an object, by API group and kind.
///
/// Objects of other groups (custom resources) get only `metadata`'s rules: their lists are
/// replaced whole, as the API server does for a merge patch.
pub fn for_kind(group: &str, kind: &str) -> &'static Type {
    if !BUILT_IN_GROUPS.contains(&group) {
        return &OBJECT;
    }
    match kind {
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => &WORKLOAD,
        "CronJob" => &CRON_JOB,
        "Pod" => &POD,
        "PodTemplate" => &POD_TEMPLATE,
        "Service" => &SERVICE,
        "ServiceAccount" => &SERVICE_ACCOUNT,
        "CustomResourceDefinition" => &CUSTOM_RESOURCE_DEFINITION,
        _ => &OBJECT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_containers_merge_by_name_and_ports_by_container_port() {
        let deployment = for_kind("apps", "Deployment");
        let pod_spec = deployment
            .field("spec")
            .and_then(|f| f.ty)
            .and_then(|t| t.field("template"))
            .and_then(|f| f.ty)
            .and_then(|t| t.field("spec"))
            .and_then(|f| f.ty)
            .expect("pod spec");
        let containers = pod_spec.field("containers").expect("containers");
        assert_eq!(containers.merge, Some(ListMerge::ByKey("name")));
        let ports = containers.ty.and_then(|t| t.field("ports")).expect("ports");
        assert_eq!(ports.merge, Some(ListMerge::ByKey("containerPort")));
        assert!(pod_spec.field("tolerations").is_none());
    }

    #[test]
    fn custom_resources_only_know_metadata() {
        let crd = for_kind("example.com", "Deployment");
        assert!(crd.field("spec").is_none());
        assert!(crd.field("metadata").is_some());
    }
}
