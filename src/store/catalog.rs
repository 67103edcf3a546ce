//! The catalog: GPU types, hardware specs, public images, storage types and
//! project purposes. Each kind has its own table; names are unique per kind
//! (ignoring letter case) through `CATALOG_NAME_TO_ID`, kept in the same
//! write transaction as the record.

use std::collections::BTreeMap;

use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, codec, projects, tables, volumes};
use crate::domain::catalog::{
    CatalogKind, GpuSizing, GpuType, HardwareSpec, Image, ImageService, Purpose, Sharing, SshLogin,
    StorageType, gpu_units_milli,
};
use crate::domain::ids::{GpuTypeId, HardwareSpecId, ImageId, PurposeId, StorageTypeId};

/// A stored GPU type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuTypeRecord {
    pub id: GpuTypeId,
    /// Display name, unique among GPU types.
    pub name: String,
    /// Kubernetes extended resource name, e.g. `nvidia.com/gpu`.
    pub resource_name: String,
    pub sharing: Sharing,
    /// Node labels a workload of this type must run on.
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// Memory of one GPU (one MIG instance for MIG), in GB.
    pub memory_gb: u32,
    /// Counts a workload may ask for, ascending; GB for shared types.
    pub allowed_counts: Vec<u32>,
    /// Price of one GPU unit per hour, in thousandths of the currency.
    #[serde(default)]
    pub price_milli: Option<u64>,
    /// Hidden from new choices; kept where it is used.
    #[serde(default)]
    pub retired: bool,
    /// Put there by the first start of the store (the default catalog);
    /// an admin's edit makes it their own.
    #[serde(default)]
    pub seeded: bool,
}

impl GpuTypeRecord {
    pub fn new(id: GpuTypeId, v: GpuType) -> Self {
        Self {
            id,
            name: v.name,
            resource_name: v.resource_name,
            sharing: v.sharing,
            node_selector: v.node_selector,
            memory_gb: v.memory_gb,
            allowed_counts: v.allowed_counts,
            price_milli: v.price_milli,
            retired: false,
            seeded: false,
        }
    }

    pub fn sizing(&self) -> GpuSizing {
        GpuSizing {
            sharing: self.sharing,
            memory_gb: self.memory_gb,
        }
    }

    /// GPU units, in thousandths, that `count` of this type takes.
    pub fn units_milli(&self, count: u32) -> u64 {
        gpu_units_milli(self.sizing(), count)
    }
}

/// A stored hardware spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardwareSpecRecord {
    pub id: HardwareSpecId,
    /// e.g. `p4.tiny.1g`, unique among hardware specs.
    pub name: String,
    /// CPU cores in thousandths.
    pub cpu_milli: u64,
    pub ram_mib: u64,
    /// The GPU type it goes with; `None` for CPU-only.
    #[serde(default)]
    pub gpu_type: Option<GpuTypeId>,
    /// Price per hour, in thousandths of the currency.
    pub price_milli: u64,
    #[serde(default)]
    pub retired: bool,
    /// Put there by the first start of the store (the default catalog);
    /// an admin's edit makes it their own.
    #[serde(default)]
    pub seeded: bool,
}

impl HardwareSpecRecord {
    pub fn new(id: HardwareSpecId, v: HardwareSpec) -> Self {
        Self {
            id,
            name: v.name,
            cpu_milli: v.cpu_milli,
            ram_mib: v.ram_mib,
            gpu_type: v.gpu_type,
            price_milli: v.price_milli,
            retired: false,
            seeded: false,
        }
    }
}

/// A stored public image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub id: ImageId,
    /// Repository name, unique among images.
    pub name: String,
    /// Tags, in the admin's order.
    pub versions: Vec<String>,
    #[serde(default)]
    pub ssh_login: SshLogin,
    #[serde(default)]
    pub services: Vec<ImageService>,
    #[serde(default)]
    pub retired: bool,
    /// Put there by the first start of the store (the default catalog);
    /// an admin's edit makes it their own.
    #[serde(default)]
    pub seeded: bool,
}

