//! Server-side printing: the `Table` objects kubectl asks for
//! (`Accept: …;as=Table`), with the columns `kubectl get` shows, and the
//! `PartialObjectMetadata` form metadata-only clients ask for.

use serde_json::{Value, json};

use super::resources::ResourceInfo;
use super::store::meta;

/// What a row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    pub fn from_query(value: Option<&str>) -> Include {
        match value {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

/// The form an answer takes, from the `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Object,
    Table(Include),
    Metadata,
}

impl Format {
    pub fn from_accept(accept: &str, include: Include) -> Format {
        if accept.contains("as=Table") {
            Format::Table(include)
        } else if accept.contains("as=PartialObjectMetadata") {
            Format::Metadata
        } else {
            Format::Object
        }
    }
}

/// The object reduced to its metadata.
pub fn partial(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or(json!({})),
    })
}

fn column(name: &str, kind: &str, priority: u8) -> Value {
    let mut column = json!({"name": name, "type": kind, "format": "", "description": name, "priority": priority});
    if name == "Name" {
        column["format"] = json!("name");
    }
    column
}

/// The columns `kubectl get` shows for a kind.
fn columns(resource: &ResourceInfo) -> Vec<Value> {
    let names: &[(&str, &str, u8)] = match resource.plural {
        "pods" => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
        ],
        "nodes" => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
        ],
        "deployments" => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Age", "string", 0),
        ],
        "jobs" => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Completions", "string", 0),
            ("Age", "string", 0),
        ],
        "services" => &[
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
        ],
        "events" => &[
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Message", "string", 0),
            ("Name", "string", 1),
        ],
        _ => &[("Name", "string", 0), ("Age", "string", 0)],
    };
    names.iter().map(|(n, k, p)| column(n, k, *p)).collect()
}

/// How long ago the object was created, as kubectl prints ages.
fn age(object: &Value) -> String {
    since(meta(object, "creationTimestamp"))
}

fn since(time: &str) -> String {
    let Ok(created) = time.parse::<jiff::Timestamp>() else {
        return "<unknown>".into();
    };
    let seconds = (jiff::Timestamp::now().as_second() - created.as_second()).max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{}m{}s", s / 60, s % 60),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn int(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The status word kubectl shows for a pod.
fn pod_status(pod: &Value) -> String {
    if !meta(pod, "deletionTimestamp").is_empty() {
        return "Terminating".into();
    }
    let mut reason = text(pod, "/status/phase").to_owned();
    for status in pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(waiting) = status
            .pointer("/state/waiting/reason")
            .and_then(Value::as_str)
        {
            reason = waiting.to_owned();
        } else if let Some(terminated) = status.pointer("/state/terminated") {
            reason = match terminated.get("reason").and_then(Value::as_str) {
                Some(r) => r.to_owned(),
                None => format!("ExitCode:{}", int(terminated, "/exitCode")),
            };
        }
    }
    if reason.is_empty() {
        "Pending".into()
    } else {
        reason
    }
}

fn cells(resource: &ResourceInfo, object: &Value) -> Vec<Value> {
    let name = json!(meta(object, "name"));
    match resource.plural {
        "pods" => {
            let statuses: Vec<&Value> = object
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .collect();
            let total = object
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let ready = statuses
                .iter()
                .filter(|s| s.get("ready").and_then(Value::as_bool) == Some(true))
                .count();
            let restarts: i64 = statuses.iter().map(|s| int(s, "/restartCount")).sum();
            let or_none = |s: &str| {
                if s.is_empty() {
                    "<none>".to_owned()
                } else {
                    s.to_owned()
                }
            };
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(object)),
                json!(restarts.to_string()),
                json!(age(object)),
                json!(or_none(text(object, "/status/podIP"))),
                json!(or_none(text(object, "/spec/nodeName"))),
            ]
        }
        "nodes" => {
            let ready = object
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            vec![
                name,
                json!(if ready { "Ready" } else { "NotReady" }),
                json!("<none>"),
                json!(age(object)),
                json!(text(object, "/status/nodeInfo/kubeletVersion")),
            ]
        }
        "deployments" => vec![
            name,
            json!(format!(
                "{}/{}",
                int(object, "/status/readyReplicas"),
                int(object, "/spec/replicas")
            )),
            json!(int(object, "/status/updatedReplicas")),
            json!(int(object, "/status/availableReplicas")),
            json!(age(object)),
        ],
        "jobs" => {
            let conditions: Vec<&Value> = object
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|c| c["status"] == "True")
                .collect();
            let status = ["Complete", "Failed", "Suspended"]
                .into_iter()
                .find(|kind| conditions.iter().any(|c| c["type"] == *kind))
                .unwrap_or("Running");
            vec![
                name,
                json!(status),
                json!(format!(
                    "{}/{}",
                    int(object, "/status/succeeded"),
                    object
                        .pointer("/spec/completions")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                )),
                json!(age(object)),
            ]
        }
        "services" => {
            let ports: Vec<String> = object
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| {
                    let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                    match p.get("nodePort").and_then(Value::as_i64) {
                        Some(node_port) => format!("{}:{node_port}/{protocol}", int(p, "/port")),
                        None => format!("{}/{protocol}", int(p, "/port")),
                    }
                })
                .collect();
            vec![
                name,
                json!(text(object, "/spec/type")),
                json!(text(object, "/spec/clusterIP")),
                json!("<none>"),
                json!(ports.join(",")),
                json!(age(object)),
            ]
        }
        "events" => vec![
            json!(since(text(object, "/lastTimestamp"))),
            json!(text(object, "/type")),
            json!(text(object, "/reason")),
            json!(format!(
                "{}/{}",
                text(object, "/involvedObject/kind").to_lowercase(),
                text(object, "/involvedObject/name")
            )),
            json!(text(object, "/message")),
            name,
        ],
        _ => vec![name, json!(age(object))],
    }
}

/// One row of a table.
fn row(resource: &ResourceInfo, object: &Value, include: Include) -> Value {
    let mut row = json!({"cells": cells(resource, object)});
    match include {
        Include::None => {}
        Include::Metadata => row["object"] = partial(object),
        Include::Object => row["object"] = object.clone(),
    }
    row
}

/// A table of objects; `headers` says whether it carries the column
/// definitions (a watch sends them with its first event only).
pub fn table(
    resource: &ResourceInfo,
    objects: &[&Value],
    include: Include,
    headers: bool,
    resource_version: u64,
) -> Value {
    let columns = if headers {
        columns(resource)
    } else {
        Vec::new()
    };
    let rows: Vec<Value> = objects.iter().map(|o| row(resource, o, include)).collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": columns,
        "rows": rows,
    })
}
