//! The REST protocol: routing of `/api` and `/apis` paths, discovery,
//! bearer-token authentication, injected faults, JSON answers and
//! `Status` errors, and the streaming answers (watches and followed logs).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use super::api::{ApiError, DeleteOptions, Part, PatchType};
use super::resources::{self, ResourceInfo};
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{Change, ChangeType, key_of, meta};
use super::tables::{self, Format, Include};
use super::{RecordedRequest, Shared};
use super::{protobuf, validate};

type Query = Vec<(String, String)>;

fn param<'a>(query: &'a Query, name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn flag(query: &Query, name: &str) -> bool {
    matches!(param(query, name), Some("true" | "1"))
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn json_response(code: u16, body: &Value) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(code).unwrap_or(StatusCode::OK))
        .content_type("application/json")
        .body(body.to_string())
}

/// An error as the API server writes it.
pub fn error_response(error: &ApiError) -> HttpResponse {
    json_response(error.code, &error.status())
}

/// Every request comes here: latency, the request log, injected faults,
/// authentication, then the API.
pub async fn handle(req: HttpRequest, body: Bytes, shared: web::Data<Arc<Shared>>) -> HttpResponse {
    let shared = shared.get_ref().clone();
    let latency = shared.faults().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let method = req.method().as_str().to_owned();
    let path = req.path().to_owned();
    shared.record(RecordedRequest {
        method: method.clone(),
        path: path.clone(),
        query: req.query_string().to_owned(),
        content_type: header(&req, "content-type").to_owned(),
        accept: header(&req, "accept").to_owned(),
    });
    if let Some(code) = shared.take_fault(&method, &path) {
        return error_response(&ApiError::new(
            code,
            format!("the fake API server was told to answer {code}"),
        ));
    }
    let public = matches!(
        path.as_str(),
        "/healthz" | "/livez" | "/readyz" | "/version"
    );
    let credentials = header(&req, "authorization");
    let anonymous = credentials.is_empty() && shared.anonymous;
    if !public && !anonymous && credentials != format!("Bearer {}", shared.token) {
        return error_response(&ApiError::new(401, "Unauthorized"));
    }
    let query: Query = match serde_urlencoded::from_str(req.query_string()) {
        Ok(query) => query,
        Err(e) => return error_response(&ApiError::bad_request(format!("bad query: {e}"))),
    };
    match serve(&shared, &req, &method, &path, &query, &body) {
        Ok(response) => response,
        Err(error) => error_response(&error),
    }
}

/// The object (or list) a request names.
struct Target {
    resource: &'static ResourceInfo,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn target(group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let own = |s: &str| Some(s.to_owned());
    if let ["namespaces", namespace, plural, tail @ ..] = rest
        && let Some(resource) = resources::find(group, version, plural).filter(|r| r.namespaced)
    {
        return match tail {
            [] => Some(Target {
                resource,
                namespace: own(namespace),
                name: None,
                subresource: None,
            }),
            [name] => Some(Target {
                resource,
                namespace: own(namespace),
                name: own(name),
                subresource: None,
            }),
            [name, sub] => Some(Target {
                resource,
                namespace: own(namespace),
                name: own(name),
                subresource: own(sub),
            }),
            _ => None,
        };
    }
    let (plural, tail) = rest.split_first()?;
    let resource = resources::find(group, version, plural)?;
    match tail {
        [] => Some(Target {
            resource,
            namespace: None,
            name: None,
            subresource: None,
        }),
        [name] if !resource.namespaced => Some(Target {
            resource,
            namespace: None,
            name: own(name),
            subresource: None,
        }),
        [name, sub] if !resource.namespaced => Some(Target {
            resource,
            namespace: None,
            name: own(name),
            subresource: own(sub),
        }),
        _ => None,
    }
}

fn not_found() -> ApiError {
    ApiError::new(404, "the server could not find the requested resource")
}

