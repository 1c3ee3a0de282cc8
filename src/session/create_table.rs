//! `CREATE TABLE [IF NOT EXISTS] files.name AS query`: runs the query like any other (a
//! model in it is read the same way) and writes its rows as a new CSV table of the built-in
//! `files` database, which appears only when complete. Tables elsewhere cannot be created.

use datafusion::common::config::CsvOptions;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::sql::sqlparser::ast::{ObjectName, Query};

use super::{Engine, Output, notices};
use crate::datasource::file_tables;
use crate::error::{Error, Result, sqlstate};

/// The table name of `files.name`, or None for a name elsewhere.
pub fn files_table_name(name: &ObjectName) -> Option<String> {
    match name.0.as_slice() {
        [db, table] if db.as_ident().is_some_and(|i| i.value == "files") => {
            table.as_ident().map(|i| i.value.clone())
        }
        _ => None,
    }
}

/// The table name of `files.name`, or an error that says where tables can be made.
pub fn files_table(name: &ObjectName, what: &str) -> Result<String> {
    files_table_name(name).ok_or_else(|| {
        let table = name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.clone())
            .unwrap_or_default();
        Error::new(
            sqlstate::FEATURE_NOT_SUPPORTED,
            format!("cannot {what} {name}: recsql writes tables of the files database only"),
        )
        .with_hint(format!("{what} files.{table} instead"))
    })
}

pub async fn execute(
    engine: &Engine,
    name: &ObjectName,
    if_not_exists: bool,
    query: &Query,
) -> Result<Output> {
    let table = files_table(name, "create")?;
    let dir = engine.data_dir().join("files");
    let exists = ["csv", "parquet"]
        .iter()
        .any(|ext| dir.join(format!("{table}.{ext}")).exists());
    if exists {
        if if_not_exists {
            notices::notice(format!("table files.{table} already exists, skipping"));
            return Ok(Output::Command("CREATE TABLE AS".into()));
        }
        // Said before the query runs; publishing checks again.
        return Err(file_tables::already_exists(&table));
    }
    let df = engine.dataframe(query).await?;
    let scratch = file_tables::scratch_dir(&dir)?;
    let written = scratch.join(format!("{table}.{}.csv", std::process::id()));
    let result = df
        .write_csv(
            &written.to_string_lossy(),
            DataFrameWriteOptions::new().with_single_file_output(true),
            Some(CsvOptions::default().with_has_header(true)),
        )
        .await;
    let published = result.map_err(Error::from).and_then(|counts| {
        file_tables::publish(&dir, &table, &written)?;
        Ok(counts)
    });
    let counts = match published {
        Ok(counts) => counts,
        Err(e) => {
            let _ = std::fs::remove_file(&written);
            return Err(e);
        }
    };
    let rows: u64 = counts
        .iter()
        .filter_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::UInt64Array>()
                .map(|a| a.iter().flatten().sum::<u64>())
        })
        .sum();
    Ok(Output::Command(format!("SELECT {rows}")))
}
