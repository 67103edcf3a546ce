//! Validation like the real API server's, where it catches client bugs:
//! the body must deserialize into the k8s-openapi type; names, labels,
//! required fields and immutable fields are checked with the real
//! messages. Defaulting fills what the real server fills and clients read.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::quantity;
use super::resources::ResourceInfo;
use super::selectors::LabelSelector;

/// One reason an object is invalid (a `details.causes` entry).
#[derive(Debug, Clone)]
pub struct Cause {
    pub reason: &'static str,
    pub field: String,
    /// The text after `field: `.
    pub message: String,
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn required(field: impl Into<String>, detail: &str) -> Cause {
    let message = if detail.is_empty() {
        "Required value".to_owned()
    } else {
        format!("Required value: {detail}")
    };
    Cause {
        reason: "FieldValueRequired",
        field: field.into(),
        message,
    }
}

fn invalid(field: impl Into<String>, value: &Value, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        field: field.into(),
        message: format!("Invalid value: {}: {detail}", show(value)),
    }
}

fn forbidden(field: impl Into<String>, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueForbidden",
        field: field.into(),
        message: format!("Forbidden: {detail}"),
    }
}

fn unsupported(field: impl Into<String>, value: &Value, supported: &[&str]) -> Cause {
    let supported: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
    Cause {
        reason: "FieldValueNotSupported",
        field: field.into(),
        message: format!(
            "Unsupported value: {}: supported values: {}",
            show(value),
            supported.join(", ")
        ),
    }
}

fn duplicate(field: impl Into<String>, value: &Value) -> Cause {
    Cause {
        reason: "FieldValueDuplicate",
        field: field.into(),
        message: format!("Duplicate value: {}", show(value)),
    }
}

fn not_found(field: impl Into<String>, value: &Value) -> Cause {
    Cause {
        reason: "FieldValueNotFound",
        field: field.into(),
        message: format!("Not found: {}", show(value)),
    }
}

fn immutable(field: &str, value: &Value) -> Cause {
    invalid(field, value, "field is immutable")
}

const SUBDOMAIN_HELP: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_HELP: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_HELP: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_HELP: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_NAME_HELP: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Dot-separated parts shaped like DNS-1123 labels, at most 253
/// characters in all: like the real server's `IsDNS1123Subdomain`, no
/// part is limited to 63 (`<63 characters>-ssh` is a valid Secret name).
pub fn is_dns1123_subdomain(s: &str) -> bool {
    let part = |p: &str| {
        let b = p.as_bytes();
        !b.is_empty()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    };
    s.len() <= 253 && s.split('.').all(part)
}

fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

/// A label value: empty, or alphanumerics with `-_.` inside, at most 63.
fn is_label_value(s: &str) -> bool {
    let b = s.as_bytes();
    b.is_empty()
        || (b.len() <= 63
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric())
}

/// A label or annotation key: an optional DNS subdomain prefix and `/`,
/// then a name like a non-empty label value.
fn is_qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    prefix.is_none_or(is_dns1123_subdomain) && !name.is_empty() && is_label_value(name)
}

