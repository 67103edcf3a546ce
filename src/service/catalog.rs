//! The catalog the admin keeps: GPU types, hardware specs, public images,
//! storage types and project purposes. Each kind can be listed, read,
//! created, edited, retired (hidden from new choices) and deleted while
//! nothing uses it.

use super::{ServiceError, Services};
use crate::cluster::AnyDriver;
use crate::cluster::local::LocalGpu;
use crate::domain::audit::{AuditAction, AuditOutcome};
use crate::domain::catalog::{
    GpuTypeRequest, HardwareSpecRequest, ImageRequest, PurposeRequest, SeedGpu, StorageTypeRequest,
    seed_cpu_spec, seed_gpu_spec, seed_gpu_type, seed_host_image,
};
use crate::domain::ids::{GpuTypeId, HardwareSpecId, ImageId, PurposeId, StorageTypeId};
use crate::domain::validation::FieldErrors;
use crate::store::catalog::{
    self, CatalogRecord, GpuTypeRecord, HardwareSpecRecord, ImageRecord, PurposeRecord,
    StorageTypeRecord, Uses,
};
use crate::store::{StoreError, WriteTx};

/// What a delete did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted {
        name: String,
    },
    /// Refused because something uses the item; nothing was changed.
    InUse {
        name: String,
        uses: Uses,
    },
}

/// Finds what uses an item, inside the deleting transaction.
type UsesFn<Id> = fn(&WriteTx, Id) -> Result<Uses, StoreError>;

fn name_taken() -> ServiceError {
    ServiceError::Invalid(FieldErrors::single("name", "catalog.error.name_taken"))
}

impl Services {
    async fn catalog_list<T: CatalogRecord>(
        &self,
        include_retired: bool,
    ) -> Result<Vec<T>, ServiceError> {
        self.blocking(move |store| {
            let mut all: Vec<T> = catalog::list(store)?;
            all.retain(|item| include_retired || !item.retired());
            all.sort_by_cached_key(|item| item.name().to_lowercase());
            Ok(all)
        })
        .await
    }

    async fn catalog_get<T: CatalogRecord>(&self, id: T::Id) -> Result<T, ServiceError> {
        self.blocking(move |store| catalog::get(store, id)?.ok_or(ServiceError::NotFound))
            .await
    }

    /// Creates (`id` is `None`) or replaces an item. `build` makes the record
    /// from the stored one, inside the write transaction, so checks of what
    /// it refers to see the same state the write commits on.
    async fn catalog_save<T, F>(&self, id: Option<T::Id>, build: F) -> Result<T, ServiceError>
    where
        T: CatalogRecord,
        F: FnOnce(&WriteTx, Option<&T>) -> Result<T, ServiceError> + Send + 'static,
    {
        let stamp = self.audit_stamp();
        let record = self
            .blocking(move |store| {
                store.write(|tx| {
                    let previous = match id {
                        Some(id) => {
                            Some(catalog::get_tx::<T>(tx, id)?.ok_or(ServiceError::NotFound)?)
                        }
                        None => None,
                    };
                    let record = build(tx, previous.as_ref())?;
                    let written = match previous {
                        Some(_) => catalog::update_tx(tx, &record),
                        None => catalog::insert_tx(tx, &record),
                    };
                    match written {
                        Err(StoreError::Conflict(_)) => Err(name_taken()),
                        other => other.map_err(ServiceError::from),
                    }?;
                    stamp.record_tx(tx, AuditAction::CatalogSaved, audit_target::<T>(&record))?;
                    Ok(record)
                })
            })
            .await?;
        tracing::info!(
            kind = T::KIND.code(),
            id = %record.id(),
            name = %record.name(),
            created = id.is_none(),
            "catalog item saved"
        );
        Ok(record)
    }

    async fn catalog_set_retired<T: CatalogRecord>(
        &self,
        id: T::Id,
        retired: bool,
    ) -> Result<T, ServiceError> {
        let stamp = self.audit_stamp();
        let record = self
            .blocking(move |store| {
                store.write(|tx| {
                    let mut record = catalog::get_tx::<T>(tx, id)?.ok_or(ServiceError::NotFound)?;
                    if record.retired() != retired {
                        record.set_retired(retired);
                        catalog::update_tx(tx, &record)?;
                        let target = format!(
                            "{} ({})",
                            audit_target::<T>(&record),
                            if retired { "retired" } else { "in use again" }
                        );
                        stamp.record_tx(tx, AuditAction::CatalogRetired, target)?;
                    }
                    Ok(record)
                })
            })
            .await?;
        tracing::info!(kind = T::KIND.code(), id = %id, retired, "catalog item retired flag set");
        Ok(record)
    }

