//! The four patch kinds the API accepts: JSON merge patch (RFC 7386),
//! strategic merge patch (merge patch plus merging lists by key, what
//! `kubectl apply` sends), JSON patch (RFC 6902) and server-side apply.

use serde_json::{Map, Value};

/// RFC 7386: objects merge, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// Server-side apply as far as the fake goes: the applied fields merge in,
/// maps recursively, lists replaced; `null` leaves a field as it is.
pub fn apply(target: &mut Value, applied: &Value) {
    match (target, applied) {
        (Value::Object(target), Value::Object(applied)) => {
            for (key, value) in applied {
                if value.is_null() {
                    continue;
                }
                match target.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        apply(existing, value)
                    }
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, applied) => *target = applied.clone(),
    }
}

/// The key that identifies elements of a list field in a strategic merge
/// patch (Kubernetes' `patchMergeKey`), for the lists kubectl patches.
fn merge_key(field: &str, elements: &[Value]) -> Option<&'static str> {
    let has = |key: &str| elements.iter().all(|e| e.get(key).is_some());
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "ports" if has("containerPort") => Some("containerPort"),
        "ports" => Some("port"),
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        "hostAliases" => Some("ip"),
        _ => None,
    }
}

/// Strategic merge patch: merge patch semantics, with lists of keyed
/// elements merged element by element, `$patch: delete|replace`
/// directives, and the `$setElementOrder`/`$retainKeys` hints ignored.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replacement = patch.clone();
        replacement.remove("$patch");
        *target = Value::Object(replacement);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Value::Array(removed)) =
                (target.get_mut(field), value)
            {
                list.retain(|item| !removed.contains(item));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() || value.get("$patch").and_then(Value::as_str) == Some("delete") {
            target.remove(key);
            continue;
        }
        match (target.get_mut(key), value) {
            (Some(Value::Array(existing)), Value::Array(patched)) => {
                match merge_key(key, patched) {
                    Some(merge_key) => merge_list(existing, patched, merge_key),
                    None => *existing = patched.clone(),
                }
            }
            (Some(existing), patched) if existing.is_object() && patched.is_object() => {
                strategic_merge(existing, patched)
            }
            _ => {
                target.insert(key.clone(), strip_directives(value));
            }
        }
    }
}

/// A value with the patch directives removed (for inserted subtrees).
fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

fn merge_list(existing: &mut Vec<Value>, patched: &[Value], key: &str) {
    for element in patched {
        let id = element.get(key);
        let position = existing.iter().position(|e| e.get(key) == id);
        let delete = element.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(i), true) => {
                existing.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge(&mut existing[i], element),
            (None, false) => existing.push(strip_directives(element)),
        }
    }
}

/// RFC 6902 operations on a copy of `target`.
pub fn json_patch(target: &Value, operations: &Value) -> Result<Value, String> {
    let operations = operations
        .as_array()
        .ok_or("a JSON patch is a list of operations")?;
    let mut document = target.clone();
    for operation in operations {
        let op = operation
            .get("op")
            .and_then(Value::as_str)
            .ok_or("each operation needs an op")?;
        let path = operation
            .get("path")
            .and_then(Value::as_str)
            .ok_or("each operation needs a path")?;
        let value = || {
            operation
                .get("value")
                .cloned()
                .ok_or_else(|| format!("{op} at {path} needs a value"))
        };
        let from = || {
            operation
                .get("from")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{op} at {path} needs a from"))
        };
        match op {
            "add" => add(&mut document, path, value()?)?,
            "remove" => {
                remove(&mut document, path)?;
            }
            "replace" => {
                remove(&mut document, path)?;
                add(&mut document, path, value()?)?;
            }
            "test" => {
                if document.pointer(path) != Some(&value()?) {
                    return Err(format!("test failed at {path}"));
                }
            }
            "move" => {
                let moved = remove(&mut document, from()?)?;
                add(&mut document, path, moved)?;
            }
            "copy" => {
                let copied = document
                    .pointer(from()?)
                    .cloned()
                    .ok_or_else(|| format!("nothing at {}", from().unwrap_or_default()))?;
                add(&mut document, path, copied)?;
            }
            other => return Err(format!("unknown operation {other}")),
        }
    }
    Ok(document)
}

/// The parent pointer and the unescaped last token of a JSON pointer.
fn split_pointer(path: &str) -> Result<(&str, String), String> {
    let i = path
        .rfind('/')
        .ok_or_else(|| format!("{path} is not a JSON pointer"))?;
    let token = path[i + 1..].replace("~1", "/").replace("~0", "~");
    Ok((&path[..i], token))
}

fn add(document: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *document = value;
        return Ok(());
    }
    let (parent, token) = split_pointer(path)?;
    match document.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(token, value);
            Ok(())
        }
        Some(Value::Array(list)) => {
            let index = if token == "-" {
                list.len()
            } else {
                token
                    .parse::<usize>()
                    .ok()
                    .filter(|i| *i <= list.len())
                    .ok_or_else(|| format!("bad index in {path}"))?
            };
            list.insert(index, value);
            Ok(())
        }
        _ => Err(format!("nothing to add to at {path}")),
    }
}

fn remove(document: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, token) = split_pointer(path)?;
    let removed = match document.pointer_mut(parent) {
        Some(Value::Object(map)) => map.remove(&token),
        Some(Value::Array(list)) => token
            .parse::<usize>()
            .ok()
            .filter(|i| *i < list.len())
            .map(|i| list.remove(i)),
        _ => None,
    };
    removed.ok_or_else(|| format!("nothing to remove at {path}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
    }

    #[test]
    fn strategic_merge_merges_containers_by_name() {
        let mut doc = json!({"spec": {"containers": [
            {"name": "a", "image": "x", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "y"}
        ]}});
        strategic_merge(
            &mut doc,
            &json!({"spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                "containers": [{"name": "a", "image": "x2"}, {"name": "b", "$patch": "delete"}]
            }}),
        );
        assert_eq!(
            doc,
            json!({"spec": {"containers": [{"name": "a", "image": "x2", "ports": [{"containerPort": 80}]}]}})
        );
    }

    #[test]
    fn json_patch_adds_replaces_removes_and_tests() {
        let doc = json!({"metadata": {"labels": {"a": "1"}}, "list": [1, 2]});
        let patched = json_patch(
            &doc,
            &json!([
                {"op": "test", "path": "/metadata/labels/a", "value": "1"},
                {"op": "add", "path": "/metadata/labels/b~1c", "value": "2"},
                {"op": "replace", "path": "/list/0", "value": 9},
                {"op": "add", "path": "/list/-", "value": 3},
                {"op": "remove", "path": "/metadata/labels/a"}
            ]),
        )
        .expect("patch applies");
        assert_eq!(
            patched,
            json!({"metadata": {"labels": {"b/c": "2"}}, "list": [9, 2, 3]})
        );
        assert!(
            json_patch(
                &doc,
                &json!([{"op": "test", "path": "/list/0", "value": 5}])
            )
            .is_err()
        );
    }
}
