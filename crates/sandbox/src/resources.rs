//! The kinds the sandbox serves, as one table.
//!
//! Everything that depends on "which resource is this" — discovery documents, URL parsing,
//! name rules, whether writes to the main resource may touch `.status`, whether `/scale`
//! exists, whether `metadata.generation` is kept — reads it from a [`ResourceDef`] here, so
//! adding a kind is one entry.

/// How `metadata.name` is validated for a kind (the rules of the real API server).
pub(crate) use tripline_validation::NameRule;

/// One served resource.
#[derive(Debug)]
pub(crate) struct ResourceDef {
    /// API group (`""` for core).
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// `apiVersion` as written in objects (`v1`, `apps/v1`).
    pub api_version: &'static str,
    /// Plural resource name used in URLs.
    pub plural: &'static str,
    /// Singular name.
    pub singular: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// kubectl short names.
    pub short_names: &'static [&'static str],
    /// Discovery categories (`all`).
    pub categories: &'static [&'static str],
    /// Has a `/status` subresource: main-resource writes leave `.status` alone.
    pub status: bool,
    /// Has a `/scale` subresource.
    pub scale: bool,
    /// Name validation rule.
    pub names: NameRule,
    /// Keeps `metadata.generation`, bumped when `spec` changes.
    pub generation: bool,
    /// For a kind a CRD defines, where its current schema, columns and scale paths are
    /// (see [`super::crd`]); `None` for the built-in kinds of this table.
    pub custom: Option<&'static super::crd::CustomSlot>,
}

impl ResourceDef {
    /// `deployments.apps`, or `pods` for the core group: how the API server names a resource
    /// in messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Deployment.apps`, or `Service` for the core group: the kind as named in
    /// validation messages.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_owned()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// The kind of the list type.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
}

const ALL: &[&str] = &["all"];
const NONE: &[&str] = &[];

#[allow(clippy::too_many_arguments)]
const fn def(
    group: &'static str,
    version: &'static str,
    api_version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
) -> ResourceDef {
    ResourceDef {
        group,
        version,
        api_version,
        plural,
        singular,
        kind,
        namespaced,
        short_names,
        categories: NONE,
        status: false,
        scale: false,
        names: NameRule::Subdomain,
        generation: false,
        custom: None,
    }
}

/// A workload: in `all`, with status, generation and (optionally) scale.
const fn workload(base: ResourceDef, scale: bool) -> ResourceDef {
    ResourceDef {
        categories: ALL,
        status: true,
        scale,
        generation: true,
        ..base
    }
}

const fn with_status(base: ResourceDef) -> ResourceDef {
    ResourceDef {
        status: true,
        generation: true,
        ..base
    }
}

const fn named(base: ResourceDef, names: NameRule) -> ResourceDef {
    ResourceDef { names, ..base }
}