    async fn catalog_delete<T: CatalogRecord>(
        &self,
        id: T::Id,
        uses: UsesFn<T::Id>,
    ) -> Result<DeleteOutcome, ServiceError> {
        let stamp = self.audit_stamp();
        let outcome = self
            .blocking(move |store| {
                store.write(|tx| {
                    let record = catalog::get_tx::<T>(tx, id)?.ok_or(ServiceError::NotFound)?;
                    let name = record.name().to_owned();
                    let uses = uses(tx, id)?;
                    if !uses.is_empty() {
                        crate::store::audit::insert_tx(
                            tx,
                            &stamp.event(
                                AuditAction::CatalogDeleted,
                                audit_target::<T>(&record),
                                AuditOutcome::Refused,
                            ),
                        )?;
                        return Ok(DeleteOutcome::InUse { name, uses });
                    }
                    catalog::delete_tx::<T>(tx, id)?;
                    stamp.record_tx(tx, AuditAction::CatalogDeleted, audit_target::<T>(&record))?;
                    Ok(DeleteOutcome::Deleted { name })
                })
            })
            .await?;
        match &outcome {
            DeleteOutcome::Deleted { name } => {
                tracing::info!(kind = T::KIND.code(), id = %id, name = %name, "catalog item deleted");
            }
            DeleteOutcome::InUse { name, .. } => {
                tracing::info!(kind = T::KIND.code(), id = %id, name = %name, "catalog delete refused: in use");
            }
        }
        Ok(outcome)
    }

    // --- GPU types -------------------------------------------------------

    /// GPU types by name; retired ones only when asked.
    pub async fn list_gpu_types(
        &self,
        include_retired: bool,
    ) -> Result<Vec<GpuTypeRecord>, ServiceError> {
        self.catalog_list(include_retired).await
    }

    pub async fn gpu_type(&self, id: GpuTypeId) -> Result<GpuTypeRecord, ServiceError> {
        self.catalog_get(id).await
    }

    pub async fn create_gpu_type(
        &self,
        request: &GpuTypeRequest,
    ) -> Result<GpuTypeRecord, ServiceError> {
        let value = request.validate().map_err(ServiceError::Invalid)?;
        self.catalog_save(None, move |_, _| {
            Ok(GpuTypeRecord::new(GpuTypeId::generate(), value))
        })
        .await
    }

    pub async fn update_gpu_type(
        &self,
        id: GpuTypeId,
        request: &GpuTypeRequest,
    ) -> Result<GpuTypeRecord, ServiceError> {
        let value = request.validate().map_err(ServiceError::Invalid)?;
        self.catalog_save(Some(id), move |_, previous: Option<&GpuTypeRecord>| {
            Ok(GpuTypeRecord {
                retired: previous.is_some_and(|p| p.retired),
                ..GpuTypeRecord::new(id, value)
            })
        })
        .await
    }

    pub async fn set_gpu_type_retired(
        &self,
        id: GpuTypeId,
        retired: bool,
    ) -> Result<GpuTypeRecord, ServiceError> {
        self.catalog_set_retired(id, retired).await
    }

    /// Deletes a GPU type that no hardware spec or purpose uses.
    pub async fn delete_gpu_type(&self, id: GpuTypeId) -> Result<DeleteOutcome, ServiceError> {
        self.catalog_delete::<GpuTypeRecord>(id, catalog::gpu_type_uses_tx)
            .await
    }

    // --- Hardware specs --------------------------------------------------

    /// Hardware specs by name; retired ones only when asked.
    pub async fn list_hardware_specs(
        &self,
        include_retired: bool,
    ) -> Result<Vec<HardwareSpecRecord>, ServiceError> {
        self.catalog_list(include_retired).await
    }

    pub async fn hardware_spec(
        &self,
        id: HardwareSpecId,
    ) -> Result<HardwareSpecRecord, ServiceError> {
        self.catalog_get(id).await
    }

