//! Backups: a consistent copy of the store written while it serves (one read
//! transaction, table by table, into a new redb file), and the checks a
//! restore makes on such a file before it replaces a store.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use redb::{
    Database, Key, MultimapTableDefinition, MultimapTableHandle, ReadOnlyDatabase, ReadTransaction,
    ReadableDatabase, ReadableMultimapTable, ReadableTable, TableDefinition, TableError,
    TableHandle, Value, WriteTransaction,
};

use super::{Store, StoreError, schema, tables};

/// Every table's entries as raw key and value bytes, by table name (a
/// multimap table's one entry per value).
pub type Contents = BTreeMap<String, Entries>;

/// One table's entries as raw key and value bytes, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

impl Store {
    /// Writes a consistent copy of the store to `target`, a file that must
    /// not exist yet: every table as one read transaction saw it, committed
    /// durably. Returns the number of entries copied.
    pub fn backup_to(&self, target: &Path) -> Result<u64, StoreError> {
        let from = self.begin_read()?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(target)?;
        drop(file);
        let copy = Database::create(target)?;
        let to = copy.begin_write()?;
        let mut copied = BTreeSet::new();
        let mut entries = 0;
        tables::for_each_table!(
            |table| {
                entries += copy_table(&from, &to, table)?;
                copied.insert(table.name().to_owned());
            },
            |table| {
                entries += copy_multimap(&from, &to, table)?;
                copied.insert(table.name().to_owned());
            },
        );
        // A table this binary does not know (none should exist) would be
        // left behind: refuse rather than write an incomplete copy.
        let present = from
            .list_tables()?
            .map(|t| t.name().to_owned())
            .chain(from.list_multimap_tables()?.map(|t| t.name().to_owned()));
        for name in present {
            if !copied.contains(&name) {
                return Err(StoreError::Corrupt(format!(
                    "the store has a table {name} that a backup does not know"
                )));
            }
        }
        to.commit()?;
        Ok(entries)
    }

    /// Every table's entries (for comparing a store with its backup).
    pub fn contents(&self) -> Result<Contents, StoreError> {
        let tx = self.begin_read()?;
        let mut contents = Contents::new();
        tables::for_each_table!(
            |table| {
                contents.insert(table.name().to_owned(), dump_table(&tx, table)?);
            },
            |table| {
                contents.insert(table.name().to_owned(), dump_multimap(&tx, table)?);
            },
        );
        Ok(contents)
    }
}

/// Checks that `path` is an mlstack store this binary can open (without
/// changing it): its schema version, refused when newer than
/// [`schema::CURRENT_VERSION`] or missing.
pub fn check_backup(path: &Path) -> Result<u64, StoreError> {
    let db = ReadOnlyDatabase::open(path)?;
    let tx = db.begin_read()?;
    match schema::version(&tx)? {
        Some(found) if found > schema::CURRENT_VERSION => Err(StoreError::NewerSchema {
            path: path.to_owned(),
            found,
            supported: schema::CURRENT_VERSION,
        }),
        Some(found) => Ok(found),
        None => Err(StoreError::NotAStore {
            path: path.to_owned(),
        }),
    }
}

fn copy_table<K: Key + 'static, V: Value + 'static>(
    from: &ReadTransaction,
    to: &WriteTransaction,
    table: TableDefinition<K, V>,
) -> Result<u64, StoreError> {
    let source = match from.open_table(table) {
        Ok(source) => source,
        Err(TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut target = to.open_table(table)?;
    let mut copied = 0;
    for entry in source.iter()? {
        let (key, value) = entry?;
        target.insert(key.value(), value.value())?;
        copied += 1;
    }
    Ok(copied)
}

fn copy_multimap<K: Key + 'static, V: Key + 'static>(
    from: &ReadTransaction,
    to: &WriteTransaction,
    table: MultimapTableDefinition<K, V>,
) -> Result<u64, StoreError> {
    let source = match from.open_multimap_table(table) {
        Ok(source) => source,
        Err(TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut target = to.open_multimap_table(table)?;
    let mut copied = 0;
    for entry in source.iter()? {
        let (key, values) = entry?;
        for value in values {
            target.insert(key.value(), value?.value())?;
            copied += 1;
        }
    }
    Ok(copied)
}

fn dump_table<K: Key + 'static, V: Value + 'static>(
    tx: &ReadTransaction,
    table: TableDefinition<K, V>,
) -> Result<Entries, StoreError> {
    let source = match tx.open_table(table) {
        Ok(source) => source,
        Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut entries = Vec::new();
    for entry in source.iter()? {
        let (key, value) = entry?;
        entries.push((
            K::as_bytes(&key.value()).as_ref().to_vec(),
            V::as_bytes(&value.value()).as_ref().to_vec(),
        ));
    }
    Ok(entries)
}

fn dump_multimap<K: Key + 'static, V: Key + 'static>(
    tx: &ReadTransaction,
    table: MultimapTableDefinition<K, V>,
) -> Result<Entries, StoreError> {
    let source = match tx.open_multimap_table(table) {
        Ok(source) => source,
        Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut entries = Vec::new();
    for entry in source.iter()? {
        let (key, values) = entry?;
        let key = K::as_bytes(&key.value()).as_ref().to_vec();
        for value in values {
            entries.push((key.clone(), V::as_bytes(&value?.value()).as_ref().to_vec()));
        }
    }
    Ok(entries)
}