/// Every resource served, grouped by group/version in discovery order. A `static` (not a
/// `const`) so that every `&ResourceDef` handed out points at the one entry: code compares
/// resources by address.
pub(crate) static RESOURCES: &[ResourceDef] = &[
    // core/v1
    ResourceDef {
        status: true,
        names: NameRule::Label,
        ..def(
            "",
            "v1",
            "v1",
            "namespaces",
            "namespace",
            "Namespace",
            false,
            &["ns"],
        )
    },
    ResourceDef {
        status: true,
        ..def("", "v1", "v1", "nodes", "node", "Node", false, &["no"])
    },
    ResourceDef {
        status: true,
        // Pods have a generation since Kubernetes 1.34.
        generation: true,
        categories: ALL,
        ..def("", "v1", "v1", "pods", "pod", "Pod", true, &["po"])
    },
    ResourceDef {
        status: true,
        categories: ALL,
        names: NameRule::Label,
        ..def(
            "",
            "v1",
            "v1",
            "services",
            "service",
            "Service",
            true,
            &["svc"],
        )
    },
    def(
        "",
        "v1",
        "v1",
        "configmaps",
        "configmap",
        "ConfigMap",
        true,
        &["cm"],
    ),
    def("", "v1", "v1", "secrets", "secret", "Secret", true, NONE),
    def(
        "",
        "v1",
        "v1",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        true,
        &["sa"],
    ),
    ResourceDef {
        status: true,
        ..def(
            "",
            "v1",
            "v1",
            "persistentvolumeclaims",
            "persistentvolumeclaim",
            "PersistentVolumeClaim",
            true,
            &["pvc"],
        )
    },
    def("", "v1", "v1", "events", "event", "Event", true, &["ev"]),
    def(
        "",
        "v1",
        "v1",
        "endpoints",
        "endpoints",
        "Endpoints",
        true,
        &["ep"],
    ),
    workload(
        def(
            "",
            "v1",
            "v1",
            "replicationcontrollers",
            "replicationcontroller",
            "ReplicationController",
            true,
            &["rc"],
        ),
        true,
    ),
    // apps/v1
    workload(
        def(
            "apps",
            "v1",
            "apps/v1",
            "deployments",
            "deployment",
            "Deployment",
            true,
            &["deploy"],
        ),
        true,
    ),
    workload(
        def(
            "apps",
            "v1",
            "apps/v1",
            "statefulsets",
            "statefulset",
            "StatefulSet",
            true,
            &["sts"],
        ),
        true,
    ),
    workload(
        def(
            "apps",
            "v1",
            "apps/v1",
            "daemonsets",
            "daemonset",
            "DaemonSet",
            true,
            &["ds"],
        ),
        false,
    ),
    workload(
        def(
            "apps",
            "v1",
            "apps/v1",
            "replicasets",
            "replicaset",
            "ReplicaSet",
            true,
            &["rs"],
        ),
        true,
    ),
    def(
        "apps",
        "v1",
        "apps/v1",
        "controllerrevisions",
        "controllerrevision",
        "ControllerRevision",
        true,
        NONE,
    ),
    // batch/v1
    workload(
        def("batch", "v1", "batch/v1", "jobs", "job", "Job", true, NONE),
        false,
    ),
    workload(
        def(
            "batch",
            "v1",
            "batch/v1",
            "cronjobs",
            "cronjob",
            "CronJob",
            true,
            &["cj"],
        ),
        false,
    ),
    // networking.k8s.io/v1
    with_status(def(
        "networking.k8s.io",
        "v1",
        "networking.k8s.io/v1",
        "ingresses",
        "ingress",
        "Ingress",
        true,
        &["ing"],
    )),
    ResourceDef {
        generation: true,
        ..def(
            "networking.k8s.io",
            "v1",
            "networking.k8s.io/v1",
            "networkpolicies",
            "networkpolicy",
            "NetworkPolicy",
            true,
            &["netpol"],
        )
    },
    // policy/v1
    with_status(def(
        "policy",
        "v1",
        "policy/v1",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        "PodDisruptionBudget",
        true,
        &["pdb"],
    )),
    // autoscaling/v2
    ResourceDef {
        categories: ALL,
        ..with_status(def(
            "autoscaling",
            "v2",
            "autoscaling/v2",
            "horizontalpodautoscalers",
            "horizontalpodautoscaler",
            "HorizontalPodAutoscaler",
            true,
            &["hpa"],
        ))
    },
    // autoscaling/v1: the same objects, served converted (see `versions`).
    ResourceDef {
        categories: ALL,
        ..with_status(def(
            "autoscaling",
            "v1",
            "autoscaling/v1",
            "horizontalpodautoscalers",
            "horizontalpodautoscaler",
            "HorizontalPodAutoscaler",
            true,
            &["hpa"],
        ))
    },
    // rbac.authorization.k8s.io/v1
    named(
        def(
            "rbac.authorization.k8s.io",
            "v1",
            "rbac.authorization.k8s.io/v1",
            "roles",
            "role",
            "Role",
            true,
            NONE,
        ),
        NameRule::PathSegment,
    ),
    named(
        def(
            "rbac.authorization.k8s.io",
            "v1",
            "rbac.authorization.k8s.io/v1",
            "rolebindings",
            "rolebinding",
            "RoleBinding",
            true,
            NONE,
        ),
        NameRule::PathSegment,
    ),
    named(
        def(
            "rbac.authorization.k8s.io",
            "v1",
            "rbac.authorization.k8s.io/v1",
            "clusterroles",
            "clusterrole",
            "ClusterRole",
            false,
            NONE,
        ),
        NameRule::PathSegment,
    ),
    named(
        def(
            "rbac.authorization.k8s.io",
            "v1",
            "rbac.authorization.k8s.io/v1",
            "clusterrolebindings",
            "clusterrolebinding",
            "ClusterRoleBinding",
            false,
            NONE,
        ),
        NameRule::PathSegment,
    ),
    // apiextensions.k8s.io/v1
    ResourceDef {
        categories: &["api-extensions"],
        ..with_status(def(
            "apiextensions.k8s.io",
            "v1",
            "apiextensions.k8s.io/v1",
            "customresourcedefinitions",
            "customresourcedefinition",
            "CustomResourceDefinition",
            false,
            &["crd", "crds"],
        ))
    },
];

/// Finds a resource by group, version and plural name.
pub(crate) fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Finds a resource by `apiVersion` and kind.
pub(crate) fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceDef> {
    RESOURCES
        .iter()
        .find(|r| r.api_version == api_version && r.kind == kind)
}

/// The resources as stored: the table without the versions served only by conversion (one
/// stored object is listed once).
pub(crate) fn stored() -> impl Iterator<Item = &'static ResourceDef> {
    RESOURCES
        .iter()
        .filter(|r| super::versions::stored_as(r).is_none())
}

/// Every group/version served, in discovery order (core first; a group's preferred version
/// before its others).
pub(crate) fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for r in RESOURCES {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

/// The resources of one group/version.
pub(crate) fn in_group_version(
    group: &str,
    version: &str,
) -> impl Iterator<Item = &'static ResourceDef> {
    let (group, version) = (group.to_owned(), version.to_owned());
    RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

/// The namespace resource (checked on every namespaced create).
pub(crate) fn namespaces() -> &'static ResourceDef {
    by_kind("v1", "Namespace").expect("namespaces are in the table")
}

/// Looks up a kind the sandbox is known to serve; used by the controller, whose kinds are
/// fixed, so a miss is a bug in this table.
pub(crate) fn known(api_version: &str, kind: &str) -> &'static ResourceDef {
    by_kind(api_version, kind).unwrap_or_else(|| panic!("{api_version} {kind} is in the table"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_is_unique_and_findable() {
        for r in RESOURCES {
            assert!(std::ptr::eq(
                lookup(r.group, r.version, r.plural).unwrap(),
                r
            ));
            assert!(std::ptr::eq(by_kind(r.api_version, r.kind).unwrap(), r));
            let expected = if r.group.is_empty() {
                r.version.to_owned()
            } else {
                format!("{}/{}", r.group, r.version)
            };
            assert_eq!(r.api_version, expected);
        }
    }

    #[test]
    fn qualified_names_follow_the_api_server() {
        let d = lookup("apps", "v1", "deployments").unwrap();
        assert_eq!(d.qualified(), "deployments.apps");
        assert_eq!(d.qualified_kind(), "Deployment.apps");
        let s = lookup("", "v1", "services").unwrap();
        assert_eq!(s.qualified(), "services");
        assert_eq!(s.qualified_kind(), "Service");
    }
}
