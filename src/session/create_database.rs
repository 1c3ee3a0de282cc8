//! `CREATE DATABASE [IF NOT EXISTS] name WITH ENGINE = '...', PARAMETERS = {...}`: connects
//! (bounded by a timeout) before anything is recorded, so a database in the catalog is one that
//! worked at least once.

use std::sync::Arc;

use super::{Engine, Output};
use crate::catalog::DatabaseDef;
use crate::datasource::{self, BUILTIN_DATABASES, ENGINES};
use crate::error::{Error, Result, sqlstate};
use crate::sql::UsingValue;

pub async fn execute(
    engine: &Engine,
    name: &str,
    if_not_exists: bool,
    kind: &str,
    parameters: &[(String, UsingValue)],
) -> Result<Output> {
    let done = || Ok(Output::Command("CREATE DATABASE".into()));
    if BUILTIN_DATABASES.contains(&name) {
        return Err(Error::new(
            sqlstate::DUPLICATE_DATABASE,
            format!("\"{name}\" is a built-in database and cannot be created"),
        )
        .with_hint("choose another name"));
    }
    if engine.catalog().database(name).is_some() {
        if if_not_exists {
            return done();
        }
        return Err(Error::new(
            sqlstate::DUPLICATE_DATABASE,
            format!("database \"{name}\" already exists"),
        )
        .with_hint("use CREATE DATABASE IF NOT EXISTS, or DROP DATABASE first"));
    }
    let kind = kind.to_ascii_lowercase();
    let kind = match kind.as_str() {
        "postgresql" | "postgres" => "postgres".to_string(),
        "mariadb" | "mysql" => "mysql".to_string(),
        other if ENGINES.contains(&other) => other.to_string(),
        other => return Err(datasource::unknown_engine(other)),
    };
    let mut params = serde_json::Map::new();
    for (k, v) in parameters {
        if params.insert(k.clone(), v.to_json()).is_some() {
            return Err(Error::invalid_value(format!(
                "PARAMETERS key \"{k}\" is given twice"
            )));
        }
    }
    let def = DatabaseDef {
        name: name.to_string(),
        engine: kind,
        parameters: params,
    };
    let provider = datasource::attach(&def, engine.data_dir(), &engine.context().state()).await?;
    engine.catalog().add_database(def)?;
    datasource::register(engine.context(), name, Arc::clone(&provider))?;
    tracing::info!(database = name, "database created");
    done()
}
