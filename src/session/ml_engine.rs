//! `CREATE ML_ENGINE`, `SHOW ML_ENGINES`, `DROP ML_ENGINE`: named configurations of a handler.
//! The only handler is `lightfm`.

use std::sync::Arc;

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;

use super::{Engine, Output};
use crate::catalog::EngineDef;
use crate::error::{Error, Result, sqlstate};
use crate::sql::{UsingOption, using_to_json};

pub const HANDLERS: &[&str] = &["lightfm"];

pub fn create(
    engine: &Engine,
    name: &str,
    if_not_exists: bool,
    handler: &str,
    using: &[UsingOption],
) -> Result<Output> {
    let handler = handler.to_ascii_lowercase();
    if !HANDLERS.contains(&handler.as_str()) {
        return Err(
            Error::invalid_value(format!("there is no ML handler '{handler}'"))
                .with_hint(format!("available handlers: {}", HANDLERS.join(", "))),
        );
    }
    if engine.catalog().engine(name).is_some() {
        if if_not_exists {
            return Ok(Output::Command("CREATE ML_ENGINE".into()));
        }
        return Err(Error::new(
            sqlstate::DUPLICATE_OBJECT,
            format!("ML engine {name} already exists"),
        ));
    }
    engine.catalog().add_engine(EngineDef {
        name: name.to_string(),
        handler,
        options: using_to_json(using),
    })?;
    Ok(Output::Command("CREATE ML_ENGINE".into()))
}

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("handler", DataType::Utf8, false),
        Field::new("connection_data", DataType::Utf8, false),
    ]))
}

/// An engine's options as the `connection_data` column shows them: a JSON object.
pub fn connection_data(engine: &EngineDef) -> String {
    serde_json::Value::Object(engine.options.clone()).to_string()
}

pub fn show(engine: &Engine) -> Result<Output> {
    let engines = engine.catalog().engines();
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from_iter_values(
                engines.iter().map(|e| e.name.clone()),
            )),
            Arc::new(StringArray::from_iter_values(
                engines.iter().map(|e| e.handler.clone()),
            )),
            Arc::new(StringArray::from_iter_values(
                engines.iter().map(connection_data),
            )),
        ],
    )
    .map_err(|e| Error::internal(e.to_string()))?;
    Ok(Output::Rows {
        schema: schema(),
        batches: vec![batch],
    })
}

pub fn drop(engine: &Engine, name: &str, if_exists: bool) -> Result<Output> {
    if !engine.catalog().remove_engine(name)? && !if_exists {
        return Err(Error::undefined_object(format!(
            "ML engine {name} does not exist"
        )));
    }
    Ok(Output::Command("DROP ML_ENGINE".into()))
}
