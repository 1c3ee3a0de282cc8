//! `CREATE [OR REPLACE] MODEL [IF NOT EXISTS] [project.]name FROM db (query) PREDICT col
//! USING ...`: validates everything it can at once (options, engine, source query, columns,
//! non-empty data), records version 1 with status `generating`, answers with the models row,
//! and hands the rows to a background training job.

use datafusion::common::Column;
use datafusion::logical_expr::Expr;
use datafusion::sql::sqlparser::ast::{Ident, ObjectNamePart, Query, visit_relations_mut};
use std::ops::ControlFlow;

use super::{Engine, Output, models_table};
use crate::catalog::{EngineDef, ModelSpec, ModelVersion, PendingVersion};
use crate::error::{Error, Result, sqlstate};
use crate::side_features::id_kind;
use crate::source_rows::SourceRows;
use crate::sql::{ModelName, Options, Source, UsingOption, using_to_json};

pub const DEFAULT_PROJECT: &str = "mindsdb";

/// The project of a model's name: `mindsdb` when none is named; a named one must exist.
pub fn project_of(engine: &Engine, name: &ModelName) -> Result<String> {
    match &name.project {
        None => Ok(DEFAULT_PROJECT.to_string()),
        Some(p) if engine.is_project(&p.value) => Ok(p.value.clone()),
        Some(p) => Err(Error::new(
            sqlstate::INVALID_SCHEMA_NAME,
            format!("project {} does not exist", p.value),
        )
        .with_hint(format!(
            "CREATE PROJECT {} first, or name a model of project {DEFAULT_PROJECT}",
            p.value
        ))),
    }
}

pub fn now_text() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    datafusion::arrow::temporal_conversions::timestamp_s_to_datetime(secs)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The source query with its unqualified table names taken from `db`.
pub fn qualify(source: &Source) -> Box<Query> {
    let mut q = source.query.clone();
    let db = source.database.clone();
    let _ = visit_relations_mut(&mut q, |name| {
        if name.0.len() == 1 {
            name.0.insert(0, ObjectNamePart::Identifier(db.clone()));
        }
        ControlFlow::<()>::Continue(())
    });
    q
}

/// Finds the engine the USING clause names (creating `lightfm` on first use).
pub fn resolve_engine(engine: &Engine, using: &[UsingOption]) -> Result<String> {
    let requested = using
        .iter()
        .find(|o| o.key == "engine")
        .map(|o| o.value.as_text());
    match requested {
        Some(name) => match engine.catalog().engine(&name) {
            Some(e) => Ok(e.name),
            None if name == "lightfm" => {
                engine.catalog().add_engine(EngineDef {
                    name: name.clone(),
                    handler: "lightfm".into(),
                    options: Default::default(),
                })?;
                Ok(name)
            }
            None => Err(
                Error::undefined_object(format!("there is no ML engine '{name}'"))
                    .with_hint("CREATE ML_ENGINE name FROM lightfm, or use engine = 'lightfm'"),
            ),
        },
        None => {
            if let Some(e) = engine
                .catalog()
                .engines()
                .into_iter()
                .find(|e| e.handler == "lightfm")
            {
                return Ok(e.name);
            }
            engine.catalog().add_engine(EngineDef {
                name: "lightfm".into(),
                handler: "lightfm".into(),
                options: Default::default(),
            })?;
            Ok("lightfm".into())
        }
    }
}

