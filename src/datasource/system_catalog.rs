//! What client drivers' metadata queries need from the system catalogs' tables beyond
//! datafusion-postgres' `pg_catalog`: a `pg_settings` with the settings drivers read
//! (pgjdbc's key lookups read `max_index_keys`, SQLAlchemy the server version), and catalog
//! columns as PostgreSQL types them: `pg_class.relacl` (read by everyone, written by no one),
//! `pg_class.reloptions` (none) and the ACL and settings arrays of schemas, columns and roles
//! (the defaults). The functions live in `system_functions`. This module adds tables to the
//! session; it rewrites no SQL.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{MemTable, SchemaProvider, Session, TableProvider};
use datafusion::common::{DataFusionError, Result as DfResult, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::prelude::SessionContext;

use super::DEFAULT_CATALOG;
use crate::error::{Error, Result};

use crate::settings::{PARAMETERS, Parameter};

/// Adds the settings table, the catalogs' extra columns and the functions
/// ([`super::system_functions`]) to `ctx`, whose `pg_catalog` must be set up.
pub fn install(ctx: &SessionContext) -> Result<()> {
    let catalog = ctx
        .catalog(DEFAULT_CATALOG)
        .ok_or_else(|| Error::internal("the default catalog is missing"))?;
    let inner = catalog
        .schema("pg_catalog")
        .ok_or_else(|| Error::internal("pg_catalog is not set up"))?;
    catalog.register_schema("pg_catalog", Arc::new(PgCatalog::new(inner)?))?;
    super::system_functions::install(ctx);
    Ok(())
}

/// datafusion-postgres' `pg_catalog` with recsql's `pg_settings`.
#[derive(Debug)]
struct PgCatalog {
    inner: Arc<dyn SchemaProvider>,
    settings: Arc<dyn TableProvider>,
}

impl PgCatalog {
    fn new(inner: Arc<dyn SchemaProvider>) -> Result<Self> {
        let n = PARAMETERS.len();
        let text = |f: fn(&Parameter) -> Option<&'static str>| -> ArrayRef {
            Arc::new(PARAMETERS.iter().map(f).collect::<StringArray>())
        };
        let none = || -> ArrayRef { Arc::new(StringArray::from(vec![None::<&str>; n])) };
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("name", text(|s| Some(s.name))),
            ("setting", text(|s| Some(s.default))),
            ("unit", none()),
            ("category", none()),
            ("short_desc", text(|s| Some(s.description))),
            ("extra_desc", none()),
            (
                "context",
                text(|s| Some(if s.settable { "user" } else { "internal" })),
            ),
            ("vartype", text(|s| Some(s.vartype))),
            ("source", text(|_| Some("default"))),
            ("min_val", none()),
            ("max_val", none()),
            ("enumvals", none()),
            ("boot_val", text(|s| Some(s.default))),
            ("reset_val", text(|s| Some(s.default))),
            ("sourcefile", none()),
            (
                "sourceline",
                Arc::new(datafusion::arrow::array::Int32Array::from(vec![None; n])),
            ),
            (
                "pending_restart",
                Arc::new(datafusion::arrow::array::BooleanArray::from(vec![
                    Some(
                        false
                    );
                    n
                ])),
            ),
        ];
        let batch = RecordBatch::try_from_iter(columns).map_err(DataFusionError::from)?;
        let settings = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        Ok(PgCatalog {
            inner,
            settings: Arc::new(settings),
        })
    }
}

#[async_trait]
impl SchemaProvider for PgCatalog {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        if name.eq_ignore_ascii_case("pg_settings") {
            return Ok(Some(self.settings.clone()));
        }
        let table = self.inner.table(name).await?;
        match table {
            // Every relation can be read by everyone and written by no one, and has no
            // storage options.
            Some(t) if name.eq_ignore_ascii_case("pg_class") => {
                let read_by_all = ScalarValue::List(ScalarValue::new_list_nullable(
                    &[ScalarValue::from("=r/postgres")],
                    &DataType::Utf8,
                ));
                Ok(Some(Arc::new(WithConstants::new(
                    t,
                    vec![("relacl", read_by_all), ("reloptions", text_list_null())],
                ))))
            }
            // Schemas and columns keep the default privileges, and no role or database has
            // settings of its own: NULL, as the arrays of text that psql's \dn+ and \drds
            // join.
            Some(t) => {
                let (column, value) = match name.to_ascii_lowercase().as_str() {
                    "pg_namespace" => ("nspacl", text_list_null()),
                    "pg_attribute" => ("attacl", text_list_null()),
                    "pg_db_role_setting" => ("setconfig", text_list_null()),
                    _ => return Ok(Some(t)),
                };
                Ok(Some(Arc::new(WithConstants::new(t, vec![(column, value)]))))
            }
            None => Ok(None),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// A NULL array of text.
fn text_list_null() -> ScalarValue {
    ScalarValue::new_null_list(DataType::Utf8, true, 1)
}

/// A catalog table with columns that hold one value in every row: columns PostgreSQL has and
/// datafusion-postgres lacks, or has with another type (its ACLs are text, PostgreSQL's are
/// arrays).
#[derive(Debug)]
struct WithConstants {
    inner: Arc<dyn TableProvider>,
    schema: SchemaRef,
    /// Per column of `schema`: its constant, or None for the inner table's column.
    values: Vec<Option<ScalarValue>>,
}

impl WithConstants {
    fn new(inner: Arc<dyn TableProvider>, columns: Vec<(&str, ScalarValue)>) -> Self {
        let mut fields = inner.schema().fields().to_vec();
        let mut values = vec![None; fields.len()];
        for (name, value) in columns {
            let field = Arc::new(Field::new(name, value.data_type(), true));
            match fields.iter().position(|f| f.name() == name) {
                Some(i) => {
                    fields[i] = field;
                    values[i] = Some(value);
                }
                None => {
                    fields.push(field);
                    values.push(Some(value));
                }
            }
        }
        WithConstants {
            inner,
            schema: Arc::new(Schema::new(fields)),
            values,
        }
    }
}

#[async_trait]
impl TableProvider for WithConstants {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let input = self.inner.scan(state, None, &[], limit).await?;
        let columns: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = columns
            .into_iter()
            .map(|i| {
                let name = self.schema.field(i).name().clone();
                let expr: Arc<dyn PhysicalExpr> = match &self.values[i] {
                    Some(value) => Arc::new(Literal::new(value.clone())),
                    None => Arc::new(Column::new(&name, i)),
                };
                (expr, name)
            })
            .collect();
        Ok(Arc::new(ProjectionExec::try_new(exprs, input)?))
    }
}
