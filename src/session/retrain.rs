//! New versions of a model. `RETRAIN m [FROM db (query)] [PREDICT col] [USING ...]` trains
//! from scratch, with the new USING merged over the old one and the old source unless a new
//! one is given. `FINETUNE m FROM db (query) [USING ...]` continues training the active
//! version on the new rows (new users and items grow the model). Either way the active
//! version keeps answering while the new one trains, and the new one becomes active when it
//! completes, unless `USING active = false`. And `SET model_active = m.N`.

use datafusion::sql::sqlparser::ast::Ident;

use super::create_model::{
    answer, fetch_features, fetch_source, now_text, project_of, resolve_engine, run_options,
};
use super::{Engine, Output};
use crate::catalog::{ModelSpec, ModelVersion, PendingVersion, Status};
use crate::error::{Error, Result, sqlstate};
use crate::sql::{ModelName, Source, UsingOption, UsingValue};

fn missing(project: &str, name: &ModelName) -> Error {
    Error::new(
        sqlstate::UNDEFINED_TABLE,
        format!("model {project}.{name} does not exist"),
    )
    .with_hint("SHOW MODELS lists the models and their versions")
}

/// Trains a new version of `name`; `finetune` continues from the active version's model.
pub async fn execute(
    engine: &Engine,
    name: &ModelName,
    source: Option<&Source>,
    predict: Option<&Ident>,
    using: &[UsingOption],
    finetune: bool,
) -> Result<Output> {
    let project = project_of(engine, name)?;
    let model = &name.name.value;
    let base = engine
        .catalog()
        .model(&project, model, name.version)
        .or_else(|| {
            (!finetune)
                .then(|| engine.catalog().versions(&project, model).pop())
                .flatten()
        })
        .ok_or_else(|| missing(&project, name))?;
    let base_artifact = if finetune {
        if base.status != Status::Complete {
            return Err(Error::new(
                sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "version {} of model {project}.{model} is {}; FINETUNE continues from a complete version",
                    base.version,
                    base.status.as_str()
                ),
            ));
        }
        for key in [
            "user_id",
            "item_id",
            "no_components",
            "loss",
            "learning_schedule",
            "user_features",
            "user_feature_columns",
            "item_features",
            "item_feature_columns",
            "identity_features",
        ] {
            if using.iter().any(|o| o.key == key) {
                return Err(Error::invalid_value(format!(
                    "FINETUNE keeps the model's {key}; use RETRAIN to change it"
                )));
            }
        }
        Some(engine.load_artifact(&base).await?)
    } else {
        None
    };
    let statement = if finetune { "FINETUNE" } else { "RETRAIN" };
    let (run, rest) = run_options(using, &["active", "join_learn_process"], statement)?;
    let activate = run.active.unwrap_or(true);
    let mut merged = base.training_options.clone();
    for o in &rest {
        merged.insert(o.key.clone(), o.value.to_json());
    }
    let merged_using: Vec<UsingOption> = merged
        .iter()
        .map(|(k, v)| UsingOption {
            key: k.clone(),
            value: UsingValue::from_json(v),
        })
        .collect();
    let mut spec = ModelSpec::from_using(&merged_using)?;
    let engine_name = resolve_engine(engine, &merged_using)?;
    let source = match source {
        Some(s) => s.clone(),
        None => {
            let query = crate::sql::parse_query(&base.select_data_query)?;
            Source {
                database: Ident::new(base.source_db.clone()),
                query,
            }
        }
    };
    let explicit_rating = merged.contains_key("rating_column");
    let (rows, user_text, item_text, query_text) =
        fetch_source(engine, &source, &mut spec, explicit_rating).await?;
    let features = fetch_features(engine, &mut spec).await?;
    let version = ModelVersion::pending(PendingVersion {
        project: project.clone(),
        name: model.clone(),
        engine: engine_name,
        predict: predict
            .map(|p| p.value.clone())
            .unwrap_or(base.predict.clone()),
        source_db: source.database.value.clone(),
        select_data_query: query_text,
        training_options: merged,
        spec,
        user_id_text: user_text,
        item_id_text: item_text,
        created_at: now_text(),
    });
    let version = engine.catalog().add_model_version(version, false, false)?;
    let ended = engine.start_training(version.clone(), rows, features, base_artifact, activate);
    answer(engine, version, ended, run.join).await
}

/// `SET model_active = [project.]name.version`
pub fn set_active(engine: &Engine, name: &ModelName) -> Result<Output> {
    let project = project_of(engine, name)?;
    let version = name
        .version
        .ok_or_else(|| Error::syntax("SET model_active needs a version, as in m.2"))?;
    let mv = engine
        .catalog()
        .model(&project, &name.name.value, Some(version))
        .ok_or_else(|| missing(&project, name))?;
    if mv.status != Status::Complete {
        return Err(Error::new(
            sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "version {version} of model {project}.{} is {}; only a complete version can be active",
                mv.name,
                mv.status.as_str()
            ),
        ));
    }
    engine.catalog().set_active(&project, &mv.name, version)?;
    Ok(Output::Command("SET".into()))
}