/// An IANA service name, as container port names must be.
fn is_port_name(s: &str) -> bool {
    s.len() <= 15
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && s.bytes().any(|c| c.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

fn check_labels(field: &str, labels: Option<&Value>, causes: &mut Vec<Cause>) {
    for (key, value) in labels.and_then(Value::as_object).into_iter().flatten() {
        if !is_qualified_name(key) {
            causes.push(invalid(field, &json!(key), QUALIFIED_NAME_HELP));
        }
        match value.as_str() {
            Some(v) if is_label_value(v) => {}
            _ => causes.push(invalid(field, value, LABEL_VALUE_HELP)),
        }
    }
}

fn check_annotations(field: &str, annotations: Option<&Value>, causes: &mut Vec<Cause>) {
    for key in annotations
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        if !is_qualified_name(key) {
            causes.push(invalid(field, &json!(key), QUALIFIED_NAME_HELP));
        }
    }
}

/// Fills what the real API server defaults, before validation, on create
/// and on update.
pub fn default(resource: &ResourceInfo, object: &mut Value) {
    match resource.plural {
        "namespaces" => {
            let name = object["metadata"]["name"].clone();
            object["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
        }
        "pods" => {
            if let Some(spec) = spec_of(object) {
                default_pod_spec(spec, true);
            }
        }
        "deployments" => {
            if let Some(spec) = spec_of(object) {
                spec.entry("replicas").or_insert(json!(1));
                spec.entry("revisionHistoryLimit").or_insert(json!(10));
                spec.entry("progressDeadlineSeconds").or_insert(json!(600));
                spec.entry("strategy").or_insert(json!({
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}
                }));
                if let Some(pod) = spec
                    .get_mut("template")
                    .and_then(|t| t.get_mut("spec"))
                    .and_then(Value::as_object_mut)
                {
                    default_pod_spec(pod, true);
                }
            }
        }
        "jobs" => {
            if let Some(spec) = spec_of(object) {
                spec.entry("backoffLimit").or_insert(json!(6));
                spec.entry("completions").or_insert(json!(1));
                spec.entry("parallelism").or_insert(json!(1));
                spec.entry("completionMode").or_insert(json!("NonIndexed"));
                spec.entry("suspend").or_insert(json!(false));
                if let Some(pod) = spec
                    .get_mut("template")
                    .and_then(|t| t.get_mut("spec"))
                    .and_then(Value::as_object_mut)
                {
                    // A Job's pods must say how they restart: no default.
                    default_pod_spec(pod, false);
                }
            }
        }
        "services" => {
            if let Some(spec) = spec_of(object) {
                spec.entry("type").or_insert(json!("ClusterIP"));
                spec.entry("sessionAffinity").or_insert(json!("None"));
                if spec.get("type").and_then(Value::as_str) == Some("NodePort") {
                    spec.entry("externalTrafficPolicy")
                        .or_insert(json!("Cluster"));
                }
                for port in spec
                    .get_mut("ports")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if let Some(port) = port.as_object_mut() {
                        port.entry("protocol").or_insert(json!("TCP"));
                        if let Some(number) = port.get("port").cloned() {
                            port.entry("targetPort").or_insert(number);
                        }
                    }
                }
            }
        }
        "secrets" => {
            if let Some(secret) = object.as_object_mut() {
                secret.entry("type").or_insert(json!("Opaque"));
                // Like the real server: stringData is write-only and lands
                // in data, base64-encoded.
                if let Some(Value::Object(strings)) = secret.remove("stringData") {
                    use base64::Engine as _;
                    let data = secret.entry("data").or_insert(json!({}));
                    for (key, value) in strings {
                        let text = value.as_str().unwrap_or_default();
                        data[key] = json!(base64::engine::general_purpose::STANDARD.encode(text));
                    }
                }
            }
        }
        "persistentvolumeclaims" => {
            if let Some(spec) = spec_of(object) {
                spec.entry("volumeMode").or_insert(json!("Filesystem"));
            }
        }
        _ => {}
    }
}

fn spec_of(object: &mut Value) -> Option<&mut Map<String, Value>> {
    object.get_mut("spec").and_then(Value::as_object_mut)
}

fn default_pod_spec(spec: &mut Map<String, Value>, restart_always: bool) {
    if restart_always {
        spec.entry("restartPolicy").or_insert(json!("Always"));
    }
    spec.entry("terminationGracePeriodSeconds")
        .or_insert(json!(30));
    spec.entry("dnsPolicy").or_insert(json!("ClusterFirst"));
    spec.entry("schedulerName")
        .or_insert(json!("default-scheduler"));
    spec.entry("serviceAccountName").or_insert(json!("default"));
    for container in spec
        .get_mut("containers")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        for port in container
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(port) = port.as_object_mut() {
                port.entry("protocol").or_insert(json!("TCP"));
            }
        }
    }
}

