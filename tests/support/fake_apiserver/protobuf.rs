//! The protobuf body `kubectl create namespace` sends (kubectl 1.32 sends
//! protobuf for some typed commands and does not retry with JSON after a
//! 415; `kubectl run` and `kubectl apply` send JSON): the `k8s\0` envelope,
//! a `runtime.Unknown` holding the kind and the object's bytes, decoded
//! with the k8s-pb types into the JSON the rest of the fake reads. Only a
//! Namespace and the fields kubectl fills are read; a body with anything
//! else is answered 415, so nothing is silently dropped.

use std::collections::BTreeMap;

use k8s_pb::api::core::v1::Namespace;
use k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::{Map, Value, json};

/// The magic bytes in front of every Kubernetes protobuf body.
const ENVELOPE: &[u8] = b"k8s\0";

/// The object of a protobuf body as JSON; Err says why it cannot be read.
pub fn to_json(body: &[u8]) -> Result<Value, String> {
    let inner = body
        .strip_prefix(ENVELOPE)
        .ok_or("the body lacks the k8s protobuf envelope")?;
    let unknown = Unknown::decode(inner).map_err(|e| format!("the envelope: {e}"))?;
    let type_meta = unknown.type_meta.unwrap_or_default();
    let api_version = type_meta.api_version.unwrap_or_default();
    let kind = type_meta.kind.unwrap_or_default();
    let raw = unknown.raw.unwrap_or_default();
    let mut object = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => {
            namespace(Namespace::decode(raw.as_slice()).map_err(|e| e.to_string())?)?
        }
        _ => {
            return Err(format!(
                "the fake API server reads protobuf only for v1 Namespace, not {api_version} {kind}; send JSON"
            ));
        }
    };
    object.insert("apiVersion".into(), json!(api_version));
    object.insert("kind".into(), json!(kind));
    Ok(Value::Object(object))
}

/// Fails when a part holds anything the fake did not read. Go writes every
/// non-pointer field, so zero values (`""`, `0`, `false`, empty lists and
/// maps) count as unset; the check reads the part's `Debug` form, which
/// shows every set field.
fn all_read<T: std::fmt::Debug>(rest: &T, what: &str) -> Result<(), String> {
    let text = format!("{rest:?}")
        .replace("Some(\"\")", "")
        .replace("Some(0)", "")
        .replace("Some(false)", "")
        .replace("[]", "")
        .replace("{}", "");
    let number = text
        .match_indices("Some(")
        .any(|(at, _)| text[at + 5..].starts_with(|c: char| c.is_ascii_digit() || c == '-'));
    if text.contains('"') || text.contains("Some(true)") || text.contains('[') || number {
        return Err(format!(
            "the fake API server does not read every field of this {what} from protobuf ({text}); send JSON"
        ));
    }
    Ok(())
}

fn insert<T: serde::Serialize>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(value) = value {
        map.insert(key.into(), json!(value));
    }
}

fn insert_list<T: serde::Serialize>(map: &mut Map<String, Value>, key: &str, list: Vec<T>) {
    if !list.is_empty() {
        map.insert(key.into(), json!(list));
    }
}

fn insert_map(map: &mut Map<String, Value>, key: &str, entries: BTreeMap<String, String>) {
    if !entries.is_empty() {
        map.insert(key.into(), json!(entries));
    }
}

fn metadata(meta: Option<ObjectMeta>) -> Result<Value, String> {
    let mut meta = meta.unwrap_or_default();
    let mut out = Map::new();
    insert(&mut out, "name", meta.name.take());
    insert(&mut out, "generateName", meta.generate_name.take());
    insert(&mut out, "namespace", meta.namespace.take());
    insert_map(&mut out, "labels", std::mem::take(&mut meta.labels));
    insert_map(
        &mut out,
        "annotations",
        std::mem::take(&mut meta.annotations),
    );
    all_read(&meta, "object's metadata")?;
    Ok(Value::Object(out))
}

fn namespace(mut namespace: Namespace) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    out.insert("metadata".into(), metadata(namespace.metadata.take())?);
    if let Some(mut spec) = namespace.spec.take() {
        let mut json_spec = Map::new();
        insert_list(
            &mut json_spec,
            "finalizers",
            std::mem::take(&mut spec.finalizers),
        );
        all_read(&spec, "Namespace")?;
        out.insert("spec".into(), Value::Object(json_spec));
    }
    all_read(&namespace, "Namespace")?;
    Ok(out)
}
