//! `COPY (query [USING ...]) TO STDOUT`: plans the query as any other query (a model in it
//! is read the same way, with the USING options) and hands its stream of record batches to
//! the wire layer, which encodes the rows as COPY data while they stream. Nothing here
//! encodes or collects rows.

use std::sync::Arc;

use datafusion::sql::sqlparser::ast::Query;

use super::{Engine, Output};
use crate::error::Result;
use crate::sql::{CopyOptions, UsingOption};

pub async fn execute(
    engine: &Engine,
    query: &Query,
    using: &[UsingOption],
    options: CopyOptions,
) -> Result<Output> {
    let df = engine.dataframe(query, using).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    // Planning reads a model's answers here, where the statement's notices are collected.
    let stream = df.execute_stream().await?;
    Ok(Output::Copy {
        schema,
        stream,
        options,
    })
}