    pub async fn create_hardware_spec(
        &self,
        request: &HardwareSpecRequest,
    ) -> Result<HardwareSpecRecord, ServiceError> {
        let value = request.validate().map_err(ServiceError::Invalid)?;
        self.catalog_save(None, move |tx, _| {
            check_spec_gpu_type(tx, value.gpu_type, None)?;
            Ok(HardwareSpecRecord::new(HardwareSpecId::generate(), value))
        })
        .await
    }

    pub async fn update_hardware_spec(
        &self,
        id: HardwareSpecId,
        request: &HardwareSpecRequest,
    ) -> Result<HardwareSpecRecord, ServiceError> {
        let value = request.validate().map_err(ServiceError::Invalid)?;
        self.catalog_save(
            Some(id),
            move |tx, previous: Option<&HardwareSpecRecord>| {
                check_spec_gpu_type(tx, value.gpu_type, previous.and_then(|p| p.gpu_type))?;
                Ok(HardwareSpecRecord {
                    retired: previous.is_some_and(|p| p.retired),
                    ..HardwareSpecRecord::new(id, value)
                })
            },
        )
        .await
    }

    pub async fn set_hardware_spec_retired(
        &self,
        id: HardwareSpecId,
        retired: bool,
    ) -> Result<HardwareSpecRecord, ServiceError> {
        self.catalog_set_retired(id, retired).await
    }

    /// Deletes a hardware spec that no purpose uses.
    pub async fn delete_hardware_spec(
        &self,
        id: HardwareSpecId,
    ) -> Result<DeleteOutcome, ServiceError> {
        self.catalog_delete::<HardwareSpecRecord>(id, catalog::hardware_spec_uses_tx)
            .await
    }

    // --- Images ----------------------------------------------------------

    /// Public images by name; retired ones only when asked.
    pub async fn list_images(
        &self,
        include_retired: bool,
    ) -> Result<Vec<ImageRecord>, ServiceError> {
        self.catalog_list(include_retired).await
    }

    pub async fn image(&self, id: ImageId) -> Result<ImageRecord, ServiceError> {
        self.catalog_get(id).await
    }

    pub async fn create_image(&self, request: &ImageRequest) -> Result<ImageRecord, ServiceError> {
        let value = request.validate().map_err(ServiceError::Invalid)?;
        self.catalog_save(None, move |_, _| {
            Ok(ImageRecord::new(ImageId::generate(), value))
        })
        .await
    }

    pub async fn update_image(
        &self,
        id: ImageId,
        request: &ImageRequest,
    ) -> Result<ImageRecord, ServiceError> {
        let value = request.validate().map_err(ServiceError::Invalid)?;
        self.catalog_save(Some(id), move |_, previous: Option<&ImageRecord>| {
            Ok(ImageRecord {
                retired: previous.is_some_and(|p| p.retired),
                ..ImageRecord::new(id, value)
            })
        })
        .await
    }

    pub async fn set_image_retired(
        &self,
        id: ImageId,
        retired: bool,
    ) -> Result<ImageRecord, ServiceError> {
        self.catalog_set_retired(id, retired).await
    }

    pub async fn delete_image(&self, id: ImageId) -> Result<DeleteOutcome, ServiceError> {
        self.catalog_delete::<ImageRecord>(id, catalog::unused_tx)
            .await
    }

    // --- Storage types ---------------------------------------------------

    /// Storage types by name; retired ones only when asked.
    pub async fn list_storage_types(
        &self,
        include_retired: bool,
    ) -> Result<Vec<StorageTypeRecord>, ServiceError> {
        self.catalog_list(include_retired).await
    }

    pub async fn storage_type(&self, id: StorageTypeId) -> Result<StorageTypeRecord, ServiceError> {
        self.catalog_get(id).await
    }

    pub async fn create_storage_type(
        &self,
        request: &StorageTypeRequest,
    ) -> Result<StorageTypeRecord, ServiceError> {
        let value = request.validate().map_err(ServiceError::Invalid)?;
        self.catalog_save(None, move |_, _| {
            Ok(StorageTypeRecord::new(StorageTypeId::generate(), value))
        })
        .await
    }

