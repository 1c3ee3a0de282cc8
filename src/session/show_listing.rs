//! `SHOW MODELS`, `SHOW [FULL] TABLES` and `SHOW HANDLERS` as queries that DataFusion runs:
//! the first over the project's `models` table, the second over `information_schema.tables`,
//! the third over the handlers' rows, each with its `LIKE` pattern and `WHERE` condition.
//! This module only writes SQL; it runs nothing.

use datafusion::sql::sqlparser::ast::{Expr, Ident};

use super::model_query::{literal, quote};
use super::{DEFAULT_PROJECT, Engine};
use crate::error::{Error, Result};

/// `SELECT * FROM <project>.models` restricted as the statement says; `mindsdb`'s without a
/// project. A project that does not exist fails as an unknown schema would.
pub fn models_sql(project: Option<&Ident>, like: Option<&str>, filter: Option<&Expr>) -> String {
    format!(
        "SELECT * FROM {}.models{}",
        quote(project.map_or(DEFAULT_PROJECT, |p| p.value.as_str())),
        where_clause(&name_conditions(like, filter))
    )
}

/// The tables of a database (the project's models without one), named in a column
/// `Tables_in_<database>` as MindsDB and MySQL do, with `Table_type` for FULL. The WHERE
/// condition sees those columns.
pub fn tables_sql(
    engine: &Engine,
    full: bool,
    database: Option<&Ident>,
    like: Option<&str>,
    filter: Option<&Expr>,
) -> Result<String> {
    let db = database.map_or(DEFAULT_PROJECT, |d| d.value.as_str());
    let exists = engine
        .context()
        .catalog(crate::datasource::DEFAULT_CATALOG)
        .is_some_and(|c| c.schema_names().iter().any(|s| s == db));
    if !exists {
        return Err(
            Error::new("3D000", format!("database \"{db}\" does not exist"))
                .with_hint("SHOW DATABASES lists the databases"),
        );
    }
    let column = format!("Tables_in_{db}");
    let mut inner = vec![format!("table_schema = {}", literal(db))];
    if let Some(l) = like {
        inner.push(format!("table_name LIKE {}", literal(l)));
    }
    let outer: Vec<String> = filter.iter().map(|e| format!("({e})")).collect();
    let type_column = if full {
        format!(", {}", quote("Table_type"))
    } else {
        String::new()
    };
    Ok(format!(
        "SELECT {col}{type_column} FROM (SELECT table_name AS {col}, table_type AS {ty} FROM information_schema.tables{inner}) AS t{outer} ORDER BY {col}",
        col = quote(&column),
        ty = quote("Table_type"),
        inner = where_clause(&inner),
        outer = where_clause(&outer),
    ))
}

/// The handlers recsql has, as MindsDB's `SHOW HANDLERS` lists them: name, type (`ml` or
/// `data`), title, description and the PARAMETERS (or USING) keys each takes.
const HANDLERS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "lightfm",
        "ml",
        "LightFM",
        "Recommendation models in LightFM's form (warp, bpr, logistic, warp-kos; side features), trained in recsql",
        "{}",
    ),
    (
        "files",
        "data",
        "Files",
        "CSV (with a header row) and Parquet files in a folder, one table each",
        r#"{"path": "the folder (default: the data directory's files folder)"}"#,
    ),
    (
        "postgres",
        "data",
        "PostgreSQL",
        "Tables of a PostgreSQL database; filters and limits are sent to it",
        r#"{"host": "required", "port": "default 5432", "user": "required", "password": "", "database": "required", "schema": "default public", "sslmode": "disable | prefer | require | verify-ca | verify-full", "connect_timeout": "seconds, default 10"}"#,
    ),
    (
        "mysql",
        "data",
        "MySQL",
        "Tables of a MySQL or MariaDB database; filters and limits are sent to it",
        r#"{"host": "required", "port": "default 3306", "user": "required", "password": "", "database": "required", "sslmode": "disabled | preferred | required", "connect_timeout": "seconds, default 10"}"#,
    ),
];

/// The handlers' rows with MindsDB's columns, restricted as `SHOW HANDLERS` says (LIKE is on
/// the name).
pub fn handlers_sql(like: Option<&str>, filter: Option<&Expr>) -> String {
    let version = literal(env!("CARGO_PKG_VERSION"));
    let rows = HANDLERS
        .iter()
        .map(|(name, kind, title, description, args)| {
            format!(
                "({}, {}, {}, {}, {version}, {}, true, CAST(NULL AS TEXT))",
                literal(name),
                literal(kind),
                literal(title),
                literal(description),
                literal(args)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT * FROM (VALUES {rows}) AS h (name, type, title, description, version, \
         connection_args, import_success, import_error){}",
        where_clause(&name_conditions(like, filter))
    )
}

/// The conditions of a listing whose LIKE pattern is on a column `name`.
fn name_conditions(like: Option<&str>, filter: Option<&Expr>) -> Vec<String> {
    let mut conditions = Vec::new();
    if let Some(l) = like {
        conditions.push(format!("name LIKE {}", literal(l)));
    }
    if let Some(e) = filter {
        conditions.push(format!("({e})"));
    }
    conditions
}

fn where_clause(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    }
}
