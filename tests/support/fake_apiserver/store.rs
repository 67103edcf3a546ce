//! The objects: one sorted map per kind keyed by namespace and name, a
//! global resource version, a bounded history of changes per kind that
//! watches replay, the watchers themselves, and indexes (by uid, owners'
//! dependents, quota usage per namespace) kept up to date on every write.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::quantity::{self, Amounts};
use super::quota;
use super::resources::{self, ResourceInfo};

/// Namespace ("" for cluster-scoped kinds) and name.
pub type Key = (String, String);

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One write, as watches and the controllers see it.
#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    pub resource: &'static ResourceInfo,
    pub change: ChangeType,
    /// The object before the write (none for an addition).
    pub old: Option<Arc<Value>>,
    /// The object after the write; for a deletion, its last state.
    pub object: Arc<Value>,
}

struct Watcher {
    sender: UnboundedSender<Arc<Change>>,
    namespace: Option<String>,
}

#[derive(Default)]
struct Objects {
    items: BTreeMap<Key, Arc<Value>>,
    history: VecDeque<Arc<Change>>,
    /// Changes up to this version fell out of the history.
    forgotten: u64,
    watchers: Vec<Watcher>,
}

/// A watch's replayed changes, and the channel later ones arrive on.
pub type Subscription = (Vec<Arc<Change>>, UnboundedReceiver<Arc<Change>>);

/// A watch that starts from a version the history no longer holds.
#[derive(Debug)]
pub struct TooOld {
    pub oldest: u64,
}

/// Every object the fake holds.
pub struct Store {
    rv: u64,
    kinds: HashMap<&'static str, Objects>,
    by_uid: HashMap<String, (&'static ResourceInfo, Key)>,
    dependents: HashMap<String, BTreeSet<(&'static str, Key)>>,
    usage: HashMap<String, Amounts>,
    node_usage: HashMap<String, Amounts>,
    node_ports: HashMap<i64, Key>,
    history_limit: usize,
    /// Every change since the controllers last took them.
    pub feed: Vec<Arc<Change>>,
}

/// A string field of an object's metadata ("" when absent).
pub fn meta<'a>(object: &'a Value, field: &str) -> &'a str {
    object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The object's namespace and name.
pub fn key_of(object: &Value) -> Key {
    (
        meta(object, "namespace").to_owned(),
        meta(object, "name").to_owned(),
    )
}

/// The uids of the object's owners.
pub fn owner_uids(object: &Value) -> Vec<&str> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("uid").and_then(Value::as_str))
        .collect()
}

/// The owner reference marked as the object's controller.
pub fn controller_of(object: &Value) -> Option<&Value> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
}

/// The node ports a service holds.
fn node_ports(service: &Value) -> Vec<i64> {
    service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
        .collect()
}

impl Store {
    pub fn new(history_limit: usize) -> Store {
        Store {
            rv: 1,
            kinds: resources::stored()
                .map(|r| (r.plural, Objects::default()))
                .collect(),
            by_uid: HashMap::new(),
            dependents: HashMap::new(),
            usage: HashMap::new(),
            node_usage: HashMap::new(),
            node_ports: HashMap::new(),
            history_limit: history_limit.max(1),
            feed: Vec::new(),
        }
    }