/// Starts the source query and checks its columns; returns its rows (read while the job
/// trains on them), whether the user and item ids are text, and the query's text. Fails at
/// once if the query returns no rows.
pub async fn fetch_source(
    engine: &Engine,
    source: &Source,
    spec: &mut ModelSpec,
    explicit_rating: bool,
) -> Result<(SourceRows, bool, bool, String)> {
    let query = qualify(source);
    let text = query.to_string();
    // One partition: the rows then arrive in the same order on every run, and the id order,
    // the seeded split and training follow the row order.
    let state = engine.context().state();
    let mut config = state.config().clone();
    config.options_mut().execution.target_partitions = 1;
    let single = datafusion::prelude::SessionContext::new_with_state(
        datafusion::execution::SessionStateBuilder::new_from_existing(state)
            .with_config(config)
            .build(),
    );
    let fails = "the source query of the model fails";
    let df = single
        .sql(&text)
        .await
        .map_err(|e| Error::from(e).context(fails))?;
    let schema = df.schema().as_arrow().clone();
    let find = |want: &str| -> Option<String> {
        schema
            .fields()
            .iter()
            .find(|f| f.name() == want)
            .or_else(|| {
                let ci: Vec<_> = schema
                    .fields()
                    .iter()
                    .filter(|f| f.name().eq_ignore_ascii_case(want))
                    .collect();
                (ci.len() == 1).then(|| ci[0])
            })
            .map(|f| f.name().clone())
    };
    let columns = || {
        schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut kinds = [false, false];
    for (slot, (key, col)) in [
        ("user_id", &mut spec.user_col),
        ("item_id", &mut spec.item_col),
    ]
    .into_iter()
    .enumerate()
    {
        let name = find(col).ok_or_else(|| {
            Error::new(
                sqlstate::UNDEFINED_COLUMN,
                format!(
                    "USING {key} = '{col}': the source query has no such column (it has {})",
                    columns()
                ),
            )
        })?;
        let field = schema
            .field_with_name(&name)
            .map_err(|e| Error::internal(e.to_string()))?;
        kinds[slot] = id_kind(field.data_type()).ok_or_else(|| {
            Error::new(
                sqlstate::DATATYPE_MISMATCH,
                format!(
                    "column {name} has type {}; ids must be integers or text",
                    field.data_type()
                ),
            )
        })?;
        *col = name;
    }
    match find(&spec.rating_col) {
        Some(name) => {
            let dt = schema
                .field_with_name(&name)
                .map_err(|e| Error::internal(e.to_string()))?
                .data_type()
                .clone();
            if !dt.is_numeric() {
                return Err(Error::new(
                    sqlstate::DATATYPE_MISMATCH,
                    format!("rating column {name} has type {dt}; it must be numeric"),
                ));
            }
            spec.rating_col = name;
        }
        None if explicit_rating => {
            return Err(Error::new(
                sqlstate::UNDEFINED_COLUMN,
                format!(
                    "USING rating_column = '{}': the source query has no such column (it has {})",
                    spec.rating_col,
                    columns()
                ),
            ));
        }
        None => {}
    }
    // Only the columns training reads are fetched: the batches in flight then take less
    // memory, and files and remote databases are asked for less.
    let mut wanted = vec![&spec.user_col, &spec.item_col];
    if find(&spec.rating_col).is_some() {
        wanted.push(&spec.rating_col);
    }
    let mut keep: Vec<usize> = wanted
        .into_iter()
        .filter_map(|name| schema.index_of(name).ok())
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let projection: Vec<Expr> = keep
        .iter()
        .map(|&i| Expr::Column(Column::from(df.schema().qualified_field(i))))
        .collect();
    let stream = df
        .select(projection)?
        .execute_stream()
        .await
        .map_err(|e| Error::from(e).context(fails))?;
    let rows = SourceRows::start(stream, fails).await?.ok_or_else(|| {
        Error::new(
            sqlstate::DATA_EXCEPTION,
            "the source query returned no rows: there is nothing to train on",
        )
    })?;
    Ok((rows, kinds[0], kinds[1], text))
}

/// Reads the user and item feature tables named in the spec, checking their columns and
/// recording which of them are numeric.
pub async fn fetch_features(
    engine: &Engine,
    spec: &mut ModelSpec,
) -> Result<crate::side_features::SideRows> {
    let mut rows = crate::side_features::SideRows::default();
    for (side, id_col, slot) in [
        (&mut spec.user_features, &spec.user_col, &mut rows.users),
        (&mut spec.item_features, &spec.item_col, &mut rows.items),
    ] {
        let Some(side) = side else { continue };
        let df = crate::datasource::open_table(engine.context(), &side.table)
            .await
            .map_err(|mut err| {
                err.message = format!("feature {}", err.message);
                err
            })?;
        let schema = df.schema().as_arrow().clone();
        for col in std::iter::once(id_col).chain(&side.columns) {
            if schema.field_with_name(col).is_err() {
                return Err(Error::new(
                    sqlstate::UNDEFINED_COLUMN,
                    format!("feature table {} has no column {col}", side.table),
                ));
            }
        }
        side.numeric = side
            .columns
            .iter()
            .filter(|c| {
                schema
                    .field_with_name(c)
                    .is_ok_and(|f| f.data_type().is_numeric())
            })
            .cloned()
            .collect();
        *slot = Some(df.collect().await.map_err(Error::from)?);
    }
    Ok(rows)
}

/// What USING says about a statement that trains (CREATE MODEL, RETRAIN, FINETUNE) rather
/// than about the model: `join_learn_process` (answer when training has ended, as in MindsDB)
/// and, for a new version, `active`. Neither is kept with the model's options.
pub struct RunOptions {
    pub join: bool,
    pub active: Option<bool>,
}

/// The statement's [`RunOptions`] among `using` (of `keys`), and the model's options.
pub fn run_options(
    using: &[UsingOption],
    keys: &[&str],
    statement: &'static str,
) -> Result<(RunOptions, Vec<UsingOption>)> {
    let (run, rest): (Vec<UsingOption>, Vec<UsingOption>) = using
        .iter()
        .cloned()
        .partition(|o| keys.contains(&o.key.as_str()));
    let options = Options::new(&run, keys, statement)?;
    let run = RunOptions {
        join: options.boolean("join_learn_process")?.unwrap_or(false),
        active: options.boolean("active")?,
    };
    Ok((run, rest))
}

/// The answer of a statement that started training `version`: its row of the models table,
/// at once, or, with `join`, when training has ended (the training's error if it failed; the
/// version stays, with status `error`, as after an asynchronous run).
pub async fn answer(
    engine: &Engine,
    version: ModelVersion,
    ended: tokio::sync::oneshot::Receiver<Result<()>>,
    join: bool,
) -> Result<Output> {
    let version = if join {
        ended
            .await
            .map_err(|_| Error::internal("the training job ended without saying how"))??;
        engine
            .catalog()
            .model(&version.project, &version.name, Some(version.version))
            .unwrap_or(version)
    } else {
        version
    };
    let batch = models_table::batch(&[version], engine.jobs())?;
    Ok(Output::Rows {
        schema: models_table::schema(),
        batches: vec![batch],
    })
}

#[allow(clippy::too_many_arguments)]
pub async fn execute(
    engine: &Engine,
    name: &ModelName,
    or_replace: bool,
    if_not_exists: bool,
    source: &Source,
    predict: &Ident,
    using: &[UsingOption],
) -> Result<Output> {
    let project = project_of(engine, name)?;
    let (run, using) = run_options(using, &["join_learn_process"], "CREATE MODEL")?;
    let using = using.as_slice();
    let model = name.name.value.clone();
    if !engine.catalog().versions(&project, &model).is_empty() && !or_replace {
        if if_not_exists {
            return Ok(Output::Command("CREATE MODEL".into()));
        }
        return Err(Error::new(
            sqlstate::DUPLICATE_OBJECT,
            format!("model {project}.{model} already exists"),
        )
        .with_hint("use CREATE MODEL IF NOT EXISTS, CREATE OR REPLACE MODEL, or RETRAIN"));
    }
    if engine.catalog().view(&project, &model).is_some() {
        return Err(Error::new(
            sqlstate::DUPLICATE_OBJECT,
            format!("{project}.{model} is a view; a model needs another name"),
        ));
    }
    let mut spec = ModelSpec::from_using(using)?;
    let engine_name = resolve_engine(engine, using)?;
    let explicit_rating = using.iter().any(|o| o.key == "rating_column");
    let (rows, user_text, item_text, query_text) =
        fetch_source(engine, source, &mut spec, explicit_rating).await?;
    let features = fetch_features(engine, &mut spec).await?;
    let options = using_to_json(using);
    let version = ModelVersion::pending(PendingVersion {
        project: project.clone(),
        name: model.clone(),
        engine: engine_name,
        predict: predict.value.clone(),
        source_db: source.database.value.clone(),
        select_data_query: query_text,
        training_options: options,
        spec,
        user_id_text: user_text,
        item_id_text: item_text,
        created_at: now_text(),
    });
    if or_replace {
        for old in engine.catalog().versions(&project, &model) {
            engine.forget_version(&old);
        }
    }
    let version = engine
        .catalog()
        .add_model_version(version, true, or_replace)?;
    let ended = engine.start_training(version.clone(), rows, features, None, true);
    answer(engine, version, ended, run.join).await
}
