//! `CREATE PROJECT [IF NOT EXISTS] name` (or `CREATE DATABASE name` without an engine) and
//! `DROP PROJECT [IF EXISTS] name`: namespaces of models besides the built-in `mindsdb`, as
//! in MindsDB. A project is a schema of its models and its own `models` table (`SELECT *
//! FROM shop.models`, `CREATE MODEL shop.m ...`, `SELECT * FROM shop.m WHERE ...`); it
//! holds no data. A project with models cannot be dropped.

use super::{DEFAULT_PROJECT, Engine, Output};
use crate::datasource::{self, BUILTIN_DATABASES};
use crate::error::{Error, Result, sqlstate};

pub fn create(engine: &Engine, name: &str, if_not_exists: bool) -> Result<Output> {
    let done = || Ok(Output::Command("CREATE PROJECT".into()));
    if name == DEFAULT_PROJECT || engine.catalog().has_project(name) {
        if if_not_exists {
            return done();
        }
        return Err(Error::new(
            sqlstate::DUPLICATE_DATABASE,
            format!("project \"{name}\" already exists"),
        )
        .with_hint("use CREATE PROJECT IF NOT EXISTS, or another name"));
    }
    if BUILTIN_DATABASES.contains(&name) || engine.catalog().database(name).is_some() {
        return Err(Error::new(
            sqlstate::DUPLICATE_DATABASE,
            format!("\"{name}\" is a database; a project needs a name of its own"),
        ));
    }
    engine.catalog().add_project(name)?;
    datasource::register(engine.context(), name, engine.project_schema(name))?;
    done()
}

pub fn drop(engine: &Engine, name: &str, if_exists: bool) -> Result<Output> {
    if name == DEFAULT_PROJECT {
        return Err(Error::new(
            sqlstate::OBJECT_IN_USE,
            format!("\"{DEFAULT_PROJECT}\" is the built-in project and cannot be dropped"),
        ));
    }
    if !engine.catalog().remove_project(name)? {
        if if_exists {
            return Ok(Output::Command("DROP PROJECT".into()));
        }
        return Err(missing(name));
    }
    datasource::deregister(engine.context(), name)?;
    Ok(Output::Command("DROP PROJECT".into()))
}

/// The error for a project that does not exist.
pub fn missing(name: &str) -> Error {
    Error::new("3D000", format!("project \"{name}\" does not exist"))
        .with_hint("SHOW DATABASES lists the projects, with engine 'project'")
}