    /// The current (global) resource version.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    fn objects(&self, resource: &ResourceInfo) -> &Objects {
        self.kinds
            .get(resource.plural)
            .expect("every stored kind has a map")
    }

    fn objects_mut(&mut self, resource: &ResourceInfo) -> &mut Objects {
        self.kinds
            .get_mut(resource.plural)
            .expect("every stored kind has a map")
    }

    pub fn get(&self, resource: &ResourceInfo, namespace: &str, name: &str) -> Option<&Arc<Value>> {
        self.objects(resource)
            .items
            .get(&(namespace.to_owned(), name.to_owned()))
    }

    /// The objects of a kind, in one namespace or all, sorted by
    /// namespace and name.
    pub fn list<'a>(
        &'a self,
        resource: &ResourceInfo,
        namespace: Option<&'a str>,
    ) -> Box<dyn Iterator<Item = &'a Arc<Value>> + 'a> {
        let items = &self.objects(resource).items;
        match namespace {
            None => Box::new(items.values()),
            Some(namespace) => Box::new(
                items
                    .range((namespace.to_owned(), String::new())..)
                    .take_while(move |((ns, _), _)| ns == namespace)
                    .map(|(_, v)| v),
            ),
        }
    }

    /// The kind and key of the object with this uid.
    pub fn by_uid(&self, uid: &str) -> Option<(&'static ResourceInfo, Key)> {
        self.by_uid.get(uid).cloned()
    }

    /// The objects that name `uid` among their owners.
    pub fn dependents(&self, uid: &str) -> Vec<(&'static ResourceInfo, Key)> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|(plural, key)| Some((resources::by_plural(plural)?, key.clone())))
            .collect()
    }

    /// What the namespace uses of everything a quota can limit.
    pub fn usage(&self, namespace: &str) -> Option<&Amounts> {
        self.usage.get(namespace)
    }

    /// What the pods bound to a node and not ended request of it.
    pub fn node_usage(&self, node: &str) -> Option<&Amounts> {
        self.node_usage.get(node)
    }

    /// The service holding a node port.
    pub fn node_port_holder(&self, port: i64) -> Option<&Key> {
        self.node_ports.get(&port)
    }

    /// Stores the object (its metadata already complete but for the
    /// resource version), records the change and tells the watchers.
    pub fn put(&mut self, resource: &'static ResourceInfo, mut object: Value) -> Arc<Value> {
        self.rv += 1;
        let rv = self.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let key = key_of(&object);
        let object = Arc::new(object);
        let old = self
            .objects_mut(resource)
            .items
            .insert(key.clone(), object.clone());
        self.index(resource, &key, old.as_deref(), Some(&object));
        let change = if old.is_some() {
            ChangeType::Modified
        } else {
            ChangeType::Added
        };
        self.record(Change {
            rv,
            resource,
            change,
            old,
            object: object.clone(),
        });
        object
    }

    /// Removes the object; the deletion carries a new resource version.
    pub fn remove(
        &mut self,
        resource: &'static ResourceInfo,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<Value>> {
        let key = (namespace.to_owned(), name.to_owned());
        let old = self.objects_mut(resource).items.remove(&key)?;
        self.rv += 1;
        let rv = self.rv;
        self.index(resource, &key, Some(&old), None);
        let mut last = (*old).clone();
        last["metadata"]["resourceVersion"] = json!(rv.to_string());
        let last = Arc::new(last);
        self.record(Change {
            rv,
            resource,
            change: ChangeType::Deleted,
            old: Some(old),
            object: last.clone(),
        });
        Some(last)
    }

    fn index(
        &mut self,
        resource: &'static ResourceInfo,
        key: &Key,
        old: Option<&Value>,
        new: Option<&Value>,
    ) {
        if let Some(old) = old {
            self.by_uid.remove(meta(old, "uid"));
            for owner in owner_uids(old) {
                if let Some(set) = self.dependents.get_mut(owner) {
                    set.remove(&(resource.plural, key.clone()));
                    if set.is_empty() {
                        self.dependents.remove(owner);
                    }
                }
            }
            if resource.plural == "services" {
                for port in node_ports(old) {
                    self.node_ports.remove(&port);
                }
            }
        }
        if let Some(new) = new {
            self.by_uid
                .insert(meta(new, "uid").to_owned(), (resource, key.clone()));
            for owner in owner_uids(new) {
                self.dependents
                    .entry(owner.to_owned())
                    .or_default()
                    .insert((resource.plural, key.clone()));
            }
            if resource.plural == "services" {
                for port in node_ports(new) {
                    self.node_ports.insert(port, key.clone());
                }
            }
        }
        // Status writes (most writes) change neither total.
        let same_footprint = match (old, new) {
            (Some(old), Some(new)) => {
                old.get("spec") == new.get("spec")
                    && quota::is_terminal_pod(old) == quota::is_terminal_pod(new)
            }
            _ => false,
        };
        if same_footprint {
            return;
        }
        if let Some(old) = old {
            self.count(resource, &key.0, old, -1);
        }
        if let Some(new) = new {
            self.count(resource, &key.0, new, 1);
        }
    }

    /// Adds an object to (or, with `sign` -1, takes it from) its
    /// namespace's quota usage and its node's requested resources.
    fn count(&mut self, resource: &ResourceInfo, namespace: &str, object: &Value, sign: i128) {
        let apply = |total: &mut Amounts, amounts: &Amounts| {
            for (name, amount) in amounts {
                let entry = total.entry(name.clone()).or_default();
                *entry += sign * amount;
                if *entry == 0 {
                    total.remove(name);
                }
            }
        };
        if resource.namespaced {
            let used = quota::usage(resource, object);
            apply(self.usage.entry(namespace.to_owned()).or_default(), &used);
        }
        let node = object
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if resource.plural == "pods" && !node.is_empty() && !quota::is_terminal_pod(object) {
            let footprint = quantity::pod_footprint(object);
            apply(
                self.node_usage.entry(node.to_owned()).or_default(),
                &footprint,
            );
        }
    }

    fn record(&mut self, change: Change) {
        let change = Arc::new(change);
        let limit = self.history_limit;
        let objects = self.objects_mut(change.resource);
        objects.history.push_back(change.clone());
        while objects.history.len() > limit {
            if let Some(dropped) = objects.history.pop_front() {
                objects.forgotten = dropped.rv;
            }
        }
        let namespace = meta(&change.object, "namespace");
        objects.watchers.retain(|watcher| {
            if watcher
                .namespace
                .as_deref()
                .is_some_and(|ns| ns != namespace)
            {
                return !watcher.sender.is_closed();
            }
            watcher.sender.send(change.clone()).is_ok()
        });
        self.feed.push(change);
    }

    /// Registers a watch of a kind (in one namespace or all) and returns
    /// the changes after `since` that the history still holds; later
    /// changes arrive on the receiver.
    pub fn watch(
        &mut self,
        resource: &ResourceInfo,
        namespace: Option<&str>,
        since: Option<u64>,
    ) -> Result<Subscription, TooOld> {
        let objects = self.objects_mut(resource);
        let replay = match since {
            Some(since) if since < objects.forgotten => {
                return Err(TooOld {
                    oldest: objects.forgotten,
                });
            }
            Some(since) => objects
                .history
                .iter()
                .filter(|c| c.rv > since)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let (sender, receiver) = unbounded_channel();
        objects.watchers.push(Watcher {
            sender,
            namespace: namespace.map(str::to_owned),
        });
        Ok((replay, receiver))
    }
}
