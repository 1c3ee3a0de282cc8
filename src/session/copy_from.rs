//! `COPY files.name [(columns)] FROM STDIN`: checks the target and starts an upload into a
//! table of the built-in `files` database (a new one, or rows appended to a CSV one); the wire
//! layer feeds it the client's data and finishes it. Other databases are read-only here.

use datafusion::sql::sqlparser::ast::{Ident, ObjectName};

use super::{Engine, Output};
use crate::datasource::file_tables::Upload;
use crate::error::{Error, Result, sqlstate};
use crate::sql::CopyOptions;

pub fn start(
    engine: &Engine,
    table: &ObjectName,
    columns: &[Ident],
    options: CopyOptions,
) -> Result<Output> {
    let parts: Vec<String> = table
        .0
        .iter()
        .map(|p| p.as_ident().map(|i| i.value.clone()).unwrap_or_default())
        .collect();
    let name = match parts.as_slice() {
        [db, name] if db == "files" => name,
        _ => {
            let name = parts.last().cloned().unwrap_or_default();
            return Err(Error::new(
                sqlstate::FEATURE_NOT_SUPPORTED,
                format!(
                    "COPY FROM cannot write to {table}: it writes tables of the files database"
                ),
            )
            .with_hint(format!(
                "COPY files.{name} FROM STDIN uploads a table files.{name}"
            )));
        }
    };
    let columns = (!columns.is_empty()).then(|| columns.iter().map(|c| c.value.clone()).collect());
    let upload = Upload::start(&engine.data_dir().join("files"), name, columns, options)?;
    Ok(Output::CopyIn(upload))
}
