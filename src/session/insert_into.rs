//! `INSERT INTO files.name [(columns)] query`: runs the query like any other (a model in it
//! is read the same way), writes its rows as CSV into the scratch directory and appends them
//! to the table, all at once or not at all, like rows that `COPY FROM` uploads. Values are
//! cast to the types of the columns they fill (those read from the table's values), and a
//! value that does not fit is an error, as in PostgreSQL; prepared through the extended
//! protocol, its `$n` parameters take those types.

use datafusion::common::config::CsvOptions;
use datafusion::dataframe::{DataFrame, DataFrameWriteOptions};
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::{Ident, ObjectName, Query};

use super::create_table::files_table;
use super::{Engine, Output};
use crate::datasource::file_tables::{self, Upload};
use crate::error::{Error, Result, sqlstate};
use crate::sql::UsingOption;

pub async fn execute(
    engine: &Engine,
    table: &ObjectName,
    columns: &[Ident],
    query: &Query,
    using: &[UsingOption],
) -> Result<Output> {
    let name = files_table(table, "insert into")?;
    let dir = engine.data_dir().join("files");
    let listed: Vec<String> = columns.iter().map(|c| c.value.clone()).collect();
    // The table and the listed columns, checked with PostgreSQL's messages.
    file_tables::check_insert(&dir, &name, (!listed.is_empty()).then_some(&listed[..]))?;
    // DataFusion's INSERT plan gives every column of the table, in its order: the values
    // cast to the column's type (a value that does not fit is an error, as in PostgreSQL)
    // and NULL for the columns not listed.
    let plan = insert_plan(engine, &name, columns, query, using)
        .await
        .map_err(|e| {
            if !e.message.contains("Column count doesn't match")
                && !e
                    .message
                    .contains("Inconsistent data length across values list")
            {
                return e;
            }
            let filled = if columns.is_empty() {
                "columns of the table".to_string()
            } else {
                format!("{} columns listed", columns.len())
            };
            Error::syntax(format!(
                "INSERT into files.{name} gives a different number of values than the {filled}"
            ))
        })?;
    let LogicalPlan::Dml(dml) = plan else {
        return Err(Error::internal("an INSERT was not planned as one"));
    };
    let df = DataFrame::new(engine.context().state(), dml.input.as_ref().clone());
    let upload = Upload::insert(&dir, &name)?;
    df.write_csv(
        &upload.path().to_string_lossy(),
        DataFrameWriteOptions::new().with_single_file_output(true),
        Some(CsvOptions::default().with_has_header(false)),
    )
    .await?;
    let rows = tokio::task::spawn_blocking(move || upload.finish())
        .await
        .map_err(|e| Error::new(sqlstate::INTERNAL_ERROR, format!("the insert stopped: {e}")))??;
    Ok(Output::Command(format!("INSERT 0 {rows}")))
}

/// DataFusion's plan of the INSERT, which types its `$n` parameters: those of VALUES from the
/// columns they fill, the others from what they are compared with.
pub async fn parameter_plan(
    engine: &Engine,
    table: &ObjectName,
    columns: &[Ident],
    query: &Query,
    using: &[UsingOption],
) -> Result<LogicalPlan> {
    insert_plan(
        engine,
        &files_table(table, "insert into")?,
        columns,
        query,
        using,
    )
    .await
}

/// DataFusion's plan of `INSERT INTO files.name [(columns)] query [USING ...]`, a query on
/// models rewritten as elsewhere.
async fn insert_plan(
    engine: &Engine,
    name: &str,
    columns: &[Ident],
    query: &Query,
    using: &[UsingOption],
) -> Result<LogicalPlan> {
    let list = if columns.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = columns.iter().map(ToString::to_string).collect();
        format!(" ({})", names.join(", "))
    };
    let sql = format!(
        "INSERT INTO files.{}{list} {}",
        Ident::with_quote('"', name),
        engine.query_sql(query, using).await?
    );
    Ok(engine.context().state().create_logical_plan(&sql).await?)
}
