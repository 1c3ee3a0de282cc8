//! Intervals compare and sort as PostgreSQL's do: by their length, a month counting 30 days
//! and a day 24 hours. Arrow orders intervals field by field (months, then days, then
//! nanoseconds), so `interval '1 day 10 hours' > interval '36 hours'` was true and `interval
//! '1 day' = interval '24 hours'` false, silently wrong in filters and in ORDER BY.
//!
//! An analyzer rule, run after type coercion, puts `_pg_interval_span(i)` (the length in
//! nanoseconds, a `numeric(38, 0)`) on both sides of a comparison or BETWEEN of intervals
//! and in place of an interval sort key. Grouping, DISTINCT and `min`/`max` still tell
//! `1 day` and `24 hours` apart. This module changes plans only; it does not parse SQL.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Decimal128Array};
use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNanoType, IntervalUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, exec_err};
use datafusion::logical_expr::expr::{Between, BinaryExpr};
use datafusion::logical_expr::{
    Expr, ExprSchemable, LogicalPlan, Operator, ScalarUDF, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

use super::array_function::ArrayFunction;

const INTERVAL: DataType = DataType::Interval(IntervalUnit::MonthDayNano);
const NANOS_PER_DAY: i128 = 86_400_000_000_000;

/// The analyzer rule.
#[derive(Debug)]
pub struct IntervalOrder {
    span: Arc<ScalarUDF>,
}

impl IntervalOrder {
    pub fn new() -> Self {
        IntervalOrder {
            span: Arc::new(ArrayFunction::udf(
                "_pg_interval_span",
                Signature::exact(vec![INTERVAL], Volatility::Immutable),
                DataType::Decimal128(38, 0),
                span_of,
            )),
        }
    }

    /// Whether `expr` is an interval; an expression that cannot be typed here (a column of
    /// another node's, as a sort key may name) is left alone.
    fn is_interval(expr: &Expr, schema: &DFSchema) -> bool {
        expr.get_type(schema).is_ok_and(|t| t == INTERVAL)
    }

    /// `expr` comparing lengths, if it compares intervals.
    fn compared(&self, expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        match expr {
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if matches!(
                    op,
                    Operator::Eq
                        | Operator::NotEq
                        | Operator::Lt
                        | Operator::LtEq
                        | Operator::Gt
                        | Operator::GtEq
                        | Operator::IsDistinctFrom
                        | Operator::IsNotDistinctFrom
                ) =>
            {
                if !(Self::is_interval(&left, schema) && Self::is_interval(&right, schema)) {
                    return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
                        left,
                        op,
                        right,
                    })));
                }
                Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr {
                    left: Box::new(self.span.call(vec![*left])),
                    op,
                    right: Box::new(self.span.call(vec![*right])),
                })))
            }
            Expr::Between(b) if Self::is_interval(&b.expr, schema) => {
                Ok(Transformed::yes(Expr::Between(Between {
                    expr: Box::new(self.span.call(vec![*b.expr])),
                    negated: b.negated,
                    low: Box::new(self.span.call(vec![*b.low])),
                    high: Box::new(self.span.call(vec![*b.high])),
                })))
            }
            other => Ok(Transformed::no(other)),
        }
    }

    /// `plan` with its interval sort keys as lengths.
    fn sorted(&self, plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Sort(mut sort) = plan else {
            return Ok(Transformed::no(plan));
        };
        let schema = sort.input.schema().clone();
        let mut changed = false;
        for key in &mut sort.expr {
            if Self::is_interval(&key.expr, &schema) {
                key.expr = self.span.call(vec![key.expr.clone()]);
                changed = true;
            }
        }
        Ok(Transformed::new_transformed(
            LogicalPlan::Sort(sort),
            changed,
        ))
    }
}

impl AnalyzerRule for IntervalOrder {
    fn name(&self) -> &str {
        "recsql_interval_order"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let plan =
            super::plan_rewrite::rewrite_expressions(plan, |e, schema| self.compared(e, schema))?;
        plan.transform_up_with_subqueries(|p| self.sorted(p))
            .map(|t| t.data)
    }
}

/// `_pg_interval_span(i)`: the length of each interval in nanoseconds, with PostgreSQL's 30
/// days to a month and 24 hours to a day.
fn span_of(args: &[ArrayRef]) -> Result<ArrayRef> {
    let [a] = args else {
        return exec_err!("_pg_interval_span takes one interval");
    };
    let spans: Decimal128Array = a
        .as_primitive::<IntervalMonthDayNanoType>()
        .iter()
        .map(|v| {
            v.map(|v| {
                (i128::from(v.months) * 30 + i128::from(v.days)) * NANOS_PER_DAY
                    + i128::from(v.nanoseconds)
            })
        })
        .collect();
    Ok(Arc::new(spans.with_precision_and_scale(38, 0)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::IntervalMonthDayNanoArray;
    use datafusion::arrow::datatypes::IntervalMonthDayNano;

    #[test]
    fn a_month_is_thirty_days_and_a_day_twenty_four_hours() {
        let hour = 3_600_000_000_000i64;
        let intervals: ArrayRef = Arc::new(IntervalMonthDayNanoArray::from(vec![
            IntervalMonthDayNano::new(0, 1, 10 * hour),
            IntervalMonthDayNano::new(0, 0, 36 * hour),
            IntervalMonthDayNano::new(1, 0, 0),
            IntervalMonthDayNano::new(0, 30, 0),
        ]));
        let spans = span_of(&[intervals]).expect("spans");
        let spans = spans.as_primitive::<datafusion::arrow::datatypes::Decimal128Type>();
        assert!(spans.value(0) < spans.value(1));
        assert_eq!(spans.value(2), spans.value(3));
    }
}
