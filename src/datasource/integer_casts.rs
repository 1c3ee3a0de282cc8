//! PostgreSQL's rounding where a fractional number becomes an integer. DataFusion's casts
//! truncate (`avg(rating)::int` of 3.7 is 3); PostgreSQL rounds: a numeric half away from
//! zero (3.5 becomes 4, -3.5 becomes -4) and a double to the nearest even (2.5 becomes 2).
//! An analyzer rule, run after DataFusion's type coercion, rounds the value before every
//! cast from a float or decimal to an integer type, the casts DataFusion adds itself (an
//! INSERT's values into an integer column) included.
//!
//! This module changes plans only; it does not parse SQL.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue, internal_err};
use datafusion::logical_expr::expr::{Cast, TryCast};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarUDF, Volatility, create_udf,
};
use datafusion::optimizer::AnalyzerRule;

/// Rounds before casts from fractional numbers to integers.
#[derive(Debug)]
pub struct IntegerCasts {
    rint: Arc<ScalarUDF>,
}

impl IntegerCasts {
    pub fn new() -> Self {
        IntegerCasts {
            rint: Arc::new(rint()),
        }
    }

    /// `expr` rounded as PostgreSQL does when it is cast to an integer, if it is a cast of a
    /// fractional number to one.
    fn round_before_cast(&self, expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let (inner, to) = match &expr {
            Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
                (expr.as_ref(), field.data_type())
            }
            _ => return Ok(Transformed::no(expr)),
        };
        if !to.is_integer() {
            return Ok(Transformed::no(expr));
        }
        let rounded = match inner.get_type(schema)? {
            DataType::Float16 | DataType::Float32 | DataType::Float64 => self
                .rint
                .call(vec![inner.clone().cast_to(&DataType::Float64, schema)?]),
            DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..) => {
                datafusion::functions::math::round().call(vec![inner.clone()])
            }
            _ => return Ok(Transformed::no(expr)),
        };
        Ok(Transformed::yes(match expr {
            Expr::TryCast(c) => Expr::TryCast(TryCast::new_from_field(Box::new(rounded), c.field)),
            Expr::Cast(c) => Expr::Cast(Cast::new_from_field(Box::new(rounded), c.field)),
            other => other,
        }))
    }
}

impl AnalyzerRule for IntegerCasts {
    fn name(&self) -> &str {
        "recsql_integer_casts"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| {
            let schema = merge_schema(&plan.inputs());
            let names = NamePreserver::new(&plan);
            plan.map_expressions(|expr| {
                let name = names.save(&expr);
                expr.transform_up(|e| self.round_before_cast(e, &schema))
                    .map(|t| t.update_data(|e| name.restore(e)))
            })
        })
        .map(|t| t.data)
    }
}

/// `_pg_rint(x)`: `x` rounded to the nearest integer, halves to the even one, as
/// PostgreSQL's `rint` and its casts of doubles.
fn rint() -> ScalarUDF {
    create_udf(
        "_pg_rint",
        vec![DataType::Float64],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| match args {
            [ColumnarValue::Scalar(ScalarValue::Float64(v))] => Ok(ColumnarValue::Scalar(
                ScalarValue::Float64(v.map(f64::round_ties_even)),
            )),
            [ColumnarValue::Array(a)] => {
                let rounded: ArrayRef = Arc::new(
                    a.as_primitive::<Float64Type>()
                        .unary::<_, Float64Type>(f64::round_ties_even),
                );
                Ok(ColumnarValue::Array(rounded))
            }
            _ => internal_err!("_pg_rint takes one double"),
        }),
    )
}
