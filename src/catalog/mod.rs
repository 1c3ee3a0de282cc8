//! The persistent catalog: databases (and, later, ML engines and models) that users created,
//! kept as one JSON document in the data dir and rewritten atomically on every change.
//!
//! The catalog only records definitions; connecting to databases and training models happen
//! elsewhere. A change is applied to a copy, written to disk, and only then made visible, so a
//! failed write leaves both the file and the in-memory state as they were.

mod model_spec;
mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

pub use model_spec::{CREATE_MODEL_KEYS, ModelSpec, SideFeatures};
pub use store::{write_atomic, write_atomic_with};

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

/// An ML engine (`CREATE ML_ENGINE name FROM lightfm USING ...`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineDef {
    pub name: String,
    pub handler: String,
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// Where a model version is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Generating,
    Training,
    Complete,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Generating => "generating",
            Status::Training => "training",
            Status::Complete => "complete",
            Status::Error => "error",
        }
    }
}

/// One version of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub project: String,
    pub name: String,
    pub version: u32,
    pub active: bool,
    pub status: Status,
    pub error: Option<String>,
    pub engine: String,
    pub predict: String,
    pub source_db: String,
    pub select_data_query: String,
    /// The USING clause as given.
    pub training_options: serde_json::Map<String, serde_json::Value>,
    pub spec: ModelSpec,
    pub created_at: String,
    pub training_time: Option<f64>,
    /// Held-out metrics (when `evaluation = true`) and training metrics.
    pub metrics: Option<serde_json::Value>,
    pub epoch_seconds: Vec<f64>,
    pub n_users: usize,
    pub n_items: usize,
    pub n_interactions: usize,
    /// Whether the user / item ids are text (else 64-bit integers).
    #[serde(default)]
    pub user_id_text: bool,
    #[serde(default)]
    pub item_id_text: bool,
}

/// What a new version is trained from: its definition before training.
#[derive(Debug, Clone)]
pub struct PendingVersion {
    pub project: String,
    pub name: String,
    pub engine: String,
    pub predict: String,
    pub source_db: String,
    pub select_data_query: String,
    pub training_options: serde_json::Map<String, serde_json::Value>,
    pub spec: ModelSpec,
    pub user_id_text: bool,
    pub item_id_text: bool,
    pub created_at: String,
}

impl ModelVersion {
    /// A version about to train (status generating; numbered by `add_model_version`).
    pub fn pending(p: PendingVersion) -> ModelVersion {
        ModelVersion {
            project: p.project,
            name: p.name,
            version: 0,
            active: false,
            status: Status::Generating,
            error: None,
            engine: p.engine,
            predict: p.predict,
            source_db: p.source_db,
            select_data_query: p.select_data_query,
            training_options: p.training_options,
            spec: p.spec,
            created_at: p.created_at,
            training_time: None,
            metrics: None,
            epoch_seconds: vec![],
            n_users: 0,
            n_items: 0,
            n_interactions: 0,
            user_id_text: p.user_id_text,
            item_id_text: p.item_id_text,
        }
    }