impl ImageRecord {
    pub fn new(id: ImageId, v: Image) -> Self {
        Self {
            id,
            name: v.name,
            versions: v.versions,
            ssh_login: v.ssh_login,
            services: v.services,
            retired: false,
            seeded: false,
        }
    }
}

/// A stored storage type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageTypeRecord {
    pub id: StorageTypeId,
    pub name: String,
    /// Kubernetes storage class of the volumes.
    pub storage_class: String,
    pub min_gib: u32,
    pub max_gib: u32,
    #[serde(default)]
    pub retired: bool,
}

impl StorageTypeRecord {
    pub fn new(id: StorageTypeId, v: StorageType) -> Self {
        Self {
            id,
            name: v.name,
            storage_class: v.storage_class,
            min_gib: v.min_gib,
            max_gib: v.max_gib,
            retired: false,
        }
    }
}

/// A stored project purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurposeRecord {
    pub id: PurposeId,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// GPU types a project of this purpose may use; empty allows all.
    #[serde(default)]
    pub allowed_gpu_types: Vec<GpuTypeId>,
    /// Hardware specs a project of this purpose may use; empty allows all.
    #[serde(default)]
    pub allowed_specs: Vec<HardwareSpecId>,
    #[serde(default)]
    pub retired: bool,
}

impl PurposeRecord {
    pub fn new(id: PurposeId, v: Purpose) -> Self {
        Self {
            id,
            name: v.name,
            description: v.description,
            allowed_gpu_types: v.allowed_gpu_types,
            allowed_specs: v.allowed_specs,
            retired: false,
        }
    }

    pub fn allows_gpu_type(&self, id: GpuTypeId) -> bool {
        self.allowed_gpu_types.is_empty() || self.allowed_gpu_types.contains(&id)
    }

    pub fn allows_spec(&self, id: HardwareSpecId) -> bool {
        self.allowed_specs.is_empty() || self.allowed_specs.contains(&id)
    }
}

/// What the generic catalog functions need of a record.
pub trait CatalogRecord:
    Serialize + DeserializeOwned + Clone + Send + Sync + std::fmt::Debug + 'static
{
    type Id: Copy + PartialEq + Send + Sync + std::fmt::Display + std::fmt::Debug + 'static;
    const KIND: CatalogKind;
    const TABLE: TableDefinition<'static, u128, &'static [u8]>;
    fn key(id: Self::Id) -> u128;
    fn id(&self) -> Self::Id;
    fn name(&self) -> &str;
    fn retired(&self) -> bool;
    fn set_retired(&mut self, retired: bool);
}

macro_rules! catalog_record {
    ($record:ty, $id:ty, $kind:expr, $table:expr) => {
        impl CatalogRecord for $record {
            type Id = $id;
            const KIND: CatalogKind = $kind;
            const TABLE: TableDefinition<'static, u128, &'static [u8]> = $table;
            fn key(id: $id) -> u128 {
                id.as_u128()
            }
            fn id(&self) -> $id {
                self.id
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn retired(&self) -> bool {
                self.retired
            }
            fn set_retired(&mut self, retired: bool) {
                self.retired = retired;
            }
        }
    };
}

catalog_record!(
    GpuTypeRecord,
    GpuTypeId,
    CatalogKind::GpuType,
    tables::GPU_TYPE_ID_TO_GPU_TYPE
);
catalog_record!(
    HardwareSpecRecord,
    HardwareSpecId,
    CatalogKind::HardwareSpec,
    tables::HARDWARE_SPEC_ID_TO_SPEC
);
catalog_record!(
    ImageRecord,
    ImageId,
    CatalogKind::Image,
    tables::IMAGE_ID_TO_IMAGE
);
catalog_record!(
    StorageTypeRecord,
    StorageTypeId,
    CatalogKind::StorageType,
    tables::STORAGE_TYPE_ID_TO_STORAGE_TYPE
);
catalog_record!(
    PurposeRecord,
    PurposeId,
    CatalogKind::Purpose,
    tables::PURPOSE_ID_TO_PURPOSE
);

/// The `META` key set once the first start decided about the default
/// catalog (seeded or not), so it is never decided again.
const SEED_DECIDED_KEY: &str = "catalog_seed_decided";

/// Whether the default catalog was decided about already.
pub fn seed_decided_tx(tx: &WriteTransaction) -> Result<bool, StoreError> {
    Ok(tx
        .open_table(tables::META)?
        .get(SEED_DECIDED_KEY)?
        .is_some())
}

/// Records that the default catalog was decided about.
pub fn set_seed_decided_tx(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::META)?.insert(SEED_DECIDED_KEY, 1)?;
    Ok(())
}