fn serve(
    shared: &Arc<Shared>,
    req: &HttpRequest,
    method: &str,
    path: &str,
    query: &Query,
    body: &Bytes,
) -> Result<HttpResponse, ApiError> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let discovery = |doc: Option<Value>| doc.map(|d| json_response(200, &d)).ok_or_else(not_found);
    let (group, version, rest) = match segments.as_slice() {
        ["healthz" | "livez" | "readyz"] => {
            return Ok(HttpResponse::Ok().content_type("text/plain").body("ok"));
        }
        ["version"] => return Ok(json_response(200, &resources::version())),
        ["api"] => {
            let address = format!("127.0.0.1:{}", shared.port());
            return Ok(json_response(200, &resources::core_versions(&address)));
        }
        ["apis"] => return Ok(json_response(200, &resources::group_list())),
        ["openapi", "v3"] => return Ok(json_response(200, &resources::openapi_root())),
        ["openapi", "v3", rest @ ..] => {
            return discovery(resources::openapi_document(&rest.join("/")));
        }
        ["apis", group] => return discovery(resources::group(group)),
        ["api", "v1"] => return discovery(resources::resource_list("", "v1")),
        ["apis", group, version] => return discovery(resources::resource_list(group, version)),
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(not_found()),
    };
    let target = target(group, version, rest).ok_or_else(not_found)?;
    let verb = match (method, target.name.is_some()) {
        ("GET", false) if flag(query, "watch") => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", false) => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => {
            return Err(ApiError::new(
                405,
                format!("{method} is not supported here"),
            ));
        }
    };
    if !target.resource.verbs.contains(&verb) {
        return Err(ApiError::new(
            405,
            format!("{verb} is not supported on {}", target.resource.plural),
        ));
    }
    check_allowed(shared, &target, verb)?;
    if param(query, "dryRun").is_some() {
        return Err(ApiError::bad_request(
            "the fake API server does not do dry runs",
        ));
    }
    let format = Format::from_accept(
        header(req, "accept"),
        Include::from_query(param(query, "includeObject")),
    );
    let resource = target.resource;
    let namespace = target.namespace.clone().unwrap_or_default();
    let name = target.name.clone().unwrap_or_default();
    let sub = target.subresource.as_deref();
    if let Some(sub) = sub
        && !resource.subresources.contains(&sub)
    {
        return Err(not_found());
    }
    let read_body = || -> Result<Value, ApiError> {
        let content_type = header(req, "content-type");
        if content_type.contains("protobuf") {
            return protobuf::to_json(body).map_err(|why| ApiError::new(415, why));
        }
        if content_type.contains("cbor") {
            return Err(ApiError::new(
                415,
                format!(
                    "the fake API server reads JSON and protobuf bodies only, not {content_type}"
                ),
            ));
        }
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))
    };
    let part = if sub == Some("status") {
        Part::Status
    } else {
        Part::Main
    };
    let strict = param(query, "fieldValidation") == Some("Strict");
    let read_object = || -> Result<Value, ApiError> {
        let object = read_body()?;
        let unknown = if strict {
            validate::unknown_fields(resource, &object)
        } else {
            Vec::new()
        };
        if unknown.is_empty() {
            return Ok(object);
        }
        let fields: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        Err(ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
            fields.join(", "),
            kind = resource.kind,
            version = resource.version,
        )))
    };
    match verb {
        "watch" => watch(shared, &target, query, format),
        "list" => {
            let labels = LabelSelector::parse(param(query, "labelSelector").unwrap_or(""))
                .map_err(ApiError::bad_request)?;
            let fields =
                FieldSelector::parse(param(query, "fieldSelector").unwrap_or(""), resource.plural)
                    .map_err(ApiError::bad_request)?;
            let (items, rv) =
                shared
                    .lock()
                    .list(resource, target.namespace.as_deref(), &labels, &fields);
            let items: Vec<&Value> = items.iter().map(|i| &**i).collect();
            Ok(json_response(200, &list_body(resource, &items, rv, format)))
        }
        "get" if sub == Some("log") => logs(shared, &namespace, &name, query),
        "get" if sub == Some("scale") => {
            let object = shared.lock().get(resource, &namespace, &name)?;
            Ok(json_response(200, &scale_of(&object)))
        }
        "get" => {
            let object = shared.lock().get(resource, &namespace, &name)?;
            let rv = shared.lock().store.rv();
            Ok(json_response(
                200,
                &object_body(resource, &object, rv, format),
            ))
        }
        "create" if !resource.stored() => {
            Ok(json_response(201, &review(shared, resource, read_body()?)?))
        }
        "create" => {
            let object = shared.lock().create(resource, &namespace, read_object()?)?;
            Ok(json_response(201, &object))
        }
        "update" if sub == Some("scale") => {
            let scale = read_body()?;
            let object = set_scale(shared, resource, &namespace, &name, |_| Ok(scale))?;
            Ok(json_response(200, &scale_of(&object)))
        }
        "update" => {
            let object = shared
                .lock()
                .update(resource, &namespace, &name, read_object()?, part)?;
            Ok(json_response(200, &object))
        }
        "patch" => {
            let content_type = header(req, "content-type");
            let kind = PatchType::from_content_type(content_type).ok_or_else(|| {
                ApiError::new(
                    415,
                    format!("the content type {content_type:?} is not a patch type"),
                )
            })?;
            let patch = if kind == PatchType::Apply {
                // An apply that creates the object needs "create" too.
                if shared.lock().get(resource, &namespace, &name).is_err() {
                    check_allowed(shared, &target, "create")?;
                }
                read_object()?
            } else {
                read_body()?
            };
            if sub == Some("scale") {
                let object = set_scale(shared, resource, &namespace, &name, |scale| {
                    patch_value(scale, kind, &patch)
                })?;
                return Ok(json_response(200, &scale_of(&object)));
            }
            let object = shared
                .lock()
                .patch(resource, &namespace, &name, kind, &patch, part)?;
            Ok(json_response(200, &object))
        }
        "delete" => {
            let options_body = if body.is_empty() {
                json!({})
            } else {
                read_body()?
            };
            let options = DeleteOptions::read(&options_body, query)?;
            let object = shared
                .lock()
                .delete(resource, &namespace, &name, &options)?;
            Ok(json_response(200, &object))
        }
        _ => {
            let labels = LabelSelector::parse(param(query, "labelSelector").unwrap_or(""))
                .map_err(ApiError::bad_request)?;
            let fields =
                FieldSelector::parse(param(query, "fieldSelector").unwrap_or(""), resource.plural)
                    .map_err(ApiError::bad_request)?;
            let options_body = if body.is_empty() {
                json!({})
            } else {
                read_body()?
            };
            let options = DeleteOptions::read(&options_body, query)?;
            let mut state = shared.lock();
            let (items, rv) = state.list(resource, target.namespace.as_deref(), &labels, &fields);
            let mut deleted = Vec::new();
            for item in items {
                let (ns, name) = key_of(&item);
                if let Ok(object) = state.delete(resource, &ns, &name, &options) {
                    deleted.push(object);
                }
            }
            let deleted: Vec<&Value> = deleted.iter().map(|d| &**d).collect();
            Ok(json_response(
                200,
                &list_body(resource, &deleted, rv, Format::Object),
            ))
        }
    }
}

