//! Resource quotas: what each object counts against one, and the
//! admission check that refuses an object a quota cannot fit, with the
//! real API server's message.

use serde_json::Value;

use super::quantity::{self, Amounts, ONE};
use super::resources::ResourceInfo;

/// Whether a pod ended (it no longer counts against quotas or nodes).
pub fn is_terminal_pod(pod: &Value) -> bool {
    matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

/// What one object counts against its namespace's quotas, under every
/// name a quota may use (`requests.cpu` and `cpu`, `count/pods` and
/// `pods`, `requests.nvidia.com/gpu`, `requests.storage`, …).
pub fn usage(resource: &ResourceInfo, object: &Value) -> Amounts {
    let mut used = Amounts::new();
    let count = if resource.group.is_empty() {
        format!("count/{}", resource.plural)
    } else {
        format!("count/{}.{}", resource.plural, resource.group)
    };
    used.insert(count, ONE);
    match resource.plural {
        "pods" if !is_terminal_pod(object) => {
            used.insert("pods".into(), ONE);
            for (name, amount) in quantity::pod_requests(object) {
                if name == "cpu" || name == "memory" {
                    used.insert(name.clone(), amount);
                }
                used.insert(format!("requests.{name}"), amount);
            }
            for (name, amount) in quantity::pod_limits(object) {
                used.insert(format!("limits.{name}"), amount);
            }
        }
        "persistentvolumeclaims" => {
            used.insert("persistentvolumeclaims".into(), ONE);
            if let Some(storage) = object
                .pointer("/spec/resources/requests/storage")
                .and_then(Value::as_str)
                .and_then(quantity::parse)
            {
                used.insert("requests.storage".into(), storage);
                if let Some(class) = object
                    .pointer("/spec/storageClassName")
                    .and_then(Value::as_str)
                {
                    let prefix = format!("{class}.storageclass.storage.k8s.io");
                    used.insert(format!("{prefix}/requests.storage"), storage);
                    used.insert(format!("{prefix}/persistentvolumeclaims"), ONE);
                }
            }
        }
        "services" => {
            used.insert("services".into(), ONE);
            let kind = object.pointer("/spec/type").and_then(Value::as_str);
            let ports = object
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map_or(0, Vec::len) as i128;
            if matches!(kind, Some("NodePort" | "LoadBalancer")) {
                used.insert("services.nodeports".into(), ports * ONE);
            }
            if kind == Some("LoadBalancer") {
                used.insert("services.loadbalancers".into(), ONE);
            }
        }
        "secrets" | "configmaps" | "resourcequotas" => {
            used.insert(resource.plural.into(), ONE);
        }
        _ => {}
    }
    used
}

/// The quota resources a pod must state explicitly when a quota tracks
/// them ("must specify limits.cpu").
const MUST_SPECIFY: [(&str, &str, &str); 4] = [
    ("requests.cpu", "requests", "cpu"),
    ("limits.cpu", "limits", "cpu"),
    ("requests.memory", "requests", "memory"),
    ("limits.memory", "limits", "memory"),
];

/// Checks a write against the namespace's quotas: `quotas` are the
/// ResourceQuota objects, `used` the namespace's current usage, `old` and
/// `new` the object before and after. `Err` holds the message after
/// `<kind> "<name>" is forbidden: `.
pub fn admit(
    resource: &ResourceInfo,
    quotas: &[&Value],
    used: &Amounts,
    old: Option<&Value>,
    new: &Value,
) -> Result<(), String> {
    let mut delta = usage(resource, new);
    if let Some(old) = old {
        quantity::subtract(&mut delta, &usage(resource, old));
    }
    for quota in quotas {
        let name = quota
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let hard = quantity::amounts(quota.pointer("/spec/hard"));
        if resource.plural == "pods" && old.is_none() {
            let missing: Vec<String> = MUST_SPECIFY
                .iter()
                .filter(|(key, _, _)| hard.contains_key(*key))
                .filter_map(|(key, field, resource_name)| {
                    let containers: Vec<&str> = quantity::containers(new)
                        .filter(|c| {
                            let explicit = c
                                .pointer(&format!("/resources/{field}/{resource_name}"))
                                .is_some();
                            // A limit stands in for a missing request.
                            let via_limit = *field == "requests"
                                && c.pointer(&format!("/resources/limits/{resource_name}"))
                                    .is_some();
                            !(explicit || via_limit)
                        })
                        .filter_map(|c| c.get("name").and_then(Value::as_str))
                        .collect();
                    (!containers.is_empty()).then(|| format!("{key} for: {}", containers.join(",")))
                })
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "failed quota: {name}: must specify {}",
                    missing.join("; ")
                ));
            }
        }
        let exceeded: Vec<&String> = hard
            .iter()
            .filter(|(key, limit)| {
                let more = delta.get(*key).copied().unwrap_or(0);
                more > 0 && used.get(*key).copied().unwrap_or(0) + more > **limit
            })
            .map(|(key, _)| key)
            .collect();
        if !exceeded.is_empty() {
            let list = |amounts: &dyn Fn(&str) -> i128| {
                exceeded
                    .iter()
                    .map(|key| format!("{key}={}", quantity::format(amounts(key))))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            return Err(format!(
                "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
                list(&|k| delta.get(k).copied().unwrap_or(0)),
                list(&|k| used.get(k).copied().unwrap_or(0)),
                list(&|k| hard.get(k).copied().unwrap_or(0)),
            ));
        }
    }
    Ok(())
}
