//! The kinds the fake serves, and the discovery documents that describe
//! them (what kubectl reads before anything else).

use serde_json::{Value, json};

/// One kind of object, as discovery describes it.
#[derive(Debug)]
pub struct ResourceInfo {
    /// The API group ("" for the core group).
    pub group: &'static str,
    pub version: &'static str,
    /// The path segment; unique across groups here, so it keys the store.
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    /// `status`, `scale`, `log`: what may follow the object's name.
    pub subresources: &'static [&'static str],
    pub verbs: &'static [&'static str],
}

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl ResourceInfo {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods` or `deployments.apps`, as error messages name it.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Pod` or `Deployment.apps`, as validation messages name it.
    pub fn group_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_owned()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// Whether writes to the object leave its status alone (it has a
    /// status subresource).
    pub fn has_status(&self) -> bool {
        self.subresources.contains(&"status")
    }

    /// Whether the kind is stored (the review kinds are only answered).
    pub fn stored(&self) -> bool {
        self.group != "authorization.k8s.io"
    }
}

macro_rules! resource {
    ($group:expr, $plural:expr, $singular:expr, $kind:expr, $namespaced:expr, [$($short:expr),*], [$($sub:expr),*]) => {
        ResourceInfo {
            group: $group,
            version: "v1",
            plural: $plural,
            singular: $singular,
            kind: $kind,
            namespaced: $namespaced,
            short_names: &[$($short),*],
            subresources: &[$($sub),*],
            verbs: ALL_VERBS,
        }
    };
}

/// Every kind the fake knows.
pub static RESOURCES: &[ResourceInfo] = &[
    resource!(
        "",
        "namespaces",
        "namespace",
        "Namespace",
        false,
        ["ns"],
        ["status"]
    ),
    resource!("", "nodes", "node", "Node", false, ["no"], ["status"]),
    resource!("", "pods", "pod", "Pod", true, ["po"], ["status", "log"]),
    resource!(
        "",
        "services",
        "service",
        "Service",
        true,
        ["svc"],
        ["status"]
    ),
    resource!("", "secrets", "secret", "Secret", true, [], []),
    resource!("", "configmaps", "configmap", "ConfigMap", true, ["cm"], []),
    resource!(
        "",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        true,
        ["sa"],
        []
    ),
    resource!(
        "",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        true,
        ["pvc"],
        ["status"]
    ),
    resource!("", "events", "event", "Event", true, ["ev"], []),
    resource!(
        "",
        "resourcequotas",
        "resourcequota",
        "ResourceQuota",
        true,
        ["quota"],
        ["status"]
    ),
    resource!(
        "apps",
        "deployments",
        "deployment",
        "Deployment",
        true,
        ["deploy"],
        ["status", "scale"]
    ),
    resource!("batch", "jobs", "job", "Job", true, [], ["status"]),
    ResourceInfo {
        group: "authorization.k8s.io",
        version: "v1",
        plural: "selfsubjectaccessreviews",
        singular: "selfsubjectaccessreview",
        kind: "SelfSubjectAccessReview",
        namespaced: false,
        short_names: &[],
        subresources: &[],
        verbs: &["create"],
    },
    ResourceInfo {
        group: "authorization.k8s.io",
        version: "v1",
        plural: "selfsubjectrulesreviews",
        singular: "selfsubjectrulesreview",
        kind: "SelfSubjectRulesReview",
        namespaced: false,
        short_names: &[],
        subresources: &[],
        verbs: &["create"],
    },
];

/// The kind served at `group/version/plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The kind stored under `plural`.
pub fn by_plural(plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES.iter().find(|r| r.plural == plural)
}

/// The stored kinds (what a namespace deletion sweeps, for instance).
pub fn stored() -> impl Iterator<Item = &'static ResourceInfo> {
    RESOURCES.iter().filter(|r| r.stored())
}

/// The groups besides the core one, in discovery order.
fn groups() -> Vec<&'static str> {
    let mut groups: Vec<&str> = Vec::new();
    for r in RESOURCES {
        if !r.group.is_empty() && !groups.contains(&r.group) {
            groups.push(r.group);
        }
    }
    groups
}

fn group_json(group: &str) -> Value {
    let version = json!({"groupVersion": format!("{group}/v1"), "version": "v1"});
    json!({"name": group, "versions": [version.clone()], "preferredVersion": version})
}

/// `/api`.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    })
}

/// `/apis`.
pub fn group_list() -> Value {
    let groups: Vec<Value> = groups().into_iter().map(group_json).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`, when the group exists.
pub fn group(group: &str) -> Option<Value> {
    groups().contains(&group).then(|| {
        let mut doc = group_json(group);
        doc["kind"] = json!("APIGroup");
        doc["apiVersion"] = json!("v1");
        doc
    })
}

/// `/api/v1` or `/apis/<group>/v1`, when the group and version exist.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let kinds: Vec<&ResourceInfo> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    let first = kinds.first()?;
    let mut resources = Vec::new();
    for r in &kinds {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if matches!(r.plural, "pods" | "services" | "deployments" | "jobs") {
            entry["categories"] = json!(["all"]);
        }
        resources.push(entry);
        for sub in r.subresources {
            let (kind, group, version, verbs): (&str, &str, &str, &[&str]) = match *sub {
                "log" => ("Pod", "", "v1", &["get"]),
                "scale" => ("Scale", "autoscaling", "v1", &["get", "patch", "update"]),
                _ => (r.kind, r.group, r.version, &["get", "patch", "update"]),
            };
            let mut entry = json!({
                "name": format!("{}/{sub}", r.plural),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if group != r.group {
                entry["group"] = json!(group);
                entry["version"] = json!(version);
            }
            resources.push(entry);
        }
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": first.api_version(),
        "resources": resources,
    }))
}

/// The path of a group version's API (`api/v1`, `apis/apps/v1`).
fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: where each group version's document is.
pub fn openapi_root() -> Value {
    let mut paths = serde_json::Map::new();
    for r in RESOURCES {
        let path = group_version_path(r.group, r.version);
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash=fake-{}", r.version)}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/<group version path>`: only what kubectl reads before a
/// write, namely that each kind's PATCH takes `fieldValidation`, so it
/// validates on the server instead of downloading schemas.
pub fn openapi_document(path: &str) -> Option<Value> {
    let mut paths = serde_json::Map::new();
    for r in RESOURCES
        .iter()
        .filter(|r| group_version_path(r.group, r.version) == path && r.verbs.contains(&"patch"))
    {
        let object = if r.namespaced {
            format!("/{path}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("/{path}/{}/{{name}}", r.plural)
        };
        paths.insert(
            object,
            json!({"patch": {
                "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
                "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
            }}),
        );
    }
    (!paths.is_empty()).then(|| {
        json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "paths": paths,
        })
    })
}

/// `/version`: the Kubernetes release the fake plays (the oldest the
/// product supports).
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}
