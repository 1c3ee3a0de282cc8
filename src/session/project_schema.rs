//! The `mindsdb` project as a schema of the SQL catalog: the `models` table, and one table per
//! model with an active, complete version, which answers as `user_item` with the model's
//! defaults. It exists so that psql's `\d`, `information_schema` and BI tools see the models
//! and their columns; queries that name a model are rewritten into `recsql_model(...)` before
//! DataFusion plans them (`model_query`), so this serves catalog browsing and plain scans. It
//! reads the catalog and never changes it.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result as DfResult};

use super::model_table::{ModelStore, ModelTable, QueryOptions, RecType};
use crate::catalog::{Catalog, ModelVersion, Status};
use crate::error::Error;

pub const MODELS_TABLE: &str = "models";

#[derive(Debug)]
pub struct ProjectSchema {
    pub project: String,
    pub models: Arc<dyn TableProvider>,
    pub catalog: Arc<Catalog>,
    pub store: Arc<ModelStore>,
    pub data_dir: PathBuf,
}

impl ProjectSchema {
    /// The version a model's name answers with: its active one, once complete.
    fn answering(&self, name: &str) -> Option<ModelVersion> {
        self.catalog
            .model(&self.project, name, None)
            .filter(|mv| mv.status == Status::Complete)
    }
}

#[async_trait]
impl SchemaProvider for ProjectSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .catalog
            .models()
            .into_iter()
            .filter(|mv| mv.project == self.project && mv.active && mv.status == Status::Complete)
            .map(|mv| mv.name)
            .filter(|n| n != MODELS_TABLE)
            .collect();
        names.push(MODELS_TABLE.to_string());
        names.sort();
        names.dedup();
        names
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        if name == MODELS_TABLE {
            return Ok(Some(self.models.clone()));
        }
        Ok(self.answering(name).map(|mv| {
            Arc::new(ModelTable::new(
                mv,
                RecType::UserItem,
                QueryOptions::default(),
                self.store.clone(),
                self.data_dir.clone(),
            )) as Arc<dyn TableProvider>
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        name == MODELS_TABLE || self.answering(name).is_some()
    }

    /// CREATE TABLE / VIEW without a database lands here, the default schema. An in-memory
    /// table would vanish at the next restart, so it is refused with the way to keep data.
    fn register_table(
        &self,
        name: String,
        _table: Arc<dyn TableProvider>,
    ) -> DfResult<Option<Arc<dyn TableProvider>>> {
        Err(DataFusionError::External(Box::new(
            Error::not_supported(format!(
                "cannot create {name} in project {}: it holds models, not tables",
                self.project
            ))
            .with_hint(
                "CREATE MODEL trains a model; keep tables in a database (a CSV or Parquet file in the files database, or a CREATE DATABASE of PostgreSQL or MySQL)",
            ),
        )))
    }
}
