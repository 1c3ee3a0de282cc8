//! PostgreSQL and MySQL/MariaDB databases, through datafusion-table-providers.
//!
//! A remote database is one schema of recsql's catalog; its tables are the tables of one remote
//! schema (PostgreSQL) or database (MySQL). Filters and limits are pushed to the remote server
//! by the table providers. Connecting is bounded by a timeout and every failure names the
//! parameter or the server that failed. This module does not know about the SQL dialect.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::common::TableReference;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion_table_providers::mysql::MySQLTableFactory;
use datafusion_table_providers::postgres::PostgresTableFactory;
use datafusion_table_providers::sql::db_connection_pool::DbConnectionPool;
use datafusion_table_providers::sql::db_connection_pool::dbconnection::get_tables;
use datafusion_table_providers::sql::db_connection_pool::mysqlpool::MySQLConnectionPool;
use datafusion_table_providers::sql::db_connection_pool::postgrespool::PostgresConnectionPool;
use datafusion_table_providers::util::secrets::to_secret_map;
use serde_json::{Map, Value};

use crate::error::{Error, Result, sqlstate};

/// The default bound on connecting, overridable with the `connect_timeout` parameter (seconds).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which kind of remote server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteKind {
    Postgres,
    MySql,
}

impl RemoteKind {
    fn label(self) -> &'static str {
        match self {
            RemoteKind::Postgres => "PostgreSQL",
            RemoteKind::MySql => "MySQL",
        }
    }
}

enum Factory {
    Postgres(PostgresTableFactory),
    MySql(MySQLTableFactory),
}

/// The connection settings read from a PARAMETERS object.
struct Settings {
    host: String,
    port: u16,
    user: String,
    password: String,
    database: String,
    schema: String,
    sslmode: Option<String>,
    timeout: Duration,
}

fn text_param(params: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(Error::invalid_value(format!(
            "PARAMETERS key \"{key}\" must be a string or a number, found {other}"
        ))),
    }
}

fn required(params: &Map<String, Value>, key: &str, kind: RemoteKind) -> Result<String> {
    text_param(params, key)?.ok_or_else(|| {
        Error::invalid_value(format!(
            "PARAMETERS for a {} database is missing \"{key}\"",
            kind.label()
        ))
        .with_hint("give host, port, user, password and database, as in PARAMETERS = {\"host\": \"127.0.0.1\", \"port\": 5432, \"user\": \"postgres\", \"password\": \"\", \"database\": \"test\"}")
    })
}

const KNOWN_KEYS: &[&str] = &[
    "host",
    "port",
    "user",
    "password",
    "database",
    "schema",
    "sslmode",
    "connect_timeout",
];

fn settings(kind: RemoteKind, params: &Map<String, Value>) -> Result<Settings> {
    if let Some(unknown) = params.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
        return Err(Error::invalid_value(format!(
            "unknown PARAMETERS key \"{unknown}\" for a {} database; known keys: {}",
            kind.label(),
            KNOWN_KEYS.join(", ")
        )));
    }
    let default_port = match kind {
        RemoteKind::Postgres => 5432,
        RemoteKind::MySql => 3306,
    };
    let port = match text_param(params, "port")? {
        None => default_port,
        Some(p) => p.parse::<u16>().map_err(|_| {
            Error::invalid_value(format!(
                "PARAMETERS \"port\" must be a port number, found {p}"
            ))
        })?,
    };
    let timeout = match text_param(params, "connect_timeout")? {
        None => DEFAULT_CONNECT_TIMEOUT,
        Some(t) => match t.parse::<f64>() {
            Ok(secs) if secs > 0.0 && secs <= 3600.0 => Duration::from_secs_f64(secs),
            _ => {
                return Err(Error::invalid_value(format!(
                    "PARAMETERS \"connect_timeout\" must be seconds between 0 and 3600, found {t}"
                )));
            }
        },
    };
    let database = required(params, "database", kind)?;
    let schema = match kind {
        RemoteKind::Postgres => text_param(params, "schema")?.unwrap_or_else(|| "public".into()),
        RemoteKind::MySql => text_param(params, "schema")?.unwrap_or_else(|| database.clone()),
    };
    Ok(Settings {
        host: required(params, "host", kind)?,
        port,
        user: required(params, "user", kind)?,
        password: text_param(params, "password")?.unwrap_or_default(),
        database,
        schema,
        sslmode: text_param(params, "sslmode")?,
        timeout,
    })
}

