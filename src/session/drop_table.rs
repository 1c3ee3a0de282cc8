//! `DROP TABLE [IF EXISTS] files.name`: removes a table of the built-in `files` database (its
//! CSV or Parquet file). Tables of other databases are not recsql's to drop.

use datafusion::sql::sqlparser::ast::ObjectName;

use super::create_table::files_table;
use super::{Engine, Output, notices};
use crate::datasource::file_tables;
use crate::error::{Error, Result, sqlstate};

pub fn execute(engine: &Engine, name: &ObjectName, if_exists: bool) -> Result<Output> {
    let table = files_table(name, "drop")?;
    if file_tables::remove(&engine.data_dir().join("files"), &table)? {
        return Ok(Output::Command("DROP TABLE".into()));
    }
    if if_exists {
        notices::notice(format!("table files.{table} does not exist, skipping"));
        return Ok(Output::Command("DROP TABLE".into()));
    }
    Err(Error::new(
        sqlstate::UNDEFINED_TABLE,
        format!("table files.{table} does not exist"),
    )
    .with_hint("SHOW TABLES FROM files lists its tables"))
}
