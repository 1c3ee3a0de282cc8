//! The persistent catalog: databases (and, later, ML engines and models) that users created,
//! kept as one JSON document in the data dir and rewritten atomically on every change.
//!
//! The catalog only records definitions; connecting to databases and training models happen
//! elsewhere. A change is applied to a copy, written to disk, and only then made visible, so a
//! failed write leaves both the file and the in-memory state as they were.

mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

pub use store::write_atomic;

use crate::error::{Error, Result, sqlstate};

const CATALOG_FILE: &str = "catalog.json";
const FORMAT_VERSION: u32 = 1;

/// A database a user created with `CREATE DATABASE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseDef {
    pub name: String,
    /// `postgres`, `mysql` or `files`.
    pub engine: String,
    /// The PARAMETERS object as given, password included (the catalog file is private to the
    /// data dir; SHOW DATABASES masks it).
    pub parameters: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct CatalogDoc {
    format_version: u32,
    #[serde(default)]
    databases: BTreeMap<String, DatabaseDef>,
}

/// The catalog of one data dir.
#[derive(Debug)]
pub struct Catalog {
    path: PathBuf,
    doc: RwLock<CatalogDoc>,
}

impl Catalog {
    /// Opens the catalog in `data_dir`, creating an empty one if there is none.
    pub fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| Error::io(&format!("cannot create data dir {}", data_dir.display()), e))?;
        let path = data_dir.join(CATALOG_FILE);
        let doc = match std::fs::read(&path) {
            Ok(bytes) => {
                let doc: CatalogDoc = serde_json::from_slice(&bytes).map_err(|e| {
                    Error::new(
                        sqlstate::IO_ERROR,
                        format!("catalog file {} is damaged: {e}", path.display()),
                    )
                    .with_hint("restore it from a backup, or move it away to start empty")
                })?;
                if doc.format_version > FORMAT_VERSION {
                    return Err(Error::new(
                        sqlstate::IO_ERROR,
                        format!(
                            "catalog file {} has format version {}, newer than this recsql understands ({FORMAT_VERSION})",
                            path.display(),
                            doc.format_version
                        ),
                    ));
                }
                doc
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CatalogDoc {
                format_version: FORMAT_VERSION,
                ..Default::default()
            },
            Err(e) => return Err(Error::io(&format!("cannot read {}", path.display()), e)),
        };
        Ok(Catalog {
            path,
            doc: RwLock::new(doc),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, CatalogDoc> {
        self.doc.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `change` to a copy of the catalog, persists it, then publishes it.
    fn update<T>(&self, change: impl FnOnce(&mut CatalogDoc) -> Result<T>) -> Result<T> {
        let mut guard = self.doc.write().unwrap_or_else(|p| p.into_inner());
        let mut next = guard.clone();
        let out = change(&mut next)?;
        next.format_version = FORMAT_VERSION;
        let bytes = serde_json::to_vec_pretty(&next)
            .map_err(|e| Error::internal(format!("cannot encode catalog: {e}")))?;
        write_atomic(&self.path, &bytes)
            .map_err(|e| Error::io(&format!("cannot write {}", self.path.display()), e))?;
        *guard = next;
        Ok(out)
    }

    pub fn databases(&self) -> Vec<DatabaseDef> {
        self.read().databases.values().cloned().collect()
    }

    pub fn database(&self, name: &str) -> Option<DatabaseDef> {
        self.read().databases.get(name).cloned()
    }

    /// Records a database; fails with 42P04 if the name is taken.
    pub fn add_database(&self, def: DatabaseDef) -> Result<()> {
        self.update(|doc| {
            if doc.databases.contains_key(&def.name) {
                return Err(Error::new(
                    sqlstate::DUPLICATE_DATABASE,
                    format!("database \"{}\" already exists", def.name),
                )
                .with_hint("use CREATE DATABASE IF NOT EXISTS, or DROP DATABASE first"));
            }
            doc.databases.insert(def.name.clone(), def);
            Ok(())
        })
    }

    /// Removes a database; returns whether it existed.
    pub fn remove_database(&self, name: &str) -> Result<bool> {
        if !self.read().databases.contains_key(name) {
            return Ok(false);
        }
        self.update(|doc| Ok(doc.databases.remove(name).is_some()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str) -> DatabaseDef {
        DatabaseDef {
            name: name.into(),
            engine: "files".into(),
            parameters: serde_json::Map::new(),
        }
    }

    #[test]
    fn databases_survive_reopen_and_duplicates_are_refused() {
        let dir = std::env::temp_dir().join(format!("recsql-catalog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cat = Catalog::open(&dir).unwrap();
        cat.add_database(def("a")).unwrap();
        cat.add_database(def("b")).unwrap();
        assert_eq!(cat.add_database(def("a")).unwrap_err().code, "42P04");
        assert!(cat.remove_database("b").unwrap());
        assert!(!cat.remove_database("b").unwrap());
        let again = Catalog::open(&dir).unwrap();
        assert_eq!(again.databases(), vec![def("a")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_file_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("recsql-catalog-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(CATALOG_FILE), b"{not json").unwrap();
        let err = Catalog::open(&dir).unwrap_err();
        assert!(err.message.contains("damaged"), "{}", err.message);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