/// Refuses what the test forbade, with the real server's message.
fn check_allowed(shared: &Shared, target: &Target, verb: &str) -> Result<(), ApiError> {
    let resource = target.resource;
    let name = match &target.subresource {
        Some(sub) => format!("{}/{sub}", resource.plural),
        None => resource.plural.to_owned(),
    };
    if !shared.is_forbidden(verb, resource.group, &name) {
        return Ok(());
    }
    let scope = match &target.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_owned(),
    };
    let who = match &target.name {
        Some(object) => format!("{} \"{object}\"", resource.group_resource()),
        None => resource.group_resource(),
    };
    let mut error = ApiError::new(
        403,
        format!(
            "{who} is forbidden: User \"{}\" cannot {verb} resource \"{name}\" in API group \"{}\" {scope}",
            super::USER,
            resource.group
        ),
    );
    error.details =
        json!({"name": target.name.clone().unwrap_or_default(), "kind": resource.plural});
    Err(error)
}

fn object_body(resource: &ResourceInfo, object: &Value, rv: u64, format: Format) -> Value {
    match format {
        Format::Object => object.clone(),
        Format::Metadata => tables::partial(object),
        Format::Table(include) => tables::table(resource, &[object], include, true, rv),
    }
}

fn list_body(resource: &ResourceInfo, items: &[&Value], rv: u64, format: Format) -> Value {
    match format {
        Format::Object => json!({
            "kind": format!("{}List", resource.kind),
            "apiVersion": resource.api_version(),
            "metadata": {"resourceVersion": rv.to_string()},
            "items": items,
        }),
        Format::Metadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": rv.to_string()},
            "items": items.iter().map(|i| tables::partial(i)).collect::<Vec<_>>(),
        }),
        Format::Table(include) => tables::table(resource, items, include, true, rv),
    }
}