    pub async fn update_storage_type(
        &self,
        id: StorageTypeId,
        request: &StorageTypeRequest,
    ) -> Result<StorageTypeRecord, ServiceError> {
        let value = request.validate().map_err(ServiceError::Invalid)?;
        self.catalog_save(Some(id), move |_, previous: Option<&StorageTypeRecord>| {
            Ok(StorageTypeRecord {
                retired: previous.is_some_and(|p| p.retired),
                ..StorageTypeRecord::new(id, value)
            })
        })
        .await
    }

    pub async fn set_storage_type_retired(
        &self,
        id: StorageTypeId,
        retired: bool,
    ) -> Result<StorageTypeRecord, ServiceError> {
        self.catalog_set_retired(id, retired).await
    }

    pub async fn delete_storage_type(
        &self,
        id: StorageTypeId,
    ) -> Result<DeleteOutcome, ServiceError> {
        self.catalog_delete::<StorageTypeRecord>(id, catalog::storage_type_uses_tx)
            .await
    }

    // --- Purposes --------------------------------------------------------

    /// Project purposes by name; retired ones only when asked.
    pub async fn list_purposes(
        &self,
        include_retired: bool,
    ) -> Result<Vec<PurposeRecord>, ServiceError> {
        self.catalog_list(include_retired).await
    }

    pub async fn purpose(&self, id: PurposeId) -> Result<PurposeRecord, ServiceError> {
        self.catalog_get(id).await
    }

    pub async fn create_purpose(
        &self,
        request: &PurposeRequest,
    ) -> Result<PurposeRecord, ServiceError> {
        let value = request.validate().map_err(ServiceError::Invalid)?;
        self.catalog_save(None, move |tx, _| {
            check_purpose_choices(tx, &value.allowed_gpu_types, &value.allowed_specs, None)?;
            Ok(PurposeRecord::new(PurposeId::generate(), value))
        })
        .await
    }

    pub async fn update_purpose(
        &self,
        id: PurposeId,
        request: &PurposeRequest,
    ) -> Result<PurposeRecord, ServiceError> {
        let value = request.validate().map_err(ServiceError::Invalid)?;
        self.catalog_save(Some(id), move |tx, previous: Option<&PurposeRecord>| {
            check_purpose_choices(tx, &value.allowed_gpu_types, &value.allowed_specs, previous)?;
            Ok(PurposeRecord {
                retired: previous.is_some_and(|p| p.retired),
                ..PurposeRecord::new(id, value)
            })
        })
        .await
    }

    pub async fn set_purpose_retired(
        &self,
        id: PurposeId,
        retired: bool,
    ) -> Result<PurposeRecord, ServiceError> {
        self.catalog_set_retired(id, retired).await
    }

    /// Deletes a purpose that no project was created for.
    pub async fn delete_purpose(&self, id: PurposeId) -> Result<DeleteOutcome, ServiceError> {
        self.catalog_delete::<PurposeRecord>(id, catalog::purpose_uses_tx)
            .await
    }
}

/// A catalog item as the audit log names it: `gpu_type:A100`.
fn audit_target<T: CatalogRecord>(record: &T) -> String {
    format!("{}:{}", T::KIND.code(), record.name())
}

/// Whether `id` may be chosen now: it exists, and it is not retired unless
/// it was already chosen (`kept`).
fn check_choice<T: CatalogRecord>(
    tx: &WriteTx,
    id: T::Id,
    kept: bool,
) -> Result<Option<&'static str>, ServiceError> {
    Ok(match catalog::get_tx::<T>(tx, id)? {
        None => Some("catalog.error.choice_missing"),
        Some(item) if item.retired() && !kept => Some("catalog.error.choice_retired"),
        Some(_) => None,
    })
}

fn check_spec_gpu_type(
    tx: &WriteTx,
    chosen: Option<GpuTypeId>,
    before: Option<GpuTypeId>,
) -> Result<(), ServiceError> {
    let Some(id) = chosen else {
        return Ok(());
    };
    match check_choice::<GpuTypeRecord>(tx, id, before == Some(id))? {
        Some(message) => Err(ServiceError::Invalid(FieldErrors::single(
            "gpu_type", message,
        ))),
        None => Ok(()),
    }
}

