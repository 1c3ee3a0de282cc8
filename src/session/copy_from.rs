//! `COPY files.name [(columns)] FROM STDIN`: checks the target and starts an upload into a
//! table of the built-in `files` database (a new one, or rows appended to a CSV one); the wire
//! layer feeds it the client's data and finishes it. Other databases are read-only here.

use datafusion::sql::sqlparser::ast::{Ident, ObjectName};

use super::create_table::files_table;
use super::{Engine, Output};
use crate::datasource::file_tables::Upload;
use crate::error::Result;
use crate::sql::CopyOptions;

pub fn start(
    engine: &Engine,
    table: &ObjectName,
    columns: &[Ident],
    options: CopyOptions,
) -> Result<Output> {
    let name = files_table(table, "copy into")?;
    let columns = (!columns.is_empty()).then(|| columns.iter().map(|c| c.value.clone()).collect());
    let upload = Upload::start(&engine.data_dir().join("files"), &name, columns, options)?;
    Ok(Output::CopyIn(upload))
}
