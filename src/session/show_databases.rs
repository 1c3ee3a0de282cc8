//! `SHOW [FULL] DATABASES`: the built-in and created databases with their engine and
//! parameters, passwords masked, then the projects (engine `project`), as MindsDB lists them;
//! FULL adds the type of each, `data` or `project`.

use std::sync::Arc;

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;

use super::{Engine, Output};
use crate::datasource;
use crate::error::{Error, Result};

pub fn schema(full: bool) -> SchemaRef {
    let mut fields = vec![Field::new("name", DataType::Utf8, false)];
    if full {
        fields.push(Field::new("type", DataType::Utf8, false));
    }
    fields.push(Field::new("engine", DataType::Utf8, false));
    fields.push(Field::new("parameters", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

pub fn execute(engine: &Engine, full: bool) -> Result<Output> {
    let files_dir = engine.data_dir().join("files");
    let mut rows: Vec<(String, String, String)> = vec![
        (
            "files".into(),
            "files".into(),
            serde_json::json!({ "path": files_dir.to_string_lossy() }).to_string(),
        ),
        ("demo".into(), "demo".into(), "{}".into()),
    ];
    for def in engine.catalog().databases() {
        rows.push((
            def.name.clone(),
            def.engine.clone(),
            datasource::masked_parameters(&def.parameters),
        ));
    }
    for project in
        std::iter::once(super::DEFAULT_PROJECT.to_string()).chain(engine.catalog().projects())
    {
        rows.push((project, "project".into(), "{}".into()));
    }
    let schema = schema(full);
    let column = |values: Vec<&str>| -> datafusion::arrow::array::ArrayRef {
        Arc::new(StringArray::from_iter_values(values))
    };
    let mut columns = vec![column(rows.iter().map(|r| r.0.as_str()).collect())];
    if full {
        columns.push(column(
            rows.iter()
                .map(|r| if r.1 == "project" { "project" } else { "data" })
                .collect(),
        ));
    }
    columns.push(column(rows.iter().map(|r| r.1.as_str()).collect()));
    columns.push(column(rows.iter().map(|r| r.2.as_str()).collect()));
    let batch = RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| Error::internal(e.to_string()))?;
    Ok(Output::Rows {
        schema,
        batches: vec![batch],
    })
}