fn check_purpose_choices(
    tx: &WriteTx,
    gpu_types: &[GpuTypeId],
    specs: &[HardwareSpecId],
    previous: Option<&PurposeRecord>,
) -> Result<(), ServiceError> {
    let mut errors = FieldErrors::new();
    for &id in gpu_types {
        let kept = previous.is_some_and(|p| p.allowed_gpu_types.contains(&id));
        if let Some(message) = check_choice::<GpuTypeRecord>(tx, id, kept)? {
            errors.add("allowed_gpu_types", message);
            break;
        }
    }
    for &id in specs {
        let kept = previous.is_some_and(|p| p.allowed_specs.contains(&id));
        if let Some(message) = check_choice::<HardwareSpecRecord>(tx, id, kept)? {
            errors.add("allowed_specs", message);
            break;
        }
    }
    errors.into_result(()).map_err(ServiceError::Invalid)
}

/// What the first start of a store put in its catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seeded {
    pub gpu_types: usize,
    pub hardware_specs: usize,
    pub images: usize,
}

/// The local GPU inventory as seed GPU models: one per name, with how many
/// cards of it, in the order of their first index.
fn seed_gpus(inventory: &[LocalGpu]) -> Vec<SeedGpu> {
    let mut models: Vec<SeedGpu> = Vec::new();
    for gpu in inventory {
        match models.iter_mut().find(|m| m.name == gpu.name) {
            Some(model) => model.count += 1,
            None => models.push(SeedGpu {
                name: gpu.name.clone(),
                memory_mib: gpu.memory_mib,
                count: 1,
            }),
        }
    }
    models
}

/// Validates a seed form; a model name no GPU type may have (nvidia-smi
/// said something odd) is left out with a warning.
fn seed_item<T, E: std::fmt::Debug>(what: &str, item: Result<T, E>) -> Option<T> {
    item.map_err(|errors| tracing::warn!(what, ?errors, "default catalog: item left out"))
        .ok()
}

/// Inserts an item; false when its kind has the name already.
fn insert_new<T: CatalogRecord>(tx: &WriteTx, item: &T) -> Result<bool, StoreError> {
    match catalog::insert_tx(tx, item) {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(other) => Err(other),
    }
}