fn patch_value(target: Value, kind: PatchType, patch: &Value) -> Result<Value, ApiError> {
    let mut target = target;
    match kind {
        PatchType::Json => {
            return super::patch::json_patch(&target, patch)
                .map_err(|e| ApiError::new(422, format!("the JSON patch does not apply: {e}")));
        }
        PatchType::Merge => super::patch::merge_patch(&mut target, patch),
        PatchType::Strategic => super::patch::strategic_merge(&mut target, patch),
        PatchType::Apply => super::patch::apply(&mut target, patch),
    }
    Ok(target)
}

/// A Deployment's Scale subresource.
fn scale_of(deployment: &Value) -> Value {
    let selector = deployment
        .pointer("/spec/selector")
        .and_then(|s| LabelSelector::from_object(s).ok())
        .map(|s| s.to_query())
        .unwrap_or_default();
    let metadata = deployment.get("metadata").cloned().unwrap_or(json!({}));
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": metadata["name"],
            "namespace": metadata["namespace"],
            "uid": metadata["uid"],
            "resourceVersion": metadata["resourceVersion"],
            "creationTimestamp": metadata["creationTimestamp"],
        },
        "spec": {"replicas": deployment.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {
            "replicas": deployment.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

/// Changes a Deployment's replicas through its Scale.
fn set_scale(
    shared: &Shared,
    resource: &'static ResourceInfo,
    namespace: &str,
    name: &str,
    change: impl FnOnce(Value) -> Result<Value, ApiError>,
) -> Result<Arc<Value>, ApiError> {
    let mut state = shared.lock();
    let deployment = state.get(resource, namespace, name)?;
    let scale = change(scale_of(&deployment))?;
    let wanted = meta(&scale, "resourceVersion");
    if !wanted.is_empty() && wanted != meta(&deployment, "resourceVersion") {
        return Err(ApiError::new(
            409,
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                resource.group_resource()
            ),
        ));
    }
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::new(422, "spec.replicas: Required value"))?;
    let mut updated = (*deployment).clone();
    updated["spec"]["replicas"] = json!(replicas);
    state.update(resource, namespace, name, updated, Part::Main)
}

