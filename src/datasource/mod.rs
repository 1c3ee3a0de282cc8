//! Data sources: the DataFusion `SessionContext` that plain SQL runs on, and the databases in
//! it. Each database is a schema of the default catalog, so `db.table` names a table: the
//! built-in `files` and `demo`, and the `postgres`, `mysql` and `files` databases users create.
//! This module attaches and detaches databases; it does not know about models.

mod any_parameter;
mod array_function;
mod bytea_input;
mod checked_arithmetic;
mod copy_binary;
mod date_intervals;
mod datetime_template;
pub mod declared_types;
pub mod demo;
pub mod file_tables;
mod files;
mod integer_literals;
mod interval_order;
mod number_template;
mod numeric_division;
mod octet_length;
mod ordered_set;
mod pg_casts;
mod pg_functions;
mod pg_intervals;
mod pg_math;
mod pg_round;
mod pg_sleep;
mod pg_sum;
mod plan_rewrite;
mod regexp_matches;
mod remote;
pub mod system_catalog;
mod system_functions;
pub mod text_forms;
mod unsigned_results;
mod wrapped_function;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::catalog::SchemaProvider;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use serde_json::{Map, Value};

pub use any_parameter::type_any_parameters;
pub use files::FilesSchema;

/// `plan`, a client's statement as DataFusion planned it, with the types PostgreSQL gives its
/// literals and result columns (`integer_literals`, `unsigned_results`); applied once, where
/// the server plans it, before its columns are described.
pub fn with_postgresql_types(
    plan: datafusion::logical_expr::LogicalPlan,
) -> datafusion::common::Result<datafusion::logical_expr::LogicalPlan> {
    integer_literals::type_integer_literals(plan).and_then(unsigned_results::sign_unsigned_results)
}
pub use remote::{DEFAULT_CONNECT_TIMEOUT, RemoteKind, RemoteSchema};

use crate::catalog::DatabaseDef;
use crate::error::{Error, Result, sqlstate};

pub const DEFAULT_CATALOG: &str = "datafusion";
pub const DEFAULT_SCHEMA: &str = "mindsdb";
/// Names that users cannot take for their own databases.
pub const BUILTIN_DATABASES: &[&str] = &[
    "files",
    "demo",
    "mindsdb",
    "public",
    "information_schema",
    "pg_catalog",
];
pub const ENGINES: &[&str] = &["postgres", "mysql", "files"];

/// Half of the machine's memory (from `/proc/meminfo`), or 4 GiB where that cannot be read.
fn default_memory_limit() -> usize {
    let total_kb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
    });
    total_kb.map_or(4 << 30, |kb| kb * 1024 / 2)
}

/// Builds the session context: case-preserving identifiers (as MindsDB: `userId` matches a
/// column `userId`), information_schema, pg_catalog, and the built-in databases. Queries
/// share `memory_limit` bytes (half of the machine's memory by default): sorts and
/// aggregations spill to temporary files beyond it, and what cannot spill fails with 53200
/// instead of taking the whole machine's memory (and the server with it).
pub fn new_context(data_dir: &Path, memory_limit: Option<usize>) -> Result<Arc<SessionContext>> {
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema(DEFAULT_CATALOG, DEFAULT_SCHEMA)
        .with_target_partitions(2);
    config.options_mut().sql_parser.enable_ident_normalization = false;
    // Numeric literals are numerics, as in PostgreSQL (`0.1 + 0.2 = 0.3`, `2.5::int` is 3).
    config.options_mut().sql_parser.parse_float_as_decimal = true;
    // `now()`, `to_timestamp` and `::timestamptz` give timestamps with time zone, in UTC, as
    // PostgreSQL's in its default zone (they had none: clients read them as local times).
    config.options_mut().execution.time_zone = Some("+00:00".into());
    // datafusion-postgres hands DataFusion statements as text, which it parses again: in
    // PostgreSQL's dialect, as recsql parsed them (`^` is a power there, not a XOR).
    config.options_mut().sql_parser.dialect = datafusion::common::config::Dialect::PostgreSQL;
    let limit = memory_limit.unwrap_or_else(default_memory_limit);
    let runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_memory_limit(limit, 1.0)
        .build_arc()
        .map_err(|e| Error::internal(format!("cannot set up the query memory pool: {e}")))?;
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_analyzer_rule(Arc::new(pg_casts::PgCasts::new()))
        .with_analyzer_rule(Arc::new(checked_arithmetic::CheckedArithmetic::new()))
        .with_analyzer_rule(Arc::new(interval_order::IntervalOrder::new()))
        .build();
    let mut ctx = SessionContext::new_with_state(state);
    // JSON in text columns: `->>`, `->`, `?` and the json_* functions.
    datafusion_functions_json::register_all(&mut ctx)
        .map_err(|e| Error::internal(format!("cannot install the JSON functions: {e}")))?;
    datafusion::execution::FunctionRegistry::register_expr_planner(
        &mut ctx,
        Arc::new(date_intervals::DateIntervals),
    )
    .map_err(|e| Error::internal(format!("cannot install date arithmetic: {e}")))?;
    datafusion::execution::FunctionRegistry::register_expr_planner(
        &mut ctx,
        Arc::new(numeric_division::NumericDivision::new()),
    )
    .map_err(|e| Error::internal(format!("cannot install numeric division: {e}")))?;
    let ctx = Arc::new(ctx);
    setup_pg_catalog(&ctx, DEFAULT_CATALOG, EmptyContextProvider)
        .map_err(|e| Error::internal(format!("cannot set up pg_catalog: {e}")))?;
    system_catalog::install(&ctx)?;
    pg_intervals::install(&ctx);
    ordered_set::install(&ctx);
    pg_sum::install(&ctx);
    regexp_matches::install(&ctx);
    pg_sleep::install(&ctx);
    octet_length::install(&ctx)
        .map_err(|e| Error::internal(format!("cannot install octet_length: {e}")))?;
    pg_functions::install(&ctx)
        .and_then(|()| pg_math::install(&ctx))
        .and_then(|()| pg_round::install(&ctx))
        .map_err(|e| Error::internal(format!("cannot install PostgreSQL's functions: {e}")))?;
    let files_dir = data_dir.join("files");
    std::fs::create_dir_all(&files_dir)
        .map_err(|e| Error::io(&format!("cannot create {}", files_dir.display()), e))?;
    file_tables::clean_scratch(&files_dir);
    register(
        &ctx,
        "files",
        Arc::new(FilesSchema::new(files_dir, ctx.state())),
    )?;
    register(&ctx, "demo", Arc::new(demo::DemoSchema::new()))?;
    Ok(ctx)
}

