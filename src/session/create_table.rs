//! `CREATE TABLE [IF NOT EXISTS] files.name AS query`: runs the query like any other (a
//! model in it is read the same way) and writes its rows as a new CSV table of the built-in
//! `files` database, which appears only when complete. `CREATE TABLE [IF NOT EXISTS]
//! files.name (column type, ...)` makes an empty one (a header line) for INSERT and COPY to
//! fill, which keeps the declared types (`declared_types`) where other CSV tables read theirs
//! from their values. Tables elsewhere cannot be created. `CREATE INDEX` on a table of
//! `files` (SQL toolkits such as pandas' `to_sql` issue one after creating a table) does
//! nothing and says so: a CSV table is read whole, and recsql keeps no indexes.

use datafusion::common::config::CsvOptions;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::sql::sqlparser::ast::{ColumnDef, ObjectName, Query};

use super::{Engine, Output, notices};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::datasource::{declared_types, file_tables};
use crate::error::{Error, Result, sqlstate};
use crate::sql::{
    CopyFormat, CopyOptions, UsingOption, display_name, files_table_name, is_repeated,
};

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

/// Whether table `table` of the files database in `dir` exists; if it does, the answer to
/// CREATE: a notice with IF NOT EXISTS, else 42P07.
fn exists(dir: &std::path::Path, table: &str, if_not_exists: bool) -> Result<bool> {
    let exists = file_tables::table_exists(dir, table);
    if exists && !if_not_exists {
        return Err(file_tables::already_exists(table));
    }
    if exists {
        notices::notice(format!("table files.{table} already exists, skipping"));
    }
    Ok(exists)
}

/// `CREATE TABLE [IF NOT EXISTS] files.name (column type, ...)`.
pub async fn execute_empty(
    engine: &Engine,
    name: &ObjectName,
    if_not_exists: bool,
    columns: &[ColumnDef],
) -> Result<Output> {
    let table = files_table(name, "create")?;
    let dir = engine.data_dir().join("files");
    if !exists(&dir, &table, if_not_exists)? {
        let schema = declared_schema(engine, columns).await?;
        let names = columns.iter().map(|c| c.name.value.clone()).collect();
        let upload = file_tables::Upload::start(
            &dir,
            &table,
            Some(names),
            CopyOptions::new(CopyFormat::Csv),
        )?;
        declared_types::declare(&dir, &table, &schema)?;
        let made = tokio::task::spawn_blocking(move || upload.finish())
            .await
            .map_err(|e| Error::internal(format!("CREATE TABLE stopped: {e}")));
        if !matches!(made, Ok(Ok(_))) {
            declared_types::forget(&dir, &table);
        }
        made??;
    }
    Ok(Output::Command("CREATE TABLE".into()))
}

/// The Arrow types of declared columns, as DataFusion reads the SQL types (`BIGINT`,
/// `TEXT`, `DOUBLE PRECISION`, `DATE`, `TIMESTAMP`, `NUMERIC(p, s)`, ...); a type it does not
/// know is the user's error.
async fn declared_schema(engine: &Engine, columns: &[ColumnDef]) -> Result<Schema> {
    let casts: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            // `float` is a double in PostgreSQL, not DataFusion's `real`.
            let mut data_type = c.data_type.clone();
            super::pg_forms::float_as_double(&mut data_type);
            format!("CAST(NULL AS {data_type}) AS c{i}")
        })
        .collect();
    let plan = engine
        .context()
        .state()
        .create_logical_plan(&format!("SELECT {}", casts.join(", ")))
        .await?;
    let fields: Vec<Field> = columns
        .iter()
        .zip(plan.schema().fields())
        .map(|(c, f)| {
            let ty = match f.data_type() {
                DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
                other => other.clone(),
            };
            Field::new(&c.name.value, ty, true)
        })
        .collect();
    Ok(Schema::new(fields))
}

pub async fn execute(
    engine: &Engine,
    name: &ObjectName,
    if_not_exists: bool,
    query: &Query,
    using: &[UsingOption],
) -> Result<Output> {
    let table = files_table(name, "create")?;
    let dir = engine.data_dir().join("files");
    // Said before the query runs; publishing checks again.
    if exists(&dir, &table, if_not_exists)? {
        return Ok(Output::Command("CREATE TABLE AS".into()));
    }
    let df = engine.dataframe(query, using).await?;
    // A table's columns need names of their own, as in PostgreSQL.
    if let Some(f) = df.schema().fields().iter().find(|f| is_repeated(f.name())) {
        return Err(Error::new(
            sqlstate::DUPLICATE_COLUMN,
            format!(
                "column \"{}\" specified more than once",
                display_name(f.name())
            ),
        )
        .with_hint("Name the query's columns apart with AS."));
    }
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

/// `CREATE INDEX ... ON files.name (...)`: a notice that recsql keeps no indexes. A unique
/// index, which would be a constraint, is refused.
pub fn execute_index(
    engine: &Engine,
    index: &datafusion::sql::sqlparser::ast::CreateIndex,
) -> Result<Output> {
    let table = files_table(&index.table_name, "index")?;
    if index.unique {
        return Err(Error::not_supported(format!(
            "files.{table} cannot have a unique index: recsql tables have no constraints"
        )));
    }
    if !file_tables::table_exists(&engine.data_dir().join("files"), &table) {
        return Err(Error::new(
            sqlstate::UNDEFINED_TABLE,
            format!("table files.{table} does not exist"),
        ));
    }
    notices::notice(format!(
        "recsql keeps no indexes: files.{table} is read whole by every query, and the index \
         was not created"
    ));
    Ok(Output::Command("CREATE INDEX".into()))
}