/// Answers an access or rules review from the forbidden verbs.
fn review(shared: &Shared, resource: &ResourceInfo, mut body: Value) -> Result<Value, ApiError> {
    use k8s_openapi::api::authorization::v1::{SelfSubjectAccessReview, SelfSubjectRulesReview};
    let decoded = if resource.plural == "selfsubjectaccessreviews" {
        serde_json::from_value::<SelfSubjectAccessReview>(body.clone()).map(drop)
    } else {
        serde_json::from_value::<SelfSubjectRulesReview>(body.clone()).map(drop)
    };
    decoded.map_err(|e| ApiError::new(422, format!("{} is invalid: {e}", resource.kind)))?;
    body["kind"] = json!(resource.kind);
    body["apiVersion"] = json!(resource.api_version());
    if resource.plural == "selfsubjectaccessreviews" {
        let attributes = body.pointer("/spec/resourceAttributes");
        let allowed = attributes.is_none_or(|a| {
            let verb = a.get("verb").and_then(Value::as_str).unwrap_or("");
            let mut name = a
                .get("resource")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            if let Some(sub) = a
                .get("subresource")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                name = format!("{name}/{sub}");
            }
            let group = a.get("group").and_then(Value::as_str).unwrap_or("");
            !shared.is_forbidden(verb, group, &name)
        });
        body["status"] = if allowed {
            json!({"allowed": true, "reason": "the fake API server allows it"})
        } else {
            json!({"allowed": false, "reason": "the test forbade it"})
        };
    } else {
        let mut rules = Vec::new();
        for r in resources::stored() {
            let verbs: Vec<&str> = r
                .verbs
                .iter()
                .copied()
                .filter(|verb| !shared.is_forbidden(verb, r.group, r.plural))
                .collect();
            if !verbs.is_empty() {
                rules
                    .push(json!({"verbs": verbs, "apiGroups": [r.group], "resources": [r.plural]}));
            }
        }
        body["status"] = json!({
            "resourceRules": rules,
            "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        });
    }
    Ok(body)
}

fn streaming(
    content_type: &str,
    stream: impl futures_util::Stream<Item = Result<Bytes, Infallible>> + 'static,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "no-cache, private"))
        .streaming(stream)
}

/// `GET …/pods/<name>/log`, followed or not.
fn logs(
    shared: &Arc<Shared>,
    namespace: &str,
    name: &str,
    query: &Query,
) -> Result<HttpResponse, ApiError> {
    let pods = resources::by_plural("pods").expect("pods are served");
    let state = shared.lock();
    let pod = state.get(pods, namespace, name)?;
    let containers: Vec<&str> = super::quantity::containers(&pod)
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let container = match (param(query, "container"), containers.as_slice()) {
        (Some(c), _) if containers.contains(&c) => c.to_owned(),
        (Some(c), _) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        (None, [only]) => (*only).to_owned(),
        (None, _) => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
    };
    let uid = meta(&pod, "uid").to_owned();
    let key = key_of(&pod);
    let Some(log) = state
        .logs
        .container(&key, &uid, &container)
        .filter(|l| l.started)
    else {
        let waiting = pod
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|s| s.get("name").and_then(Value::as_str) == Some(&container))
            .and_then(|s| s.pointer("/state/waiting/reason"))
            .and_then(Value::as_str)
            .unwrap_or("ContainerCreating");
        let why = if waiting.contains("ImagePull") {
            "trying and failing to pull image"
        } else {
            waiting
        };
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {why}"
        )));
    };
    let tail = param(query, "tailLines").and_then(|t| t.parse::<usize>().ok());
    let start = tail.map_or(0, |t| log.lines.len().saturating_sub(t));
    let first: Vec<String> = log.lines[start..].to_vec();
    let sent = log.lines.len();
    if !flag(query, "follow") {
        return Ok(HttpResponse::Ok()
            .content_type("text/plain")
            .body(lines_bytes(&first)));
    }
    let follow = LogFollow {
        shared: shared.clone(),
        key,
        uid,
        container,
        sent,
        first: Some(first),
        changed: state.logs.changed.subscribe(),
        cut: shared.cut.subscribe(),
    };
    drop(state);
    Ok(streaming(
        "text/plain",
        futures_util::stream::unfold(follow, LogFollow::next),
    ))
}

fn lines_bytes(lines: &[String]) -> Bytes {
    let mut text = String::new();
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    Bytes::from(text)
}

struct LogFollow {
    shared: Arc<Shared>,
    key: (String, String),
    uid: String,
    container: String,
    sent: usize,
    first: Option<Vec<String>>,
    changed: tokio::sync::watch::Receiver<u64>,
    cut: tokio::sync::watch::Receiver<u64>,
}

