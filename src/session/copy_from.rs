//! `COPY files.name [(columns)] FROM STDIN`: checks the target and starts an upload into a
//! table of the built-in `files` database (a new one, or rows appended to a CSV one); the wire
//! layer feeds it the client's data and finishes it. Other databases are read-only here.

use datafusion::sql::sqlparser::ast::{Ident, ObjectName};

use super::create_table::files_table;
use super::{Engine, Output};
use crate::datasource::file_tables::Upload;
use datafusion::common::TableReference;

use crate::error::{Error, Result};
use crate::sql::{CopyFormat, CopyOptions};

pub async fn start(
    engine: &Engine,
    table: &ObjectName,
    columns: &[Ident],
    options: CopyOptions,
) -> Result<Output> {
    let name = files_table(table, "copy into")?;
    if options.format == CopyFormat::Binary && options.header {
        return Err(Error::syntax("cannot specify HEADER in BINARY mode"));
    }
    let binary = options.format == CopyFormat::Binary;
    let listed: Option<Vec<String>> =
        (!columns.is_empty()).then(|| columns.iter().map(|c| c.value.clone()).collect());
    let mut upload = Upload::start(
        &engine.data_dir().join("files"),
        &name,
        listed.clone(),
        options,
    )?;
    if binary {
        // Binary values are read with the types of the columns they fill.
        let schema = engine
            .context()
            .table_provider(TableReference::partial("files", name.as_str()))
            .await?
            .schema();
        let names =
            listed.unwrap_or_else(|| schema.fields().iter().map(|f| f.name().clone()).collect());
        let types = names
            .iter()
            .map(|n| {
                schema
                    .field_with_name(n)
                    .map(|f| f.data_type().clone())
                    .map_err(|_| {
                        Error::new(
                            crate::error::sqlstate::UNDEFINED_COLUMN,
                            format!("files.{name} has no column {n:?}"),
                        )
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        upload.set_column_types(types);
    }
    Ok(Output::CopyIn(upload))
}