/// The name index key: `"<kind>:<name in lowercase>"`.
fn name_key(kind: CatalogKind, name: &str) -> String {
    format!("{}:{}", kind.code(), name.to_lowercase())
}

fn get_in<T: CatalogRecord>(
    table: &impl ReadableTable<u128, &'static [u8]>,
    id: T::Id,
) -> Result<Option<T>, StoreError> {
    codec::decode_one(table, T::key(id))
}

pub fn get<T: CatalogRecord>(store: &Store, id: T::Id) -> Result<Option<T>, StoreError> {
    store.read(|tx| get_in(&tx.open_table(T::TABLE)?, id))
}

pub fn get_tx<T: CatalogRecord>(tx: &WriteTransaction, id: T::Id) -> Result<Option<T>, StoreError> {
    get_in(&tx.open_table(T::TABLE)?, id)
}

/// Every item of a kind, oldest first.
pub fn list<T: CatalogRecord>(store: &Store) -> Result<Vec<T>, StoreError> {
    store.read(|tx| codec::decode_all(&tx.open_table(T::TABLE)?))
}

pub fn list_tx<T: CatalogRecord>(tx: &WriteTransaction) -> Result<Vec<T>, StoreError> {
    codec::decode_all(&tx.open_table(T::TABLE)?)
}

/// Records a new item; a name its kind already has is a `Conflict`.
pub fn insert_tx<T: CatalogRecord>(tx: &WriteTransaction, item: &T) -> Result<(), StoreError> {
    let key = name_key(T::KIND, item.name());
    let mut index = tx.open_table(tables::CATALOG_NAME_TO_ID)?;
    if index.get(key.as_str())?.is_some() {
        return Err(StoreError::Conflict("name"));
    }
    index.insert(key.as_str(), T::key(item.id()))?;
    tx.open_table(T::TABLE)?
        .insert(T::key(item.id()), codec::encode(item)?.as_slice())?;
    Ok(())
}

/// Replaces a stored item, moving its name in the index when it changed; a
/// name another item of the kind has is a `Conflict`.
pub fn update_tx<T: CatalogRecord>(tx: &WriteTransaction, item: &T) -> Result<(), StoreError> {
    let mut table = tx.open_table(T::TABLE)?;
    let previous: T = get_in(&table, item.id())?.ok_or_else(|| {
        StoreError::Corrupt(format!(
            "update of a {} that does not exist: {}",
            T::KIND.code(),
            item.id()
        ))
    })?;
    let old_key = name_key(T::KIND, previous.name());
    let new_key = name_key(T::KIND, item.name());
    if old_key != new_key {
        let mut index = tx.open_table(tables::CATALOG_NAME_TO_ID)?;
        if index.get(new_key.as_str())?.is_some() {
            return Err(StoreError::Conflict("name"));
        }
        index.remove(old_key.as_str())?;
        index.insert(new_key.as_str(), T::key(item.id()))?;
    }
    table.insert(T::key(item.id()), codec::encode(item)?.as_slice())?;
    Ok(())
}