/// The object as the k8s-openapi type of its kind reads and writes it:
/// what the real server stores (quantities as strings, unknown fields
/// dropped), or why it does not decode.
fn typed<K: DeserializeOwned + Serialize>(object: &Value) -> Result<Value, Cause> {
    let decode_error = |e: serde_json::Error| Cause {
        reason: "FieldValueInvalid",
        field: String::new(),
        message: format!("the body does not decode as the kind: {e}"),
    };
    let decoded = serde_json::from_value::<K>(object.clone()).map_err(decode_error)?;
    serde_json::to_value(decoded).map_err(decode_error)
}

/// Decodes and re-encodes an object through its k8s-openapi type.
fn normalize(resource: &ResourceInfo, object: &Value) -> Result<Value, Cause> {
    use k8s_openapi::api::{apps, batch, core};
    match resource.plural {
        "namespaces" => typed::<core::v1::Namespace>(object),
        "nodes" => typed::<core::v1::Node>(object),
        "pods" => typed::<core::v1::Pod>(object),
        "services" => typed::<core::v1::Service>(object),
        "secrets" => typed::<core::v1::Secret>(object),
        "configmaps" => typed::<core::v1::ConfigMap>(object),
        "serviceaccounts" => typed::<core::v1::ServiceAccount>(object),
        "persistentvolumeclaims" => typed::<core::v1::PersistentVolumeClaim>(object),
        "events" => typed::<core::v1::Event>(object),
        "resourcequotas" => typed::<core::v1::ResourceQuota>(object),
        "deployments" => typed::<apps::v1::Deployment>(object),
        "jobs" => typed::<batch::v1::Job>(object),
        _ => Ok(object.clone()),
    }
}