fn connect_error(kind: RemoteKind, s: &Settings, what: impl std::fmt::Display) -> Error {
    let text = what.to_string();
    let lower = text.to_ascii_lowercase();
    let code = if lower.contains("password")
        || lower.contains("access denied")
        || lower.contains("authentication")
    {
        sqlstate::INVALID_PASSWORD
    } else {
        sqlstate::SQLCLIENT_UNABLE_TO_ESTABLISH_CONNECTION
    };
    Error::new(
        code,
        format!(
            "cannot connect to {} at {}:{} as {} (database {}): {text}",
            kind.label(),
            s.host,
            s.port,
            s.user,
            s.database
        ),
    )
    .with_hint("check host, port, user, password and database in PARAMETERS")
}

/// Lists the tables of one remote schema, freshly, on each call.
type Lister =
    Box<dyn Fn() -> futures::future::BoxFuture<'static, Result<Vec<String>>> + Send + Sync>;

fn table_lister<T: 'static, P: 'static>(
    pool: Arc<dyn DbConnectionPool<T, P> + Send + Sync>,
    schema: String,
) -> Lister {
    Box::new(move || {
        let pool = pool.clone();
        let schema = schema.clone();
        Box::pin(async move {
            let conn = pool
                .connect()
                .await
                .map_err(|e| Error::new(sqlstate::CONNECTION_EXCEPTION, e.to_string()))?;
            get_tables(conn, &schema)
                .await
                .map_err(|e| Error::new(sqlstate::CONNECTION_EXCEPTION, e.to_string()))
        })
    })
}

/// A connected remote database, as a schema of recsql's catalog.
pub struct RemoteSchema {
    kind: RemoteKind,
    schema: String,
    factory: Factory,
    list_tables:
        Box<dyn Fn() -> futures::future::BoxFuture<'static, Result<Vec<String>>> + Send + Sync>,
    tables: RwLock<Vec<String>>,
}

impl std::fmt::Debug for RemoteSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSchema")
            .field("kind", &self.kind)
            .field("schema", &self.schema)
            .finish()
    }
}

impl RemoteSchema {
    /// Connects (within the timeout), checks the credentials and lists the tables.
    pub async fn connect(kind: RemoteKind, params: &Map<String, Value>) -> Result<Self> {
        let s = settings(kind, params)?;
        let timeout = s.timeout;
        match tokio::time::timeout(timeout, Self::connect_inner(kind, &s)).await {
            Ok(result) => result,
            Err(_) => Err(connect_error(
                kind,
                &s,
                format!(
                    "no answer within {:.1} s (connect_timeout)",
                    timeout.as_secs_f64()
                ),
            )),
        }
    }

    async fn connect_inner(kind: RemoteKind, s: &Settings) -> Result<Self> {
        let schema = s.schema.clone();
        let (factory, list_tables): (Factory, Lister) = match kind {
            RemoteKind::Postgres => {
                let params = HashMap::from([
                    ("host".to_string(), s.host.clone()),
                    ("port".to_string(), s.port.to_string()),
                    ("user".to_string(), s.user.clone()),
                    ("db".to_string(), s.database.clone()),
                    ("pass".to_string(), s.password.clone()),
                    (
                        "sslmode".to_string(),
                        s.sslmode.clone().unwrap_or_else(|| "prefer".into()),
                    ),
                ]);
                // `jsonb` columns read as text (the JSON operators and functions take text);
                // without this a table with one could not be opened at all.
                let pool = PostgresConnectionPool::new(to_secret_map(params))
                    .await
                    .map_err(|e| connect_error(kind, s, e))?
                    .with_unsupported_type_action(
                        datafusion_table_providers::UnsupportedTypeAction::String,
                    );
                let pool = Arc::new(pool);
                let lister = table_lister(pool.clone(), schema.clone());
                (Factory::Postgres(PostgresTableFactory::new(pool)), lister)
            }
            RemoteKind::MySql => {
                let params = HashMap::from([
                    ("host".to_string(), s.host.clone()),
                    ("tcp_port".to_string(), s.port.to_string()),
                    ("user".to_string(), s.user.clone()),
                    ("db".to_string(), s.database.clone()),
                    ("pass".to_string(), s.password.clone()),
                    (
                        "sslmode".to_string(),
                        s.sslmode.clone().unwrap_or_else(|| "disabled".into()),
                    ),
                ]);
                let pool = MySQLConnectionPool::new(to_secret_map(params))
                    .await
                    .map_err(|e| connect_error(kind, s, e))?;
                let pool = Arc::new(pool);
                let lister = table_lister(pool.clone(), schema.clone());
                (Factory::MySql(MySQLTableFactory::new(pool)), lister)
            }
        };
        // Listing the tables proves that the credentials and the database are right.
        let tables = list_tables().await.map_err(|e| connect_error(kind, s, e))?;
        Ok(RemoteSchema {
            kind,
            schema,
            factory,
            list_tables,
            tables: RwLock::new(tables),
        })
    }