/// Removes an item and its name; whether anything uses it is the caller's
/// check, in the same transaction. Returns whether it existed.
pub fn delete_tx<T: CatalogRecord>(tx: &WriteTransaction, id: T::Id) -> Result<bool, StoreError> {
    let mut table = tx.open_table(T::TABLE)?;
    let Some(previous) = get_in::<T>(&table, id)? else {
        return Ok(false);
    };
    table.remove(T::key(id))?;
    tx.open_table(tables::CATALOG_NAME_TO_ID)?
        .remove(name_key(T::KIND, previous.name()).as_str())?;
    Ok(true)
}

/// What uses a catalog item (names, for the message that refuses a delete).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uses {
    pub specs: Vec<String>,
    pub purposes: Vec<String>,
    /// One or more projects (any status) were created for it.
    pub projects: bool,
    /// Storages of the storage type, as `<project code>/<storage name>`.
    pub storages: Vec<String>,
}

impl Uses {
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
            && self.purposes.is_empty()
            && !self.projects
            && self.storages.is_empty()
    }
}

/// Hardware specs made for the GPU type and purposes that allow it.
pub fn gpu_type_uses_tx(tx: &WriteTransaction, id: GpuTypeId) -> Result<Uses, StoreError> {
    let specs = list_tx::<HardwareSpecRecord>(tx)?
        .into_iter()
        .filter(|s| s.gpu_type == Some(id))
        .map(|s| s.name)
        .collect();
    let purposes = list_tx::<PurposeRecord>(tx)?
        .into_iter()
        .filter(|p| p.allowed_gpu_types.contains(&id))
        .map(|p| p.name)
        .collect();
    Ok(Uses {
        specs,
        purposes,
        ..Uses::default()
    })
}

/// Purposes that allow the hardware spec.
pub fn hardware_spec_uses_tx(
    tx: &WriteTransaction,
    id: HardwareSpecId,
) -> Result<Uses, StoreError> {
    let purposes = list_tx::<PurposeRecord>(tx)?
        .into_iter()
        .filter(|p| p.allowed_specs.contains(&id))
        .map(|p| p.name)
        .collect();
    Ok(Uses {
        purposes,
        ..Uses::default()
    })
}

/// Projects created for the purpose.
pub fn purpose_uses_tx(tx: &WriteTransaction, id: PurposeId) -> Result<Uses, StoreError> {
    Ok(Uses {
        projects: projects::uses_purpose_tx(tx, id)?,
        ..Uses::default()
    })
}

/// The storages of the storage type (those being deleted too: they still
/// hold data of it).
pub fn storage_type_uses_tx(tx: &WriteTransaction, id: StorageTypeId) -> Result<Uses, StoreError> {
    let mut storages = Vec::new();
    for volume in volumes::all_tx(tx)? {
        if volume.storage_type != Some(id) {
            continue;
        }
        let code = projects::get_tx(tx, volume.spec.project)?
            .map(|p| p.code)
            .unwrap_or_default();
        storages.push(format!("{code}/{}", volume.spec.name));
    }
    Ok(Uses {
        storages,
        ..Uses::default()
    })
}

