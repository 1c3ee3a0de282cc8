//! A project (`mindsdb` or one made by CREATE PROJECT) as a schema of the SQL catalog: the
//! `models` table, one table per model with an active, complete version, which answers as
//! `user_item` with the model's defaults, and the project's views, as in MindsDB (`CREATE VIEW
//! p.v AS (SELECT ...)`). Models are here so that psql's `\d`, `information_schema` and BI
//! tools see them and their columns; queries that name a model are rewritten into
//! `recsql_model(...)` before DataFusion plans them (`model_query`). A view is kept in the
//! catalog as the `CREATE VIEW` statement that made it, and planned again each time it is
//! read (a database it reads may be down at start; a model it reads may have a new version).
//! Models are only read here; views are recorded and forgotten here, as DataFusion's CREATE
//! and DROP VIEW ask.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::view::ViewTable;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};

use super::model_table::{ModelStore, ModelTable, QueryOptions, RecType};
use crate::catalog::{Catalog, ModelVersion, Status};
use crate::error::Error;

pub const MODELS_TABLE: &str = "models";

pub struct ProjectSchema {
    pub project: String,
    pub models: Arc<dyn TableProvider>,
    pub catalog: Arc<Catalog>,
    pub store: Arc<ModelStore>,
    pub data_dir: PathBuf,
    /// Plans the views' statements (its catalogs are the server's).
    pub state: SessionState,
}

impl std::fmt::Debug for ProjectSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProjectSchema({})", self.project)
    }
}

impl ProjectSchema {
    /// The version a model's name answers with: its active one, once complete.
    fn answering(&self, name: &str) -> Option<ModelVersion> {
        self.catalog
            .model(&self.project, name, None)
            .filter(|mv| mv.status == Status::Complete)
    }

    /// View `name`, planned from its statement each time it is read, so that it reads what
    /// its names mean now (the active version of a model, a table's current columns).
    async fn view(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let Some(definition) = self.catalog.view(&self.project, name) else {
            return Ok(None);
        };
        let plan = self
            .state
            .create_logical_plan(&definition)
            .await
            .map_err(|e| {
                DataFusionError::Plan(format!("view {}.{name} cannot be read: {e}", self.project))
            })?;
        let LogicalPlan::Ddl(DdlStatement::CreateView(view)) = plan else {
            return Err(DataFusionError::Internal(format!(
                "view {}.{name} is kept as a statement that does not create a view",
                self.project
            )));
        };
        let input = Arc::unwrap_or_clone(view.input);
        Ok(Some(Arc::new(ViewTable::new(input, view.definition))))
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
        names.extend(self.catalog.view_names(&self.project));
        names.sort();
        names.dedup();
        names
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        if name == MODELS_TABLE {
            return Ok(Some(self.models.clone()));
        }
        if let Some(mv) = self.answering(name) {
            return Ok(Some(Arc::new(ModelTable::new(
                mv,
                RecType::UserItem,
                QueryOptions::default(),
                self.store.clone(),
                self.data_dir.clone(),
            ))));
        }
        self.view(name).await
    }

    fn table_exist(&self, name: &str) -> bool {
        name == MODELS_TABLE
            || self.answering(name).is_some()
            || self.catalog.view(&self.project, name).is_some()
    }

    /// CREATE VIEW records the view with the statement that made it. CREATE TABLE without a
    /// database lands here too, the default schema: an in-memory table would vanish at the
    /// next restart, so it is refused with the way to keep data.
    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let definition = table
            .downcast_ref::<ViewTable>()
            .and_then(|v| v.definition().cloned());
        if let Some(definition) = definition {
            let taken =
                name == MODELS_TABLE || !self.catalog.versions(&self.project, &name).is_empty();
            if taken {
                return Err(DataFusionError::External(Box::new(Error::new(
                    crate::error::sqlstate::DUPLICATE_OBJECT,
                    format!(
                        "{}.{name} is a model; a view needs another name",
                        self.project
                    ),
                ))));
            }
            self.catalog
                .put_view(&self.project, &name, &definition)
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            return Ok(None);
        }
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

    /// DROP VIEW (and CREATE OR REPLACE VIEW) forgets a view.
    fn deregister_table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        self.catalog
            .remove_view(&self.project, name)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(None)
    }
}