impl LogFollow {
    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, LogFollow)> {
        if let Some(first) = self.first.take().filter(|f| !f.is_empty()) {
            return Some((Ok(lines_bytes(&first)), self));
        }
        loop {
            self.changed.borrow_and_update();
            let (lines, finished) = {
                let state = self.shared.lock();
                match state.logs.container(&self.key, &self.uid, &self.container) {
                    Some(log) => (
                        log.lines.get(self.sent..).unwrap_or_default().to_vec(),
                        log.finished,
                    ),
                    None => (Vec::new(), true),
                }
            };
            if !lines.is_empty() {
                self.sent += lines.len();
                return Some((Ok(lines_bytes(&lines)), self));
            }
            if finished {
                return None;
            }
            tokio::select! {
                changed = self.changed.changed() => if changed.is_err() { return None },
                _ = self.cut.changed() => return None,
            }
        }
    }
}

/// Which changes a watch passes on, and how it writes them.
struct Filter {
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn matches(&self, object: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| meta(object, "namespace") == ns)
            && self.labels.matches(object)
            && self.fields.matches(object)
    }
}

struct Watch {
    shared: Arc<Shared>,
    resource: &'static ResourceInfo,
    receiver: Option<UnboundedReceiver<Arc<Change>>>,
    pending: VecDeque<Bytes>,
    filter: Filter,
    format: Format,
    headers_sent: bool,
    bookmarks: bool,
    next_bookmark: Instant,
    deadline: Instant,
    cut: tokio::sync::watch::Receiver<u64>,
    last_rv: u64,
}

const BOOKMARK_EVERY: Duration = Duration::from_secs(1);

