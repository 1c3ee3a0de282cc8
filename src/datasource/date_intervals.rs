//! A date plus or minus an interval is a timestamp, as in PostgreSQL (`order_date + interval
//! '36 hours'` is the timestamp 36 hours after the date's midnight). DataFusion's answer was a
//! date, which dropped the interval's hours and minutes (`date '2024-01-01' + interval '36
//! hours'` was 2024-01-02). An expression planner casts the date side to a timestamp while
//! the statement is planned, by the operand's type, so date columns, literals, casts and
//! `current_date` are all covered and the result's type is known before anything runs (a
//! comparison of a date column with such a timestamp casts the column, as PostgreSQL does).
//!
//! This module plans `+` and `-` only; it reads no tables.

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{Expr, ExprSchemable, cast};
use datafusion::sql::sqlparser::ast::BinaryOperator;

/// The expression planner.
#[derive(Debug, Default)]
pub struct DateIntervals;

impl ExprPlanner for DateIntervals {
    /// `d + i`, `i + d` or `d - i` of a date `d` and an interval `i` with `d` cast to a
    /// timestamp; left to DataFusion as it is otherwise, and when an operand's type is not
    /// known yet (a parameter, an outer column).
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let plus = matches!(expr.op, BinaryOperator::Plus);
        if !plus && !matches!(expr.op, BinaryOperator::Minus) {
            return Ok(PlannerResult::Original(expr));
        }
        let type_of = |e: &Expr| e.get_type(schema).ok();
        let (l, r) = (type_of(&expr.left), type_of(&expr.right));
        let interval = |t: &Option<DataType>| matches!(t, Some(DataType::Interval(_)));
        let date = |t: &Option<DataType>| matches!(t, Some(DataType::Date32 | DataType::Date64));
        let timestamp = |e: Expr| cast(e, DataType::Timestamp(TimeUnit::Nanosecond, None));
        let RawBinaryExpr {
            op,
            mut left,
            mut right,
        } = expr;
        if date(&l) && interval(&r) {
            left = timestamp(left);
        } else if plus && interval(&l) && date(&r) {
            right = timestamp(right);
        }
        Ok(PlannerResult::Original(RawBinaryExpr { op, left, right }))
    }
}
