//! Executes recsql's own statements against the engine state: the DataFusion context, the
//! catalog and the data dir. One file per statement kind; this file dispatches and describes
//! result schemas. It knows nothing of the wire protocol: results are Arrow batches or
//! command tags.

mod create_database;
mod drop_database;
mod lazy_schema;
mod show_databases;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;

use crate::catalog::Catalog;
use crate::datasource;
use crate::error::{Error, Result};
use crate::sql::Statement;

pub use lazy_schema::LazySchema;

/// What a statement produced.
#[derive(Debug)]
pub enum Output {
    /// Rows, in Arrow batches.
    Rows {
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    },
    /// A command tag such as `CREATE DATABASE`.
    Command(String),
}

/// Whether recsql runs a statement itself or hands its text to DataFusion.
#[derive(Debug)]
pub enum Plan {
    Ours(Box<Statement>),
    DataFusion,
}

/// The state every connection shares.
pub struct Engine {
    ctx: Arc<SessionContext>,
    catalog: Catalog,
    data_dir: PathBuf,
}

impl Engine {
    /// Opens the data dir: the catalog, the built-in databases and every created database
    /// (connected lazily, so a remote that is down does not stop the server from starting).
    pub fn open(data_dir: &Path) -> Result<Arc<Self>> {
        let catalog = Catalog::open(data_dir)?;
        let ctx = datasource::new_context(data_dir)?;
        for def in catalog.databases() {
            let lazy = Arc::new(LazySchema::new(
                def.clone(),
                data_dir.to_path_buf(),
                ctx.state(),
            ));
            datasource::register(&ctx, &def.name, lazy.clone())?;
            lazy.warm_up();
        }
        Ok(Arc::new(Engine {
            ctx,
            catalog,
            data_dir: data_dir.to_path_buf(),
        }))
    }

    pub fn context(&self) -> &Arc<SessionContext> {
        &self.ctx
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Decides who runs a parsed statement.
    pub fn plan(&self, stmt: Statement) -> Plan {
        match stmt {
            Statement::Passthrough | Statement::Query(_) => Plan::DataFusion,
            // A bare DESCRIBE of something that is not a model describes a table.
            Statement::Describe {
                explicit_model: false,
                ..
            } => Plan::DataFusion,
            other => Plan::Ours(Box::new(other)),
        }
    }

    /// The schema of the rows a statement returns, or `None` for commands.
    pub fn result_schema(&self, stmt: &Statement) -> Option<SchemaRef> {
        match stmt {
            Statement::ShowDatabases => Some(show_databases::schema()),
            _ => None,
        }
    }

    /// Runs one of recsql's own statements.
    pub async fn execute(&self, stmt: Statement) -> Result<Output> {
        match stmt {
            Statement::CreateDatabase {
                name,
                if_not_exists,
                engine,
                parameters,
            } => {
                create_database::execute(self, &name.value, if_not_exists, &engine, &parameters)
                    .await
            }
            Statement::DropDatabase { name, if_exists } => {
                drop_database::execute(self, &name.value, if_exists)
            }
            Statement::ShowDatabases => show_databases::execute(self),
            other => Err(
                Error::not_supported(format!("{} is not implemented yet", other.kind()))
                    .with_hint("recsql parses this statement; its execution is on the roadmap"),
            ),
        }
    }
}
