//! `DROP DATABASE [IF EXISTS] name`: forgets a created database, or drops a project as DROP
//! PROJECT does (MindsDB's databases include projects). Built-in databases stay.

use super::{Engine, Output};
use crate::datasource::{self, BUILTIN_DATABASES};
use crate::error::{Error, Result, sqlstate};

pub fn execute(engine: &Engine, name: &str, if_exists: bool) -> Result<Output> {
    if BUILTIN_DATABASES.contains(&name) {
        return Err(Error::new(
            sqlstate::OBJECT_IN_USE,
            format!("\"{name}\" is a built-in database and cannot be dropped"),
        ));
    }
    if engine.catalog().has_project(name) {
        return super::project::drop(engine, name, if_exists)
            .map(|_| Output::Command("DROP DATABASE".into()));
    }
    if !engine.catalog().remove_database(name)? {
        if if_exists {
            return Ok(Output::Command("DROP DATABASE".into()));
        }
        return Err(
            Error::new("3D000", format!("database \"{name}\" does not exist"))
                .with_hint("SHOW DATABASES lists the databases"),
        );
    }
    datasource::deregister(engine.context(), name)?;
    Ok(Output::Command("DROP DATABASE".into()))
}
