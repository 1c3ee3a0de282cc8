//! `INSERT INTO files.name [(columns)] query`: runs the query like any other (a model in it
//! is read the same way), writes its rows as CSV into the scratch directory and appends them
//! to the table, all at once or not at all, like rows that `COPY FROM` uploads.

use datafusion::common::config::CsvOptions;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::sql::sqlparser::ast::{Ident, ObjectName, Query};

use super::create_table::files_table;
use super::{Engine, Output};
use crate::datasource::file_tables::Upload;
use crate::error::{Error, Result, sqlstate};

pub async fn execute(
    engine: &Engine,
    table: &ObjectName,
    columns: &[Ident],
    query: &Query,
) -> Result<Output> {
    let name = files_table(table, "insert into")?;
    let listed = (!columns.is_empty()).then(|| columns.iter().map(|c| c.value.clone()).collect());
    let upload = Upload::insert(&engine.data_dir().join("files"), &name, listed)?;
    let df = engine.dataframe(query).await?;
    let targets = upload.given_columns()?.unwrap_or_default();
    let values = df.schema().fields().len();
    if values != targets.len() {
        return Err(Error::syntax(format!(
            "INSERT into files.{name} gives {values} values for {} columns ({})",
            targets.len(),
            targets.join(", ")
        )));
    }
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
