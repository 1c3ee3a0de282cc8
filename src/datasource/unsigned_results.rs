//! Result columns of unsigned integers sent as PostgreSQL's signed ones. DataFusion's
//! `row_number`, `rank`, `dense_rank`, `ntile`, `array_length`, `cardinality` and
//! `array_position` are unsigned 64-bit integers, which arrow-pg sends as `numeric`: psycopg
//! read a row number as a `Decimal` and node-postgres as a string, where PostgreSQL sends a
//! bigint (an integer for some). A query whose result has such a column gets a projection on
//! top that casts it to a bigint (to an integer for the narrower unsigned types); values
//! beyond a bigint fail with `22003` instead of arriving wrapped.
//!
//! Applied with `integer_literals`, where the server plans a client's query. This module
//! changes plans only; it does not parse SQL.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, Result};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder};

/// `plan` with its unsigned result columns cast to signed integers (see the module).
pub fn sign_unsigned_results(plan: LogicalPlan) -> Result<LogicalPlan> {
    if !is_query(&plan)
        || !plan
            .schema()
            .fields()
            .iter()
            .any(|f| signed(f.data_type()).is_some())
    {
        return Ok(plan);
    }
    let schema = plan.schema().clone();
    let columns = schema
        .iter()
        .map(|(qualifier, field)| {
            let column = Expr::Column(Column::from((qualifier, field)));
            Ok(match signed(field.data_type()) {
                Some(to) => column.cast_to(&to, &schema)?.alias(field.name()),
                None => column,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    LogicalPlanBuilder::from(plan).project(columns)?.build()
}

/// The signed type an unsigned integer is sent as.
fn signed(t: &DataType) -> Option<DataType> {
    match t {
        DataType::UInt64 | DataType::UInt32 => Some(DataType::Int64),
        DataType::UInt16 | DataType::UInt8 => Some(DataType::Int32),
        _ => None,
    }
}

/// Whether `plan` answers with rows of its own (not a command, EXPLAIN or DESCRIBE).
fn is_query(plan: &LogicalPlan) -> bool {
    !matches!(
        plan,
        LogicalPlan::Dml(_)
            | LogicalPlan::Ddl(_)
            | LogicalPlan::Copy(_)
            | LogicalPlan::Explain(_)
            | LogicalPlan::Analyze(_)
            | LogicalPlan::Statement(_)
            | LogicalPlan::DescribeTable(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn ranks_and_lengths_are_signed() {
        let ctx = SessionContext::new();
        let sql = "SELECT x, row_number() OVER (ORDER BY x) AS n, \
                   array_length(make_array(1, 2), 1) AS len \
                   FROM (VALUES (2), (1)) t(x) ORDER BY n";
        let plan = ctx.state().create_logical_plan(sql).await.unwrap();
        let plan = sign_unsigned_results(plan).unwrap();
        let batches = ctx
            .execute_logical_plan(plan)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let schema = batches[0].schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["x", "n", "len"]);
        let types: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
        assert_eq!(
            types,
            [&DataType::Int64, &DataType::Int64, &DataType::Int64]
        );
        let n = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(n.contains("| 1 | 1 | 2   |"), "{n}");
    }
}