/// `GET …?watch=true`.
fn watch(
    shared: &Arc<Shared>,
    target: &Target,
    query: &Query,
    format: Format,
) -> Result<HttpResponse, ApiError> {
    let resource = target.resource;
    let filter = Filter {
        namespace: target.namespace.clone(),
        labels: LabelSelector::parse(param(query, "labelSelector").unwrap_or(""))
            .map_err(ApiError::bad_request)?,
        fields: FieldSelector::parse(param(query, "fieldSelector").unwrap_or(""), resource.plural)
            .map_err(ApiError::bad_request)?,
    };
    let since = match param(query, "resourceVersion") {
        None | Some("" | "0") => None,
        Some(rv) => Some(rv.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "resourceVersion {rv:?} is not a valid resource version"
            ))
        })?),
    };
    let initial_events = flag(query, "sendInitialEvents");
    let timeout = param(query, "timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800);
    let now = Instant::now();
    let mut watch = Watch {
        shared: shared.clone(),
        resource,
        receiver: None,
        pending: VecDeque::new(),
        filter,
        format,
        headers_sent: false,
        bookmarks: flag(query, "allowWatchBookmarks"),
        next_bookmark: now + BOOKMARK_EVERY,
        deadline: now + Duration::from_secs(timeout),
        cut: shared.cut.subscribe(),
        last_rv: since.unwrap_or(0),
    };
    let mut state = shared.lock();
    match state
        .store
        .watch(resource, target.namespace.as_deref(), since)
    {
        Err(too_old) => {
            let error = ApiError::new(
                410,
                format!(
                    "too old resource version: {} ({})",
                    since.unwrap_or(0),
                    too_old.oldest + 1
                ),
            );
            watch
                .pending
                .push_back(event_line("ERROR", &error.status()));
        }
        Ok((replay, receiver)) => {
            watch.receiver = Some(receiver);
            if since.is_none() || initial_events {
                let rv = state.store.rv();
                let current: Vec<Arc<Value>> = state
                    .store
                    .list(resource, target.namespace.as_deref())
                    .filter(|o| watch.filter.matches(o))
                    .cloned()
                    .collect();
                for object in current {
                    let line = watch.encode("ADDED", &object);
                    watch.pending.push_back(line);
                }
                watch.last_rv = watch.last_rv.max(rv);
                if initial_events {
                    let mut bookmark = watch.bookmark(rv);
                    bookmark["metadata"]["annotations"] =
                        json!({"k8s.io/initial-events-end": "true"});
                    watch.pending.push_back(event_line("BOOKMARK", &bookmark));
                }
            }
            for change in replay {
                if let Some(line) = watch.translate(&change) {
                    watch.pending.push_back(line);
                }
            }
        }
    }
    drop(state);
    Ok(streaming(
        "application/json",
        futures_util::stream::unfold(watch, Watch::next),
    ))
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = format!("{{\"type\":\"{kind}\",\"object\":").into_bytes();
    // Writing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut line, object);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

impl Watch {
    fn encode(&mut self, kind: &str, object: &Value) -> Bytes {
        match self.format {
            Format::Object => event_line(kind, object),
            Format::Metadata => event_line(kind, &tables::partial(object)),
            Format::Table(include) => {
                let rv = meta(object, "resourceVersion").parse().unwrap_or(0);
                let table =
                    tables::table(self.resource, &[object], include, !self.headers_sent, rv);
                self.headers_sent = true;
                event_line(kind, &table)
            }
        }
    }

    /// The event a change is for this watch, if any: an object that
    /// starts or stops matching the selectors is added or deleted.
    fn translate(&mut self, change: &Change) -> Option<Bytes> {
        self.last_rv = self.last_rv.max(change.rv);
        let now = self.filter.matches(&change.object);
        let before = change
            .old
            .as_deref()
            .is_some_and(|o| self.filter.matches(o));
        let kind = match change.change {
            ChangeType::Added if now => "ADDED",
            ChangeType::Modified if now && before => "MODIFIED",
            ChangeType::Modified if now => "ADDED",
            ChangeType::Modified if before => "DELETED",
            ChangeType::Deleted if before || now => "DELETED",
            _ => return None,
        };
        Some(self.encode(kind, &change.object))
    }

    fn bookmark(&self, rv: u64) -> Value {
        json!({
            "kind": self.resource.kind,
            "apiVersion": self.resource.api_version(),
            "metadata": {"resourceVersion": rv.to_string()},
        })
    }

    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Watch)> {
        loop {
            if let Some(line) = self.pending.pop_front() {
                return Some((Ok(line), self));
            }
            let receiver = self.receiver.as_mut()?;
            tokio::select! {
                biased;
                _ = self.cut.changed() => return None,
                _ = tokio::time::sleep_until(self.deadline) => return None,
                change = receiver.recv() => {
                    let change = change?;
                    let mut batch = Vec::new();
                    if let Some(line) = self.translate(&change) {
                        batch.extend_from_slice(&line);
                    }
                    while batch.len() < 1 << 20 {
                        let Some(receiver) = self.receiver.as_mut() else { break };
                        let Ok(change) = receiver.try_recv() else { break };
                        if let Some(line) = self.translate(&change) {
                            batch.extend_from_slice(&line);
                        }
                    }
                    if !batch.is_empty() {
                        return Some((Ok(Bytes::from(batch)), self));
                    }
                }
                _ = tokio::time::sleep_until(self.next_bookmark), if self.bookmarks => {
                    self.next_bookmark += BOOKMARK_EVERY;
                    // Everything up to the current version is in the
                    // channel already; send it first, then the bookmark.
                    let rv = self.shared.lock().store.rv();
                    while let Some(Ok(change)) = self.receiver.as_mut().map(|r| r.try_recv()) {
                        if let Some(line) = self.translate(&change) {
                            self.pending.push_back(line);
                        }
                    }
                    let rv = rv.max(self.last_rv);
                    self.last_rv = rv;
                    let bookmark = self.bookmark(rv);
                    self.pending.push_back(event_line("BOOKMARK", &bookmark));
                }
            }
        }
    }
}