/// The fields of a body its kind does not have (what
/// `fieldValidation=Strict` refuses), as dotted paths.
pub fn unknown_fields(resource: &ResourceInfo, object: &Value) -> Vec<String> {
    fn walk(given: &Value, known: &Value, path: &str, found: &mut Vec<String>) {
        match (given, known) {
            (Value::Object(given), Value::Object(known)) => {
                for (key, value) in given {
                    let at = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    match known.get(key) {
                        Some(known) => walk(value, known, &at, found),
                        None if !value.is_null() => found.push(at),
                        None => {}
                    }
                }
            }
            (Value::Array(given), Value::Array(known)) => {
                for (i, (value, known)) in given.iter().zip(known).enumerate() {
                    walk(value, known, &format!("{path}[{i}]"), found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    if let Ok(known) = normalize(resource, object) {
        walk(object, &known, "", &mut found);
    }
    found
}

/// Validates an object about to be stored (`old` is the stored object on
/// an update) and returns it as the server stores it, or every cause
/// found.
pub fn validate(
    resource: &ResourceInfo,
    object: &Value,
    old: Option<&Value>,
) -> Result<Value, Vec<Cause>> {
    let object = normalize(resource, object).map_err(|cause| vec![cause])?;
    let causes = rules(resource, &object, old);
    if causes.is_empty() {
        Ok(object)
    } else {
        Err(causes)
    }
}

fn rules(resource: &ResourceInfo, object: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    let name = object.pointer("/metadata/name").and_then(Value::as_str);
    match name {
        None | Some("") => causes.push(required(
            "metadata.name",
            "name or generateName is required",
        )),
        Some(name) => {
            let (ok, help) = match resource.plural {
                "namespaces" => (is_dns1123_label(name), LABEL_HELP),
                "services" => (is_dns1035_label(name), DNS1035_HELP),
                // The name goes into the pods' job-name label.
                "jobs" => (
                    is_dns1123_subdomain(name) && name.len() <= 63,
                    SUBDOMAIN_HELP,
                ),
                _ => (is_dns1123_subdomain(name), SUBDOMAIN_HELP),
            };
            if !ok {
                causes.push(invalid("metadata.name", &json!(name), help));
            }
        }
    }
    check_labels(
        "metadata.labels",
        object.pointer("/metadata/labels"),
        &mut causes,
    );
    check_annotations(
        "metadata.annotations",
        object.pointer("/metadata/annotations"),
        &mut causes,
    );
    let empty = json!({});
    let spec = object.get("spec").unwrap_or(&empty);
    let old_spec = old.map(|o| o.get("spec").unwrap_or(&empty));
    match resource.plural {
        "pods" => {
            check_pod_spec("spec", spec, &["Always", "OnFailure", "Never"], &mut causes);
            if let Some(old_spec) = old_spec {
                check_pod_update(spec, old_spec, &mut causes);
            }
        }
        "deployments" => check_deployment(spec, old_spec, &mut causes),
        "jobs" => check_job(spec, old_spec, &mut causes),
        "services" => check_service(spec, old_spec, &mut causes),
        "persistentvolumeclaims" => check_claim(spec, old_spec, &mut causes),
        "secrets" | "configmaps" => {
            if let Some(old) = old {
                check_immutable_data(object, old, &mut causes);
            }
        }
        "resourcequotas" => {
            for (key, value) in spec
                .get("hard")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if value.as_str().and_then(quantity::parse).is_none() {
                    causes.push(invalid(
                        format!("spec.hard[{key}]"),
                        value,
                        "must be a valid quantity",
                    ));
                }
            }
        }
        _ => {}
    }
    causes
}

fn check_pod_spec(field: &str, spec: &Value, restart: &[&str], causes: &mut Vec<Cause>) {
    let volumes: Vec<&str> = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .collect();
    for (i, volume) in volumes.iter().enumerate() {
        let at = format!("{field}.volumes[{i}].name");
        if !is_dns1123_label(volume) {
            causes.push(invalid(at.clone(), &json!(volume), LABEL_HELP));
        }
        if volumes[..i].contains(volume) {
            causes.push(duplicate(at, &json!(volume)));
        }
    }
    let containers = spec
        .get("containers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if containers.is_empty() {
        causes.push(required(format!("{field}.containers"), ""));
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, container) in containers.iter().enumerate() {
        let at = format!("{field}.containers[{i}]");
        let name = container.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            causes.push(required(format!("{at}.name"), ""));
        } else if !is_dns1123_label(name) {
            causes.push(invalid(format!("{at}.name"), &json!(name), LABEL_HELP));
        } else if names.contains(&name) {
            causes.push(duplicate(format!("{at}.name"), &json!(name)));
        }
        names.push(name);
        if container
            .get("image")
            .and_then(Value::as_str)
            .is_none_or(|image| image.trim().is_empty())
        {
            causes.push(required(format!("{at}.image"), ""));
        }
        check_ports(&at, container, causes);
        check_resources(&at, container, causes);
        let mut paths: Vec<&str> = Vec::new();
        for (j, mount) in container
            .get("volumeMounts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let mount_at = format!("{at}.volumeMounts[{j}]");
            let mount_name = mount.get("name").and_then(Value::as_str).unwrap_or("");
            if !volumes.contains(&mount_name) {
                causes.push(not_found(format!("{mount_at}.name"), &json!(mount_name)));
            }
            let path = mount.get("mountPath").and_then(Value::as_str).unwrap_or("");
            if path.is_empty() {
                causes.push(required(format!("{mount_at}.mountPath"), ""));
            } else if paths.contains(&path) {
                causes.push(invalid(
                    format!("{mount_at}.mountPath"),
                    &json!(path),
                    "must be unique",
                ));
            }
            paths.push(path);
        }
    }
    if let Some(policy) = spec.get("restartPolicy") {
        if !policy.as_str().is_some_and(|p| restart.contains(&p)) {
            causes.push(unsupported(
                format!("{field}.restartPolicy"),
                policy,
                restart,
            ));
        }
    } else {
        let supported: Vec<String> = restart.iter().map(|s| format!("{s:?}")).collect();
        causes.push(required(
            format!("{field}.restartPolicy"),
            &format!("valid values: {}", supported.join(", ")),
        ));
    }
    check_labels(
        &format!("{field}.nodeSelector"),
        spec.get("nodeSelector"),
        causes,
    );
}

fn check_ports(at: &str, container: &Value, causes: &mut Vec<Cause>) {
    let mut names: Vec<&str> = Vec::new();
    for (j, port) in container
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let port_at = format!("{at}.ports[{j}]");
        let number = port
            .get("containerPort")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if !(1..=65535).contains(&number) {
            causes.push(invalid(
                format!("{port_at}.containerPort"),
                &json!(number),
                "must be between 1 and 65535, inclusive",
            ));
        }
        if let Some(name) = port.get("name").and_then(Value::as_str) {
            if !is_port_name(name) {
                causes.push(invalid(
                    format!("{port_at}.name"),
                    &json!(name),
                    "must be no more than 15 characters, contain only lowercase alphanumerics or '-', contain at least one letter, and not start, end or contain '--'",
                ));
            } else if names.contains(&name) {
                causes.push(duplicate(format!("{port_at}.name"), &json!(name)));
            }
            names.push(name);
        }
    }
}

/// Whether a resource name is one of Kubernetes' own (cpu, memory, …)
/// rather than an extended resource such as `nvidia.com/gpu`.
fn is_native(resource: &str) -> bool {
    !resource.contains('/') || resource.starts_with("kubernetes.io/")
}

fn check_resources(at: &str, container: &Value, causes: &mut Vec<Cause>) {
    for part in ["limits", "requests"] {
        for (name, value) in container
            .pointer(&format!("/resources/{part}"))
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if value.as_str().and_then(quantity::parse).is_none() {
                causes.push(invalid(
                    format!("{at}.resources.{part}[{name}]"),
                    value,
                    "must be a valid quantity",
                ));
            }
        }
    }
    let limits = quantity::amounts(container.pointer("/resources/limits"));
    let requests = quantity::amounts(container.pointer("/resources/requests"));
    for (name, request) in &requests {
        let field = format!("{at}.resources.requests[{name}]");
        let shown = json!(quantity::format(*request));
        match limits.get(name) {
            None if !is_native(name) => causes.push(forbidden(
                format!("{at}.resources.limits"),
                &format!("Limit must be set for non overcommitable resources: {name}"),
            )),
            Some(limit) if !is_native(name) && request != limit => causes.push(invalid(
                field,
                &shown,
                &format!(
                    "must be equal to {name} limit of {}",
                    quantity::format(*limit)
                ),
            )),
            Some(limit) if request > limit => causes.push(invalid(
                field,
                &shown,
                &format!(
                    "must be less than or equal to {name} limit of {}",
                    quantity::format(*limit)
                ),
            )),
            _ => {}
        }
    }
    for (name, limit) in &limits {
        if !is_native(name) && limit % quantity::ONE != 0 {
            causes.push(invalid(
                format!("{at}.resources.limits[{name}]"),
                &json!(quantity::format(*limit)),
                "must be an integer",
            ));
        }
    }
}

/// Pods may change little once created.
fn check_pod_update(spec: &Value, old: &Value, causes: &mut Vec<Cause>) {
    let mutable = |spec: &Value| {
        let mut spec = spec.clone();
        if let Some(map) = spec.as_object_mut() {
            for field in ["activeDeadlineSeconds", "tolerations", "nodeName"] {
                map.remove(field);
            }
        }
        for container in spec
            .get_mut("containers")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(map) = container.as_object_mut() {
                map.remove("image");
            }
        }
        spec
    };
    if mutable(spec) != mutable(old) {
        causes.push(forbidden(
            "spec",
            "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
        ));
    }
}