    async fn refresh(&self) -> Result<Vec<String>> {
        let tables = (self.list_tables)().await?;
        *self.tables.write().unwrap_or_else(|p| p.into_inner()) = tables.clone();
        Ok(tables)
    }
}

#[async_trait]
impl SchemaProvider for RemoteSchema {
    fn table_names(&self) -> Vec<String> {
        self.tables
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        // Tables created remotely after CREATE DATABASE are found by listing again.
        let tables = self
            .refresh()
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        if !tables.iter().any(|t| t == name) {
            return Ok(None);
        }
        let reference = TableReference::partial(self.schema.clone(), name.to_string());
        let provider = match &self.factory {
            Factory::Postgres(f) => f.table_provider(reference).await,
            Factory::MySql(f) => f.table_provider(reference).await,
        }
        .map_err(|e| {
            DataFusionError::External(Box::new(Error::new(
                sqlstate::CONNECTION_EXCEPTION,
                format!("cannot open {} table {name}: {e}", self.kind.label()),
            )))
        })?;
        Ok(Some(Arc::new(RemoteTable { inner: provider })))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.table_names().iter().any(|t| t == name)
    }
}

/// Wraps a remote table to fix scans that need no columns (`SELECT count(*)`): the table
/// providers answer those with a one-column schema that DataFusion rejects (upstream issue
/// datafusion-table-providers #345), so recsql reads the first column and projects it away.
#[derive(Debug)]
struct RemoteTable {
    inner: Arc<dyn TableProvider>,
}

#[async_trait]
impl TableProvider for RemoteTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    /// Filters go to the remote database only where it reads them as recsql does: no function
    /// calls (recsql's own, such as the checked arithmetic of `id + 1 > 5`, do not exist
    /// there, and others differ in name or types), and no column that is text here but not
    /// there (`jsonb`). The rest are applied here, to the rows that come back.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        let schema = self.inner.schema();
        let retyped: Vec<&str> = schema
            .fields()
            .iter()
            .filter(|f| {
                f.metadata()
                    .get(datafusion_table_providers::SOURCE_TYPE_METADATA_KEY)
                    .is_some_and(|t| t.eq_ignore_ascii_case("jsonb"))
            })
            .map(|f| f.name().as_str())
            .collect();
        let remote_reads = |e: &Expr| {
            let mut ok = true;
            let _ = e.apply(|node| {
                ok &= match node {
                    Expr::ScalarFunction(_) => false,
                    Expr::Column(c) => !retyped.contains(&c.name.as_str()),
                    _ => true,
                };
                Ok(if ok {
                    TreeNodeRecursion::Continue
                } else {
                    TreeNodeRecursion::Stop
                })
            });
            ok
        };
        let inner = self.inner.supports_filters_pushdown(filters)?;
        Ok(filters
            .iter()
            .zip(inner)
            .map(|(f, answer)| {
                if remote_reads(f) {
                    answer
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        match projection {
            Some(p) if p.is_empty() && !self.schema().fields().is_empty() => {
                let plan = self
                    .inner
                    .scan(state, Some(&vec![0]), filters, limit)
                    .await?;
                let empty: Vec<(Arc<dyn datafusion::physical_expr::PhysicalExpr>, String)> = vec![];
                Ok(Arc::new(ProjectionExec::try_new(empty, plan)?))
            }
            _ => self.inner.scan(state, projection, filters, limit).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_unknown_parameters_are_named() {
        let params: Map<String, Value> =
            serde_json::from_str(r#"{"host": "h", "user": "u"}"#).unwrap();
        let err = settings(RemoteKind::Postgres, &params).err().unwrap();
        assert!(err.message.contains("\"database\""), "{}", err.message);
        let params: Map<String, Value> =
            serde_json::from_str(r#"{"host": "h", "user": "u", "database": "d", "hots": 1}"#)
                .unwrap();
        let err = settings(RemoteKind::MySql, &params).err().unwrap();
        assert!(err.message.contains("hots"), "{}", err.message);
        let params: Map<String, Value> =
            serde_json::from_str(r#"{"host": "h", "user": "u", "database": "d", "port": "x"}"#)
                .unwrap();
        assert!(settings(RemoteKind::MySql, &params).is_err());
    }
}