/// Images are not used by anything that can stop a delete yet (containers
/// keep their own copy of what they need).
pub fn unused_tx<Id>(_tx: &WriteTransaction, _id: Id) -> Result<Uses, StoreError> {
    Ok(Uses::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::{GpuTypeRequest, HardwareSpecRequest, PurposeRequest};

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open_in(dir.path()).expect("store");
        (dir, store)
    }

    fn gpu(name: &str) -> GpuTypeRecord {
        let request = GpuTypeRequest {
            name: name.into(),
            resource_name: "nvidia.com/gpu".into(),
            sharing: "whole".into(),
            memory_gb: "16".into(),
            allowed_counts: "1,2".into(),
            ..GpuTypeRequest::default()
        };
        GpuTypeRecord::new(GpuTypeId::generate(), request.validate().expect("valid"))
    }

    #[test]
    fn names_are_unique_per_kind_ignoring_case() {
        let (_dir, store) = open();
        let v100 = gpu("V100");
        store
            .write(|tx| insert_tx(tx, &v100))
            .expect("first insert");
        let twin = gpu("v100");
        assert!(matches!(
            store.write(|tx| insert_tx(tx, &twin)),
            Err(StoreError::Conflict("name"))
        ));
        // Another kind may have the same name.
        let spec = HardwareSpecRecord::new(
            HardwareSpecId::generate(),
            HardwareSpecRequest {
                name: "V100".into(),
                cpu_cores: "1".into(),
                ram_gb: "1".into(),
                price: "0".into(),
                ..HardwareSpecRequest::default()
            }
            .validate()
            .expect("valid"),
        );
        store.write(|tx| insert_tx(tx, &spec)).expect("spec");

        // Renaming frees the old name and takes the new one.
        let a100 = GpuTypeRecord {
            name: "A100".into(),
            ..v100.clone()
        };
        store.write(|tx| update_tx(tx, &a100)).expect("rename");
        store
            .write(|tx| insert_tx(tx, &twin))
            .expect("v100 is free");
        let clash = GpuTypeRecord {
            name: "a100".into(),
            ..twin.clone()
        };
        assert!(matches!(
            store.write(|tx| update_tx(tx, &clash)),
            Err(StoreError::Conflict("name"))
        ));
        let all: Vec<GpuTypeRecord> = list(&store).expect("list");
        assert_eq!(all.len(), 2);
        assert_eq!(
            get::<GpuTypeRecord>(&store, v100.id)
                .expect("get")
                .map(|g| g.name),
            Some("A100".to_owned())
        );

        assert!(
            store
                .write(|tx| delete_tx::<GpuTypeRecord>(tx, v100.id))
                .expect("delete")
        );
        assert!(
            !store
                .write(|tx| delete_tx::<GpuTypeRecord>(tx, v100.id))
                .expect("again")
        );
        store
            .write(|tx| insert_tx(tx, &gpu("A100")))
            .expect("the deleted name is free");
    }

    #[test]
    fn uses_name_what_refers_to_an_item() {
        let (_dir, store) = open();
        let p4 = gpu("P4");
        let spec = HardwareSpecRecord::new(
            HardwareSpecId::generate(),
            HardwareSpecRequest {
                name: "p4.tiny.1g".into(),
                cpu_cores: "0.5".into(),
                ram_gb: "0.5".into(),
                gpu_type: p4.id.to_string(),
                price: "1".into(),
            }
            .validate()
            .expect("valid"),
        );
        let purpose = PurposeRecord::new(
            PurposeId::generate(),
            PurposeRequest {
                name: "Teaching".into(),
                allowed_specs: vec![spec.id.to_string()],
                ..PurposeRequest::default()
            }
            .validate()
            .expect("valid"),
        );
        let uses = store
            .write(|tx| {
                insert_tx(tx, &p4)?;
                insert_tx(tx, &spec)?;
                insert_tx(tx, &purpose)?;
                gpu_type_uses_tx(tx, p4.id)
            })
            .expect("write");
        assert_eq!(uses.specs, vec!["p4.tiny.1g"]);
        assert!(uses.purposes.is_empty());
        let uses = store
            .write(|tx| hardware_spec_uses_tx(tx, spec.id))
            .expect("spec uses");
        assert_eq!(uses.purposes, vec!["Teaching"]);
        assert!(purpose.allows_gpu_type(p4.id), "no GPU type ticked: all");
        assert!(!purpose.allows_spec(HardwareSpecId::generate()));

        let uses = store
            .write(|tx| purpose_uses_tx(tx, purpose.id))
            .expect("purpose uses");
        assert!(uses.is_empty(), "no project was created for it");
    }

    #[test]
    fn gpu_records_count_units() {
        let mut p4 = gpu("P4");
        p4.sharing = Sharing::MemorySliced;
        p4.memory_gb = 8;
        assert_eq!(p4.units_milli(1), 125);
    }
}