fn check_selector_matches_template(spec: &Value, causes: &mut Vec<Cause>) {
    let Some(selector) = spec.get("selector") else {
        causes.push(required("spec.selector", ""));
        return;
    };
    match LabelSelector::from_object(selector) {
        Err(e) => causes.push(invalid("spec.selector", selector, &e)),
        Ok(parsed) if parsed.is_empty() => causes.push(invalid(
            "spec.selector",
            selector,
            "empty selector is invalid for deployment",
        )),
        Ok(parsed) => {
            let empty = Map::new();
            let labels = spec
                .pointer("/template/metadata/labels")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            if !parsed.matches_labels(labels) {
                causes.push(invalid(
                    "spec.template.metadata.labels",
                    &Value::Object(labels.clone()),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    check_labels(
        "spec.template.metadata.labels",
        spec.pointer("/template/metadata/labels"),
        causes,
    );
}

fn check_non_negative(spec: &Value, field: &str, causes: &mut Vec<Cause>) {
    if let Some(value) = spec
        .get(field)
        .filter(|v| v.as_i64().is_some_and(|n| n < 0))
    {
        causes.push(invalid(
            format!("spec.{field}"),
            value,
            "must be greater than or equal to 0",
        ));
    }
}

fn check_deployment(spec: &Value, old: Option<&Value>, causes: &mut Vec<Cause>) {
    check_non_negative(spec, "replicas", causes);
    check_selector_matches_template(spec, causes);
    let empty = json!({});
    let pod = spec.pointer("/template/spec").unwrap_or(&empty);
    check_pod_spec("spec.template.spec", pod, &["Always"], causes);
    if let Some(old) = old
        && spec.get("selector") != old.get("selector")
    {
        causes.push(immutable(
            "spec.selector",
            spec.get("selector").unwrap_or(&Value::Null),
        ));
    }
}

fn check_job(spec: &Value, old: Option<&Value>, causes: &mut Vec<Cause>) {
    for field in [
        "backoffLimit",
        "completions",
        "parallelism",
        "ttlSecondsAfterFinished",
    ] {
        check_non_negative(spec, field, causes);
    }
    if let Some(value) = spec
        .get("activeDeadlineSeconds")
        .filter(|v| v.as_i64().is_some_and(|n| n <= 0))
    {
        causes.push(invalid(
            "spec.activeDeadlineSeconds",
            value,
            "must be greater than 0",
        ));
    }
    check_selector_matches_template(spec, causes);
    let empty = json!({});
    let pod = spec.pointer("/template/spec").unwrap_or(&empty);
    check_pod_spec("spec.template.spec", pod, &["OnFailure", "Never"], causes);
    if let Some(old) = old {
        for field in ["selector", "template"] {
            if spec.get(field) != old.get(field) {
                causes.push(immutable(
                    &format!("spec.{field}"),
                    spec.get(field).unwrap_or(&Value::Null),
                ));
            }
        }
    }
}

fn check_service(spec: &Value, old: Option<&Value>, causes: &mut Vec<Cause>) {
    const TYPES: [&str; 4] = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    if !TYPES.contains(&kind) {
        causes.push(unsupported("spec.type", &json!(kind), &TYPES));
    }
    let ports = spec
        .get("ports")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if ports.is_empty() && kind != "ExternalName" {
        causes.push(required("spec.ports", ""));
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        match port.get("name").and_then(Value::as_str) {
            None | Some("") if ports.len() > 1 => causes.push(required(format!("{at}.name"), "")),
            None | Some("") => {}
            Some(name) if !is_dns1123_label(name) => {
                causes.push(invalid(format!("{at}.name"), &json!(name), LABEL_HELP))
            }
            Some(name) if names.contains(&name) => {
                causes.push(duplicate(format!("{at}.name"), &json!(name)))
            }
            Some(name) => names.push(name),
        }
        let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
        if !(1..=65535).contains(&number) {
            causes.push(invalid(
                format!("{at}.port"),
                &json!(number),
                "must be between 1 and 65535, inclusive",
            ));
        }
        let protocol = port.get("protocol").cloned().unwrap_or(json!("TCP"));
        if !matches!(protocol.as_str(), Some("TCP" | "UDP" | "SCTP")) {
            causes.push(unsupported(
                format!("{at}.protocol"),
                &protocol,
                &["SCTP", "TCP", "UDP"],
            ));
        }
        if let Some(node_port) = port.get("nodePort").and_then(Value::as_i64) {
            if kind == "ClusterIP" {
                causes.push(forbidden(
                    format!("{at}.nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            } else if !(30000..=32767).contains(&node_port) {
                causes.push(invalid(
                    format!("{at}.nodePort"),
                    &json!(node_port),
                    "provided port is not in the valid range. The range of valid ports is 30000-32767",
                ));
            }
        }
    }
    check_labels("spec.selector", spec.get("selector"), causes);
    if let Some(old) = old {
        let ip = spec.get("clusterIP");
        if ip.is_some() && ip != old.get("clusterIP") {
            causes.push(immutable("spec.clusterIP", ip.unwrap_or(&Value::Null)));
        }
    }
}

fn check_claim(spec: &Value, old: Option<&Value>, causes: &mut Vec<Cause>) {
    const MODES: [&str; 4] = [
        "ReadOnlyMany",
        "ReadWriteMany",
        "ReadWriteOnce",
        "ReadWriteOncePod",
    ];
    let modes = spec
        .get("accessModes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if modes.is_empty() {
        causes.push(required(
            "spec.accessModes",
            "at least 1 access mode is required",
        ));
    }
    for mode in modes {
        if !mode.as_str().is_some_and(|m| MODES.contains(&m)) {
            causes.push(unsupported("spec.accessModes", mode, &MODES));
        }
    }
    let storage = spec.pointer("/resources/requests/storage");
    let amount = storage.and_then(Value::as_str).and_then(quantity::parse);
    match (storage, amount) {
        (None, _) => causes.push(required("spec.resources[storage]", "")),
        (Some(value), None) => causes.push(invalid(
            "spec.resources.requests[storage]",
            value,
            "must be a valid quantity",
        )),
        (Some(value), Some(amount)) if amount <= 0 => causes.push(invalid(
            "spec.resources.requests[storage]",
            value,
            "must be greater than zero",
        )),
        _ => {}
    }
    if let Some(old) = old {
        let without_storage = |spec: &Value| {
            let mut spec = spec.clone();
            if let Some(requests) = spec
                .pointer_mut("/resources/requests")
                .and_then(Value::as_object_mut)
            {
                requests.remove("storage");
            }
            spec
        };
        if without_storage(spec) != without_storage(old) {
            causes.push(forbidden(
                "spec",
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
            ));
        }
        let before = old
            .pointer("/resources/requests/storage")
            .and_then(Value::as_str)
            .and_then(quantity::parse);
        if let (Some(before), Some(after)) = (before, amount)
            && after < before
        {
            causes.push(forbidden(
                "spec.resources.requests.storage",
                "field can not be less than previous value",
            ));
        }
    }
}

fn check_immutable_data(object: &Value, old: &Value, causes: &mut Vec<Cause>) {
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return;
    }
    for field in ["data", "binaryData"] {
        if object.get(field) != old.get(field) {
            causes.push(forbidden(
                field,
                "field is immutable when `immutable` is set",
            ));
        }
    }
    if object.get("immutable").and_then(Value::as_bool) != Some(true) {
        causes.push(forbidden(
            "immutable",
            "field is immutable when `immutable` is set",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rfc_1123() {
        assert!(is_dns1123_label("web-1"));
        assert!(!is_dns1123_label("Web"));
        assert!(!is_dns1123_label("-web"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(is_dns1123_subdomain("a.b-c.d"));
        assert!(!is_dns1123_subdomain("a..b"));
        assert!(is_dns1123_subdomain(&format!("{}-ssh", "a".repeat(63))));
        assert!(!is_dns1123_subdomain(&"a".repeat(254)));
        assert!(!is_dns1035_label("1abc"));
        assert!(is_qualified_name("app.kubernetes.io/name"));
        assert!(!is_qualified_name("bad key"));
        assert!(is_label_value(""));
        assert!(!is_label_value("a@b"));
        assert!(is_port_name("jupyter"));
        assert!(!is_port_name("a-very-long-port-name"));
    }
}
