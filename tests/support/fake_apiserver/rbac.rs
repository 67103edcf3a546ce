//! RBAC for the bearer token: the rules of a ClusterRole, read from a
//! manifest such as `packaging/kubernetes/rbac.yaml`, decide what the
//! token may do, the way the real authorizer would for a subject bound to
//! that ClusterRole (`*` matches any group, resource or verb; a
//! subresource is named `pods/log`). Discovery, `/version` and OpenAPI
//! stay open, as the real server's `system:discovery` role keeps them.

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use serde_json::Value;

/// The rules one token is granted.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: Vec<PolicyRule>,
}

impl Policy {
    /// The rules of the ClusterRole named `role` in a YAML manifest of one
    /// or more documents.
    pub fn from_manifest(yaml: &str, role: &str) -> Result<Policy, String> {
        let documents: Vec<Value> =
            serde_saphyr::from_multiple(yaml).map_err(|e| format!("the manifest: {e}"))?;
        let found = documents
            .into_iter()
            .filter(|d| d.get("kind").and_then(Value::as_str) == Some("ClusterRole"))
            .map(serde_json::from_value::<ClusterRole>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("a ClusterRole: {e}"))?
            .into_iter()
            .find(|r| r.metadata.name.as_deref() == Some(role))
            .ok_or_else(|| format!("no ClusterRole {role:?} in the manifest"))?;
        Ok(Policy {
            rules: found.rules.unwrap_or_default(),
        })
    }

    /// Whether any rule grants `verb` on `resource` (or `resource/sub`)
    /// of `group`.
    pub fn allows(&self, verb: &str, group: &str, resource: &str) -> bool {
        let has = |list: &Option<Vec<String>>, want: &str| {
            list.iter()
                .flatten()
                .any(|item| item == "*" || item == want)
        };
        self.rules.iter().any(|rule| {
            has(&Some(rule.verbs.clone()), verb)
                && has(&rule.api_groups, group)
                && has(&rule.resources, resource)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_group_resource_and_verb() {
        let yaml = "\
apiVersion: v1
kind: Namespace
metadata: {name: x}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: r}
rules:
- apiGroups: [\"\"]
  resources: [\"pods\", \"pods/log\"]
  verbs: [\"list\", \"get\"]
- apiGroups: [\"apps\"]
  resources: [\"*\"]
  verbs: [\"watch\"]
";
        let policy = Policy::from_manifest(yaml, "r").unwrap();
        assert!(policy.allows("list", "", "pods"));
        assert!(policy.allows("get", "", "pods/log"));
        assert!(!policy.allows("delete", "", "pods"));
        assert!(!policy.allows("list", "apps", "pods"));
        assert!(policy.allows("watch", "apps", "deployments"));
        assert!(Policy::from_manifest(yaml, "other").is_err());
    }
}
