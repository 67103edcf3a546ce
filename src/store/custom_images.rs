//! Custom images: a container saved as an image of its project, keyed by
//! the id of the image commit workload that saves it (its status is that
//! workload's), with indexes by project, by owner, and the unique
//! (project, `name:tag`).

use jiff::Timestamp;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{StoreError, codec, tables};
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::image::ImageType;
use crate::domain::workload::{ImageRef, ServiceSpec, WorkloadId};

/// A stored custom image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomImageRecord {
    /// The image commit workload's id.
    pub id: WorkloadId,
    pub project: ProjectId,
    pub owner: UserId,
    pub name: String,
    pub description: String,
    /// The name and tag the user chose (`sklearn-svm-iris:v1`).
    pub image: ImageRef,
    /// What the commit pushes and containers run (`custom/<code>/<name>`).
    pub target: ImageRef,
    pub image_type: ImageType,
    /// The services of the container it was saved from.
    pub services: Vec<ServiceSpec>,
    /// The container it was saved from, and its name then.
    pub source: WorkloadId,
    pub source_name: String,
    pub created_at: Timestamp,
}

fn ref_key(image: &ImageRef) -> String {
    image.to_string()
}

/// Stores a new custom image with its indexes; refuses a name and tag its
/// project already has (`StoreError::Conflict`).
pub fn insert_tx(tx: &WriteTransaction, record: &CustomImageRecord) -> Result<(), StoreError> {
    let id = record.id.as_u128();
    let project = record.project.as_u128();
    let key = ref_key(&record.image);
    let mut refs = tx.open_table(tables::PROJECT_IMAGE_REF_TO_CUSTOM_IMAGE_ID)?;
    if refs.get((project, key.as_str()))?.is_some() {
        return Err(StoreError::Conflict("a custom image of this name and tag"));
    }
    refs.insert((project, key.as_str()), id)?;
    tx.open_multimap_table(tables::PROJECT_ID_TO_CUSTOM_IMAGE_IDS)?
        .insert(project, id)?;
    tx.open_multimap_table(tables::USER_ID_TO_CUSTOM_IMAGE_IDS)?
        .insert(record.owner.as_u128(), id)?;
    tx.open_table(tables::CUSTOM_IMAGE_ID_TO_IMAGE)?
        .insert(id, codec::encode(record)?.as_slice())?;
    Ok(())
}

pub fn get_tx(
    tx: &WriteTransaction,
    id: WorkloadId,
) -> Result<Option<CustomImageRecord>, StoreError> {
    codec::decode_one(
        &tx.open_table(tables::CUSTOM_IMAGE_ID_TO_IMAGE)?,
        id.as_u128(),
    )
}

pub fn get_read_tx(
    tx: &ReadTransaction,
    id: WorkloadId,
) -> Result<Option<CustomImageRecord>, StoreError> {
    codec::decode_one(
        &tx.open_table(tables::CUSTOM_IMAGE_ID_TO_IMAGE)?,
        id.as_u128(),
    )
}

/// The custom images of `project`, oldest first.
pub fn of_project_read_tx(
    tx: &ReadTransaction,
    project: ProjectId,
) -> Result<Vec<CustomImageRecord>, StoreError> {
    codec::decode_indexed(
        &tx.open_multimap_table(tables::PROJECT_ID_TO_CUSTOM_IMAGE_IDS)?,
        &tx.open_table(tables::CUSTOM_IMAGE_ID_TO_IMAGE)?,
        project.as_u128(),
    )
}

/// The custom images of `project`, in a write transaction.
pub fn of_project_tx(
    tx: &WriteTransaction,
    project: ProjectId,
) -> Result<Vec<CustomImageRecord>, StoreError> {
    codec::decode_indexed(
        &tx.open_multimap_table(tables::PROJECT_ID_TO_CUSTOM_IMAGE_IDS)?,
        &tx.open_table(tables::CUSTOM_IMAGE_ID_TO_IMAGE)?,
        project.as_u128(),
    )
}

/// The custom images `owner` made, in every project, oldest first.
pub fn of_owner_read_tx(
    tx: &ReadTransaction,
    owner: UserId,
) -> Result<Vec<CustomImageRecord>, StoreError> {
    codec::decode_indexed(
        &tx.open_multimap_table(tables::USER_ID_TO_CUSTOM_IMAGE_IDS)?,
        &tx.open_table(tables::CUSTOM_IMAGE_ID_TO_IMAGE)?,
        owner.as_u128(),
    )
}

/// Removes a custom image and its index entries; returns what was removed.
pub fn remove_tx(
    tx: &WriteTransaction,
    id: WorkloadId,
) -> Result<Option<CustomImageRecord>, StoreError> {
    let removed: Option<CustomImageRecord> = tx
        .open_table(tables::CUSTOM_IMAGE_ID_TO_IMAGE)?
        .remove(id.as_u128())?
        .map(|b| codec::decode(b.value()))
        .transpose()?;
    if let Some(record) = &removed {
        let project = record.project.as_u128();
        tx.open_table(tables::PROJECT_IMAGE_REF_TO_CUSTOM_IMAGE_ID)?
            .remove((project, ref_key(&record.image).as_str()))?;
        tx.open_multimap_table(tables::PROJECT_ID_TO_CUSTOM_IMAGE_IDS)?
            .remove(project, id.as_u128())?;
        tx.open_multimap_table(tables::USER_ID_TO_CUSTOM_IMAGE_IDS)?
            .remove(record.owner.as_u128(), id.as_u128())?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn record(project: ProjectId, owner: UserId, name: &str) -> CustomImageRecord {
        CustomImageRecord {
            id: WorkloadId::generate(),
            project,
            owner,
            name: "iris".into(),
            description: String::new(),
            image: ImageRef {
                name: name.into(),
                tag: "v1".into(),
            },
            target: ImageRef {
                name: format!("custom/lab/{name}"),
                tag: "v1".into(),
            },
            image_type: ImageType::Project,
            services: Vec::new(),
            source: WorkloadId::generate(),
            source_name: "iris01".into(),
            created_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn name_and_tag_are_unique_per_project_and_free_again_once_removed() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open_in(dir.path()).expect("store");
        let (project, owner) = (ProjectId::generate(), UserId::generate());
        let first = record(project, owner, "iris");
        store
            .write(|tx| insert_tx(tx, &first))
            .expect("the first insert");
        assert!(matches!(
            store.write(|tx| insert_tx(tx, &record(project, UserId::generate(), "iris"))),
            Err(StoreError::Conflict(_))
        ));
        store
            .write(|tx| insert_tx(tx, &record(ProjectId::generate(), owner, "iris")))
            .expect("another project may use the name");
        let listed = store
            .read(|tx| of_project_read_tx(tx, project))
            .expect("list");
        assert_eq!(listed, vec![first.clone()]);
        assert_eq!(
            store
                .read(|tx| of_owner_read_tx(tx, owner))
                .expect("list")
                .len(),
            2
        );
        let removed = store.write(|tx| remove_tx(tx, first.id)).expect("remove");
        assert_eq!(removed, Some(first));
        assert!(
            store
                .read(|tx| of_project_read_tx(tx, project))
                .expect("list")
                .is_empty()
        );
        store
            .write(|tx| insert_tx(tx, &record(project, owner, "iris")))
            .expect("the name and tag are free again");
    }
}