    /// The artifact file of this version, relative to the data dir.
    pub fn file(&self) -> PathBuf {
        PathBuf::from("models")
            .join(&self.project)
            .join(&self.name)
            .join(format!("v{}.model", self.version))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct CatalogDoc {
    format_version: u32,
    #[serde(default)]
    databases: BTreeMap<String, DatabaseDef>,
    #[serde(default)]
    ml_engines: BTreeMap<String, EngineDef>,
    #[serde(default)]
    models: Vec<ModelVersion>,
    /// Projects created besides the built-in one (`mindsdb`).
    #[serde(default)]
    projects: std::collections::BTreeSet<String>,
    /// The views of each project: name to the `CREATE VIEW` statement that made it.
    #[serde(default)]
    views: BTreeMap<String, BTreeMap<String, String>>,
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
            if doc.projects.contains(&def.name) {
                return Err(Error::new(
                    sqlstate::DUPLICATE_DATABASE,
                    format!("\"{}\" is a project", def.name),
                )
                .with_hint("choose another name, or DROP PROJECT it first"));
            }
            insert_new(&mut doc.databases, def.name.clone(), def, |name| {
                Error::new(
                    sqlstate::DUPLICATE_DATABASE,
                    format!("database \"{name}\" already exists"),
                )
                .with_hint("use CREATE DATABASE IF NOT EXISTS, or DROP DATABASE first")
            })
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

impl Catalog {
    /// The projects created with CREATE PROJECT, by name.
    pub fn projects(&self) -> Vec<String> {
        self.read().projects.iter().cloned().collect()
    }

    pub fn has_project(&self, name: &str) -> bool {
        self.read().projects.contains(name)
    }

    /// Records a project; fails with 42P04 if the name is taken by a project or a database.
    pub fn add_project(&self, name: &str) -> Result<()> {
        self.update(|doc| {
            if doc.projects.contains(name) || doc.databases.contains_key(name) {
                return Err(Error::new(
                    sqlstate::DUPLICATE_DATABASE,
                    format!("a database or project named \"{name}\" already exists"),
                )
                .with_hint("use CREATE PROJECT IF NOT EXISTS, or another name"));
            }
            doc.projects.insert(name.to_string());
            Ok(())
        })
    }

    /// Removes a project that holds no model; returns whether it existed.
    pub fn remove_project(&self, name: &str) -> Result<bool> {
        if !self.read().projects.contains(name) {
            return Ok(false);
        }
        self.update(|doc| {
            let models: std::collections::BTreeSet<&str> = doc
                .models
                .iter()
                .filter(|m| m.project == name)
                .map(|m| m.name.as_str())
                .collect();
            let views = doc.views.get(name).map_or(0, BTreeMap::len);
            if views > 0 && models.is_empty() {
                return Err(Error::new(
                    sqlstate::OBJECT_IN_USE,
                    format!("project \"{name}\" cannot be dropped: it holds {views} view(s)"),
                )
                .with_hint(format!("DROP VIEW {name}.<view> for each of them first")));
            }
            if !models.is_empty() {
                let list: Vec<&str> = models.into_iter().collect();
                return Err(Error::new(
                    sqlstate::OBJECT_IN_USE,
                    format!(
                        "project \"{name}\" cannot be dropped: it holds the models {}",
                        list.join(", ")
                    ),
                )
                .with_hint(format!("DROP MODEL {name}.<model> for each of them first")));
            }
            Ok(doc.projects.remove(name))
        })
    }
}

impl Catalog {
    /// The `CREATE VIEW` statement of view `name` of `project`.
    pub fn view(&self, project: &str, name: &str) -> Option<String> {
        self.read().views.get(project)?.get(name).cloned()
    }

    /// The names of the views of `project`.
    pub fn view_names(&self, project: &str) -> Vec<String> {
        self.read()
            .views
            .get(project)
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Records (or replaces) view `name` of `project`, made by `definition`.
    pub fn put_view(&self, project: &str, name: &str, definition: &str) -> Result<()> {
        self.update(|doc| {
            doc.views
                .entry(project.to_string())
                .or_default()
                .insert(name.to_string(), definition.to_string());
            Ok(())
        })
    }

    /// Forgets view `name` of `project`; returns whether it existed.
    pub fn remove_view(&self, project: &str, name: &str) -> Result<bool> {
        if self.view(project, name).is_none() {
            return Ok(false);
        }
        self.update(|doc| {
            let views = doc.views.entry(project.to_string()).or_default();
            let existed = views.remove(name).is_some();
            if views.is_empty() {
                doc.views.remove(project);
            }
            Ok(existed)
        })
    }
}

impl Catalog {
    pub fn engines(&self) -> Vec<EngineDef> {
        self.read().ml_engines.values().cloned().collect()
    }

    pub fn engine(&self, name: &str) -> Option<EngineDef> {
        self.read().ml_engines.get(name).cloned()
    }

    /// Records an engine; 42710 if the name is taken.
    pub fn add_engine(&self, def: EngineDef) -> Result<()> {
        self.update(|doc| {
            insert_new(&mut doc.ml_engines, def.name.clone(), def, |name| {
                Error::new(
                    sqlstate::DUPLICATE_OBJECT,
                    format!("ML engine \"{name}\" already exists"),
                )
            })
        })
    }

    /// Removes an engine unless a model uses it; returns whether it existed.
    pub fn remove_engine(&self, name: &str) -> Result<bool> {
        self.update(|doc| {
            if let Some(m) = doc.models.iter().find(|m| m.engine == name) {
                return Err(Error::new(
                    sqlstate::OBJECT_IN_USE,
                    format!(
                        "ML engine \"{name}\" is used by model {}.{}",
                        m.project, m.name
                    ),
                )
                .with_hint("drop the models that use it first"));
            }
            Ok(doc.ml_engines.remove(name).is_some())
        })
    }

    /// Every version of every model, in creation order.
    pub fn models(&self) -> Vec<ModelVersion> {
        self.read().models.clone()
    }

    /// The versions of one model, oldest first.
    pub fn versions(&self, project: &str, name: &str) -> Vec<ModelVersion> {
        self.read()
            .models
            .iter()
            .filter(|m| m.project == project && m.name == name)
            .cloned()
            .collect()
    }

    /// One version, or the active one when `version` is None.
    pub fn model(&self, project: &str, name: &str, version: Option<u32>) -> Option<ModelVersion> {
        let doc = self.read();
        let mut versions = doc
            .models
            .iter()
            .filter(|m| m.project == project && m.name == name);
        match version {
            Some(v) => versions.find(|m| m.version == v).cloned(),
            None => versions.find(|m| m.active).cloned(),
        }
    }

    /// Adds a new version (the next number); with `activate` it becomes the active one at
    /// once. `replace` drops earlier versions first (CREATE OR REPLACE).
    pub fn add_model_version(
        &self,
        mut m: ModelVersion,
        activate: bool,
        replace: bool,
    ) -> Result<ModelVersion> {
        self.update(|doc| {
            if replace {
                doc.models
                    .retain(|x| !(x.project == m.project && x.name == m.name));
            }
            let next = doc
                .models
                .iter()
                .filter(|x| x.project == m.project && x.name == m.name)
                .map(|x| x.version)
                .max()
                .unwrap_or(0)
                + 1;
            m.version = next;
            let first = next == 1;
            m.active = first || activate;
            if m.active {
                for x in doc
                    .models
                    .iter_mut()
                    .filter(|x| x.project == m.project && x.name == m.name)
                {
                    x.active = false;
                }
            }
            doc.models.push(m.clone());
            Ok(m)
        })
    }

    /// Changes one version in place; returns the updated version.
    pub fn update_model(
        &self,
        project: &str,
        name: &str,
        version: u32,
        change: impl FnOnce(&mut ModelVersion),
    ) -> Result<Option<ModelVersion>> {
        self.update(|doc| {
            let found = doc
                .models
                .iter_mut()
                .find(|m| m.project == project && m.name == name && m.version == version);
            Ok(found.map(|m| {
                change(m);
                m.clone()
            }))
        })
    }

    /// Makes `version` the active one.
    pub fn set_active(&self, project: &str, name: &str, version: u32) -> Result<bool> {
        self.update(|doc| {
            if !doc
                .models
                .iter()
                .any(|m| m.project == project && m.name == name && m.version == version)
            {
                return Ok(false);
            }
            for m in doc
                .models
                .iter_mut()
                .filter(|m| m.project == project && m.name == name)
            {
                m.active = m.version == version;
            }
            Ok(true)
        })
    }

    /// Removes all versions (`version` None) or one; returns what was removed.
    pub fn remove_models(
        &self,
        project: &str,
        name: &str,
        version: Option<u32>,
    ) -> Result<Vec<ModelVersion>> {
        self.update(|doc| {
            let (gone, kept): (Vec<_>, Vec<_>) = doc.models.drain(..).partition(|m| {
                m.project == project && m.name == name && version.is_none_or(|v| m.version == v)
            });
            doc.models = kept;
            Ok(gone)
        })
    }

    /// After a restart: versions that were still training are marked failed.
    pub fn fail_unfinished(&self, reason: &str) -> Result<usize> {
        let unfinished = self
            .read()
            .models
            .iter()
            .filter(|m| matches!(m.status, Status::Generating | Status::Training))
            .count();
        if unfinished == 0 {
            return Ok(0);
        }
        self.update(|doc| {
            for m in doc
                .models
                .iter_mut()
                .filter(|m| matches!(m.status, Status::Generating | Status::Training))
            {
                m.status = Status::Error;
                m.error = Some(reason.to_string());
            }
            Ok(unfinished)
        })
    }
}

/// Inserts `value` under `name` unless the name is taken (then `taken(name)`).
fn insert_new<T>(
    map: &mut BTreeMap<String, T>,
    name: String,
    value: T,
    taken: impl FnOnce(&str) -> Error,
) -> Result<()> {
    if map.contains_key(&name) {
        return Err(taken(&name));
    }
    map.insert(name, value);
    Ok(())
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