/// Makes `provider` visible as database `name`.
pub fn register(ctx: &SessionContext, name: &str, provider: Arc<dyn SchemaProvider>) -> Result<()> {
    let catalog = ctx
        .catalog(DEFAULT_CATALOG)
        .ok_or_else(|| Error::internal("the default catalog is missing"))?;
    catalog.register_schema(name, provider)?;
    Ok(())
}

/// Removes database `name` from the session.
pub fn deregister(ctx: &SessionContext, name: &str) -> Result<()> {
    if let Some(catalog) = ctx.catalog(DEFAULT_CATALOG) {
        catalog.deregister_schema(name, true)?;
    }
    Ok(())
}

/// Connects to (or opens) the database a definition describes.
pub async fn attach(
    def: &DatabaseDef,
    data_dir: &Path,
    state: &datafusion::execution::SessionState,
) -> Result<Arc<dyn SchemaProvider>> {
    match def.engine.as_str() {
        "postgres" => Ok(Arc::new(
            RemoteSchema::connect(RemoteKind::Postgres, &def.parameters).await?,
        )),
        "mysql" => Ok(Arc::new(
            RemoteSchema::connect(RemoteKind::MySql, &def.parameters).await?,
        )),
        "files" => {
            let dir = files_path(&def.parameters, data_dir)?;
            if !dir.is_dir() {
                return Err(Error::new(
                    sqlstate::UNDEFINED_OBJECT,
                    format!("files database path {} is not a directory", dir.display()),
                ));
            }
            Ok(Arc::new(FilesSchema::new(dir, state.clone())))
        }
        other => Err(unknown_engine(other)),
    }
}

/// All rows of the table `db.table` (as written in USING) as a DataFrame, planned but not run;
/// an error names the table.
pub async fn open_table(
    ctx: &SessionContext,
    table: &str,
) -> Result<datafusion::dataframe::DataFrame> {
    let dialect = datafusion::sql::sqlparser::dialect::PostgreSqlDialect {};
    let name = datafusion::sql::sqlparser::parser::Parser::new(&dialect)
        .try_with_sql(table)?
        .parse_object_name(false)?;
    ctx.sql(&format!("SELECT * FROM {name}"))
        .await
        .map_err(|e| Error::from(e).context(format_args!("table {table}")))
}

pub fn unknown_engine(engine: &str) -> Error {
    Error::invalid_value(format!("unknown database engine '{engine}'"))
        .with_hint(format!("ENGINE must be one of: {}", ENGINES.join(", ")))
}

fn files_path(params: &Map<String, Value>, data_dir: &Path) -> Result<PathBuf> {
    if let Some(unknown) = params.keys().find(|k| k.as_str() != "path") {
        return Err(Error::invalid_value(format!(
            "unknown PARAMETERS key \"{unknown}\" for a files database; the only key is \"path\""
        )));
    }
    match params.get("path") {
        None => Ok(data_dir.join("files")),
        Some(Value::String(p)) => {
            let p = PathBuf::from(p);
            Ok(if p.is_absolute() { p } else { data_dir.join(p) })
        }
        Some(other) => Err(Error::invalid_value(format!(
            "PARAMETERS \"path\" must be a string, found {other}"
        ))),
    }
}

/// PARAMETERS as SHOW DATABASES prints them: the password masked.
pub fn masked_parameters(params: &Map<String, Value>) -> String {
    let mut shown = params.clone();
    if let Some(p) = shown.get_mut("password") {
        *p = Value::String("******".into());
    }
    Value::Object(shown).to_string()
}
