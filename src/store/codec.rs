//! The record codec. Every stored value is one format byte followed by the
//! record as JSON. JSON lets a record gain fields (with serde defaults)
//! without a migration, and keeps a store file inspectable; the format byte
//! leaves room for a denser encoding later.

use redb::{ReadableMultimapTable, ReadableTable};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

const FORMAT_JSON: u8 = 1;

pub fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, StoreError> {
    let mut bytes = vec![FORMAT_JSON];
    serde_json::to_writer(&mut bytes, record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(bytes)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&FORMAT_JSON, json)) => {
            serde_json::from_slice(json).map_err(|e| StoreError::Corrupt(e.to_string()))
        }
        Some((format, _)) => Err(StoreError::Corrupt(format!(
            "unknown record format {format}"
        ))),
        None => Err(StoreError::Corrupt("empty record".into())),
    }
}

/// The record stored under `key`, if any.
pub fn decode_one<T: DeserializeOwned>(
    table: &impl ReadableTable<u128, &'static [u8]>,
    key: u128,
) -> Result<Option<T>, StoreError> {
    table.get(key)?.map(|b| decode(b.value())).transpose()
}

/// Every record of `table`, in key order (oldest first for id keys).
pub fn decode_all<T: DeserializeOwned>(
    table: &impl ReadableTable<u128, &'static [u8]>,
) -> Result<Vec<T>, StoreError> {
    table
        .iter()?
        .map(|entry| {
            let (_, bytes) = entry?;
            decode(bytes.value())
        })
        .collect()
}

/// The records of `table` that `index` lists under `key` (e.g. a project's
/// workloads), in id order; ids without a record are skipped.
pub fn decode_indexed<T: DeserializeOwned>(
    index: &impl ReadableMultimapTable<u128, u128>,
    table: &impl ReadableTable<u128, &'static [u8]>,
    key: u128,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for id in index.get(key)? {
        if let Some(record) = decode_one(table, id?.value())? {
            out.push(record);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Old {
        name: String,
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct New {
        name: String,
        #[serde(default)]
        added: u32,
    }

    #[test]
    fn records_gain_fields_without_migration() {
        let bytes = encode(&Old { name: "a".into() }).unwrap_or_default();
        let new: Result<New, _> = decode(&bytes);
        assert_eq!(
            new.ok(),
            Some(New {
                name: "a".into(),
                added: 0
            })
        );
    }

    #[test]
    fn unknown_formats_are_refused() {
        assert!(decode::<Old>(&[9, b'{', b'}']).is_err());
        assert!(decode::<Old>(&[]).is_err());
    }
}
