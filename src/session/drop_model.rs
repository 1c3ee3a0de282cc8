//! `DROP MODEL [IF EXISTS] [project.]name[.version]`: removes the catalog rows, then the
//! files; cancels a training that is running. A single version that is active cannot be
//! dropped while other versions exist.

use super::create_model::project_of;
use super::{Engine, Output};
use crate::error::{Error, Result, sqlstate};
use crate::sql::ModelName;

pub fn execute(engine: &Engine, name: &ModelName, if_exists: bool) -> Result<Output> {
    let project = project_of(engine, name)?;
    let model = &name.name.value;
    let versions = engine.catalog().versions(&project, model);
    if versions.is_empty()
        || name
            .version
            .is_some_and(|v| !versions.iter().any(|m| m.version == v))
    {
        if if_exists {
            return Ok(Output::Command("DROP MODEL".into()));
        }
        return Err(Error::new(
            sqlstate::UNDEFINED_TABLE,
            format!("model {project}.{name} does not exist"),
        )
        .with_hint("SHOW MODELS lists the models"));
    }
    if let Some(v) = name.version
        && versions.len() > 1
        && versions.iter().any(|m| m.version == v && m.active)
    {
        return Err(Error::new(
            sqlstate::OBJECT_IN_USE,
            format!(
                "version {v} of model {project}.{model} is the active version and cannot be dropped"
            ),
        )
        .with_hint(format!(
            "SET model_active = {model}.<other version> first, or DROP MODEL {model}"
        )));
    }
    let gone = engine
        .catalog()
        .remove_models(&project, model, name.version)?;
    for m in &gone {
        engine.forget_version(m);
    }
    Ok(Output::Command("DROP MODEL".into()))
}
