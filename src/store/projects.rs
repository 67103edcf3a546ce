//! Projects and their membership index.

use redb::{ReadableTable, WriteTransaction};
use serde::Deserialize;

use super::{StoreError, codec, tables};
use crate::domain::ids::PurposeId;

/// Whether any project (in any status) was created for `purpose`.
pub fn uses_purpose_tx(tx: &WriteTransaction, purpose: PurposeId) -> Result<bool, StoreError> {
    #[derive(Deserialize)]
    struct PurposeOnly {
        purpose: Option<PurposeId>,
    }
    let table = tx.open_table(tables::PROJECT_ID_TO_PROJECT)?;
    for entry in table.iter()? {
        let (_, bytes) = entry?;
        let project: PurposeOnly = codec::decode(bytes.value())?;
        if project.purpose == Some(purpose) {
            return Ok(true);
        }
    }
    Ok(false)
}