impl Services {
    /// Fills the catalog of a new store with what this host can run at
    /// once, each item marked seeded: a CPU-only hardware spec; on the
    /// local driver a GPU type and a spec for each GPU model of its
    /// inventory, and the host environment image (the web terminal,
    /// JupyterLab when `jupyter` can be run, SSH when the driver serves
    /// it). A cluster gets the CPU spec
    /// only: its GPU types need node labels and sharing only the admin
    /// knows, and its containers need a real image.
    ///
    /// Decided once per store, on the first start of this version: a
    /// catalog that already has GPU types, specs or images is left alone,
    /// and either way the decision is recorded, so items an admin retired
    /// or deleted never come back. None when it was decided before.
    pub async fn seed_catalog(&self) -> Result<Option<Seeded>, ServiceError> {
        let (gpus, host_image) = match self.driver().map(|d| &**d) {
            Some(AnyDriver::Local(local)) => (
                seed_gpus(&local.gpus()),
                Some(seed_host_image(
                    local.can_run("jupyter"),
                    local.offers_ssh(),
                )),
            ),
            _ => (Vec::new(), None),
        };
        let cpu = seed_item("cpu spec", seed_cpu_spec().validate());
        let gpu_items: Vec<(GpuTypeRecord, Option<HardwareSpecRecord>)> = gpus
            .iter()
            .filter_map(|gpu| {
                let id = GpuTypeId::generate();
                let gpu_type = seed_item(&gpu.name, seed_gpu_type(gpu).validate())?;
                let spec = seed_item(&gpu.name, seed_gpu_spec(gpu, id).validate());
                Some((
                    GpuTypeRecord {
                        seeded: true,
                        ..GpuTypeRecord::new(id, gpu_type)
                    },
                    spec.map(|spec| HardwareSpecRecord {
                        seeded: true,
                        ..HardwareSpecRecord::new(HardwareSpecId::generate(), spec)
                    }),
                ))
            })
            .collect();
        let image = host_image.and_then(|i| seed_item("host image", i.validate()));
        let seeded = self
            .blocking(move |store| {
                store.write(|tx| {
                    if catalog::seed_decided_tx(tx)? {
                        return Ok(None);
                    }
                    catalog::set_seed_decided_tx(tx)?;
                    let mut seeded = Seeded::default();
                    let defined = !catalog::list_tx::<GpuTypeRecord>(tx)?.is_empty()
                        || !catalog::list_tx::<HardwareSpecRecord>(tx)?.is_empty()
                        || !catalog::list_tx::<ImageRecord>(tx)?.is_empty();
                    if defined {
                        return Ok(Some(seeded));
                    }
                    if let Some(cpu) = cpu {
                        let spec = HardwareSpecRecord {
                            seeded: true,
                            ..HardwareSpecRecord::new(HardwareSpecId::generate(), cpu)
                        };
                        catalog::insert_tx(tx, &spec)?;
                        seeded.hardware_specs += 1;
                    }
                    // Names equal but for letter case (or making the same
                    // spec name) are seeded once.
                    for (gpu_type, spec) in gpu_items {
                        if !insert_new(tx, &gpu_type)? {
                            continue;
                        }
                        seeded.gpu_types += 1;
                        if let Some(spec) = spec
                            && insert_new(tx, &spec)?
                        {
                            seeded.hardware_specs += 1;
                        }
                    }
                    if let Some(image) = image {
                        let image = ImageRecord {
                            seeded: true,
                            ..ImageRecord::new(ImageId::generate(), image)
                        };
                        catalog::insert_tx(tx, &image)?;
                        seeded.images += 1;
                    }
                    Ok(Some(seeded))
                })
            })
            .await?;
        if let Some(s) = &seeded {
            tracing::info!(
                gpu_types = s.gpu_types,
                hardware_specs = s.hardware_specs,
                images = s.images,
                "default catalog decided"
            );
        }
        Ok(seeded)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use jiff::SignedDuration;

    use super::*;
    use crate::clock::ManualClock;
    use crate::i18n::Catalog;
    use crate::store::Store;

    fn services(dir: &tempfile::TempDir) -> Services {
        let store = Arc::new(Store::open_in(dir.path()).expect("store"));
        let start = "2026-11-29T08:00:00Z".parse().expect("time");
        Services::new(
            store,
            Arc::new(ManualClock::new(start)),
            SignedDuration::from_hours(12),
            dir.path(),
            Arc::new(Catalog::load().expect("translations")),
        )
    }

    fn p4() -> GpuTypeRequest {
        GpuTypeRequest {
            name: "Tesla P4".into(),
            resource_name: "nvidia.com/gpu.shared".into(),
            sharing: "time_sliced".into(),
            memory_gb: "8".into(),
            allowed_counts: "1,2,4,8".into(),
            ..GpuTypeRequest::default()
        }
    }

    fn spec(name: &str, gpu: GpuTypeId) -> HardwareSpecRequest {
        HardwareSpecRequest {
            name: name.into(),
            cpu_cores: "0.5".into(),
            ram_gb: "0.5".into(),
            gpu_type: gpu.to_string(),
            price: "1".into(),
        }
    }

    fn invalid_field(
        result: Result<impl std::fmt::Debug, ServiceError>,
        field: &str,
    ) -> Option<&'static str> {
        match result {
            Err(ServiceError::Invalid(errors)) => errors.get(field),
            other => panic!("expected a refused field, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn retired_items_leave_new_choices_but_stay_listed() {
        let dir = tempfile::tempdir().expect("dir");
        let services = services(&dir);
        let gpu = services.create_gpu_type(&p4()).await.expect("created");
        services
            .set_gpu_type_retired(gpu.id, true)
            .await
            .expect("retired");
        assert!(
            services
                .list_gpu_types(false)
                .await
                .expect("list")
                .is_empty()
        );
        let all = services.list_gpu_types(true).await.expect("list");
        assert_eq!(all.len(), 1);
        assert!(all[0].retired);
        assert_eq!(
            invalid_field(
                services
                    .create_hardware_spec(&spec("p4.tiny", gpu.id))
                    .await,
                "gpu_type"
            ),
            Some("catalog.error.choice_retired")
        );
        assert_eq!(
            invalid_field(
                services
                    .create_hardware_spec(&spec("p4.tiny", GpuTypeId::generate()))
                    .await,
                "gpu_type"
            ),
            Some("catalog.error.choice_missing")
        );
        services
            .set_gpu_type_retired(gpu.id, false)
            .await
            .expect("unretired");
        let made = services
            .create_hardware_spec(&spec("p4.tiny", gpu.id))
            .await
            .expect("spec");
        // Retired again: a spec that already has it keeps it when edited.
        services
            .set_gpu_type_retired(gpu.id, true)
            .await
            .expect("retired");
        let edited = services
            .update_hardware_spec(made.id, &spec("p4.tiny.1g", gpu.id))
            .await
            .expect("edited");
        assert_eq!(edited.name, "p4.tiny.1g");
        assert_eq!(edited.gpu_type, Some(gpu.id));
        // An edit keeps the retired flag.
        let retired_spec = services
            .set_hardware_spec_retired(made.id, true)
            .await
            .expect("retired");
        let edited = services
            .update_hardware_spec(retired_spec.id, &spec("p4.tiny.2g", gpu.id))
            .await
            .expect("edited");
        assert!(edited.retired);
        assert_eq!(
            services
                .list_hardware_specs(false)
                .await
                .expect("list")
                .len(),
            0
        );
    }

    #[tokio::test]
    async fn used_items_cannot_be_deleted() {
        let dir = tempfile::tempdir().expect("dir");
        let services = services(&dir);
        let gpu = services.create_gpu_type(&p4()).await.expect("gpu");
        let made = services
            .create_hardware_spec(&spec("p4.tiny.1g", gpu.id))
            .await
            .expect("spec");
        let purpose = services
            .create_purpose(&PurposeRequest {
                name: "Teaching".into(),
                allowed_gpu_types: vec![gpu.id.to_string()],
                allowed_specs: vec![made.id.to_string()],
                ..PurposeRequest::default()
            })
            .await
            .expect("purpose");
        let outcome = services.delete_gpu_type(gpu.id).await.expect("answer");
        let DeleteOutcome::InUse { uses, .. } = outcome else {
            panic!("a used GPU type was deleted");
        };
        assert_eq!(uses.specs, vec!["p4.tiny.1g"]);
        assert_eq!(uses.purposes, vec!["Teaching"]);
        assert!(services.gpu_type(gpu.id).await.is_ok(), "nothing changed");
        assert!(matches!(
            services.delete_hardware_spec(made.id).await,
            Ok(DeleteOutcome::InUse { .. })
        ));

        assert!(matches!(
            services.delete_purpose(purpose.id).await,
            Ok(DeleteOutcome::Deleted { .. })
        ));
        assert!(matches!(
            services.delete_hardware_spec(made.id).await,
            Ok(DeleteOutcome::Deleted { .. })
        ));
        assert!(matches!(
            services.delete_gpu_type(gpu.id).await,
            Ok(DeleteOutcome::Deleted { .. })
        ));
        assert!(matches!(
            services.gpu_type(gpu.id).await,
            Err(ServiceError::NotFound)
        ));
        assert!(matches!(
            services.delete_gpu_type(gpu.id).await,
            Err(ServiceError::NotFound)
        ));
    }

    #[tokio::test]
    async fn names_are_unique_and_edits_keep_them_so() {
        let dir = tempfile::tempdir().expect("dir");
        let services = services(&dir);
        let first = services.create_gpu_type(&p4()).await.expect("gpu");
        let twin = GpuTypeRequest {
            name: "tesla p4".into(),
            ..p4()
        };
        assert_eq!(
            invalid_field(services.create_gpu_type(&twin).await, "name"),
            Some("catalog.error.name_taken")
        );
        let other = services
            .create_gpu_type(&GpuTypeRequest {
                name: "A100".into(),
                ..p4()
            })
            .await
            .expect("gpu");
        assert_eq!(
            invalid_field(services.update_gpu_type(other.id, &twin).await, "name"),
            Some("catalog.error.name_taken")
        );
        assert_eq!(
            services.gpu_type(other.id).await.expect("kept").name,
            "A100",
            "a refused edit changes nothing"
        );
        // Changing only the letter case of one's own name is fine.
        let renamed = services
            .update_gpu_type(first.id, &twin)
            .await
            .expect("renamed");
        assert_eq!(renamed.name, "tesla p4");
        let names: Vec<String> = services
            .list_gpu_types(true)
            .await
            .expect("list")
            .into_iter()
            .map(|g| g.name)
            .collect();
        assert_eq!(names, vec!["A100", "tesla p4"]);
        assert!(matches!(
            services.update_gpu_type(GpuTypeId::generate(), &p4()).await,
            Err(ServiceError::NotFound)
        ));
    }
}
