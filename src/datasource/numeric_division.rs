//! The division of numerics with PostgreSQL's precision. Numeric literals are numerics (as in
//! PostgreSQL: `0.1 + 0.2 = 0.3`), and Arrow's division of decimals keeps four more digits
//! than the dividend: `1 / 3.0` was 0.3333 and `count(*) * 100.0 / sum(count(*)) OVER ()`
//! 0.12688, where PostgreSQL answers 0.33333333333333333333 and 0.12688342585249801745.
//!
//! PostgreSQL gives a quotient at least 16 significant digits, a scale that depends on the
//! values. An Arrow column has one scale, so here the quotient has 16 decimals, or the
//! operands' scale where that is larger, rounded half away from zero at the last one as
//! PostgreSQL rounds. It is computed in 128-bit decimals, or in 256-bit ones where the
//! dividend's scaling would overflow those, and a quotient beyond 38 digits is an error
//! (22003). The wire protocol's numeric
//! encoder takes 28 significant digits, so a quotient of more than 12 integer digits (from
//! operands of up to 16 decimals) can be computed with, compared, summed, but not sent: its
//! encoding fails with 22003 (a cast to double, or `round(q, 2)`, sends it).
//!
//! An expression planner puts `_pg_numeric_div(a, b)` in place of `/` of two numerics, or of
//! a numeric and an integer, while the statement is planned: the quotient's type is then
//! known to type coercion (a comparison with it, a UNION of it, is coerced to that type) and
//! to the wire protocol's description. This module plans `/` only; it reads no tables.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Datum, Scalar};
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;

use crate::error::Error;

/// The fewest decimals of a quotient (PostgreSQL's `NUMERIC_MIN_SIG_DIGITS` for quotients
/// between 1 and 10,000, the common case).
const MIN_SCALE: i8 = 16;

/// The expression planner.
#[derive(Debug)]
pub struct NumericDivision {
    udf: Arc<ScalarUDF>,
}

impl NumericDivision {
    pub fn new() -> Self {
        NumericDivision {
            udf: Arc::new(ScalarUDF::from(NumericDiv::new())),
        }
    }
}

impl ExprPlanner for NumericDivision {
    /// `a / b` as `_pg_numeric_div(a, b)` if one operand is a numeric and the other a numeric
    /// or an integer; left to DataFusion otherwise (doubles, two integers, a parameter).
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        if !matches!(expr.op, BinaryOperator::Divide) {
            return Ok(PlannerResult::Original(expr));
        }
        let type_of = |e: &Expr| e.get_type(schema).ok();
        let (l, r) = (type_of(&expr.left), type_of(&expr.right));
        let decimal = |t: &Option<DataType>| matches!(t, Some(DataType::Decimal128(..)));
        let number = |t: &Option<DataType>| t.as_ref().and_then(scale_of).is_some();
        if !(number(&l) && number(&r) && (decimal(&l) || decimal(&r))) {
            return Ok(PlannerResult::Original(expr));
        }
        Ok(PlannerResult::Planned(
            self.udf.call(vec![expr.left, expr.right]),
        ))
    }
}

/// The scale of a numeric, 0 for an integer; `None` for other types.
fn scale_of(t: &DataType) -> Option<i8> {
    match t {
        DataType::Decimal128(_, s) => Some(*s),
        t if t.is_integer() => Some(0),
        _ => None,
    }
}

/// The scale of the quotient of decimals of scales `s1` and `s2`.
fn quotient_scale(s1: i8, s2: i8) -> i8 {
    MIN_SCALE.max(s1).max(s2).min(38)
}

/// `_pg_numeric_div(a, b)`: `a / b` of two 128-bit decimals (or a decimal and an integer),
/// as a `numeric(38, s)` with s from [`quotient_scale`].
#[derive(Debug, PartialEq, Eq, Hash)]
struct NumericDiv {
    signature: Signature,
}

impl NumericDiv {
    fn new() -> Self {
        NumericDiv {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for NumericDiv {
    fn name(&self) -> &str {
        "_pg_numeric_div"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [a, b] => match (scale_of(a), scale_of(b)) {
                (Some(s1), Some(s2)) => Ok(DataType::Decimal128(38, quotient_scale(s1, s2))),
                _ => exec_err!("_pg_numeric_div takes two numerics or integers, not {a} and {b}"),
            },
            _ => exec_err!("_pg_numeric_div takes two numbers"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [a, b] = args.args.as_slice() else {
            return exec_err!("_pg_numeric_div takes two decimals");
        };
        let (Some(s1), Some(s2)) = (scale_of(&a.data_type()), scale_of(&b.data_type())) else {
            return exec_err!("_pg_numeric_div takes two numerics or integers");
        };
        let scale = quotient_scale(s1, s2);
        // Arrow's quotient has the dividend's scale plus 4: one digit more than wanted, to
        // round at, and never fewer than the dividend had.
        let dividend_scale = s1.max(scale - 3);
        let strict = CastOptions {
            safe: false,
            ..Default::default()
        };
        // In 128-bit decimals where the dividend's scaling fits (Arrow's kernel checks every
        // step), else again in 256-bit ones: 20M quotients took 1.9 s in 256 bits.
        let divide = |wide: bool| -> std::result::Result<ArrayRef, ArrowError> {
            let as_type = |s: i8| match wide {
                true => DataType::Decimal256(76, s),
                false => DataType::Decimal128(38, s),
            };
            let operand =
                |v: &ColumnarValue, s: i8| -> std::result::Result<Box<dyn Datum>, ArrowError> {
                    Ok(match v {
                        ColumnarValue::Array(a) => {
                            Box::new(cast_with_options(a, &as_type(s), &strict)?)
                        }
                        ColumnarValue::Scalar(v) => {
                            let one = v
                                .to_array()
                                .map_err(|e| ArrowError::ComputeError(e.to_string()))?;
                            Box::new(Scalar::new(cast_with_options(&one, &as_type(s), &strict)?))
                        }
                    })
                };
            numeric::div(
                operand(a, dividend_scale)?.as_ref(),
                operand(b, s2)?.as_ref(),
            )
        };
        let quotient = match divide(false) {
            Ok(q) => q,
            Err(ArrowError::DivideByZero) => return Err(ArrowError::DivideByZero.into()),
            Err(_) => divide(true)?,
        };
        let quotient = cast_with_options(&quotient, &DataType::Decimal128(38, scale), &strict)
            .map_err(|_| {
                Error::new("22003", "numeric field overflow").with_hint(
                    "A quotient has more than 38 digits: divide doubles instead (x::float8).",
                )
            })?;
        let scalar = matches!(a, ColumnarValue::Scalar(_)) && matches!(b, ColumnarValue::Scalar(_));
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&quotient, 0)?)
        } else {
            ColumnarValue::Array(quotient)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotients_have_sixteen_decimals_or_their_operands() {
        assert_eq!(quotient_scale(0, 1), 16);
        assert_eq!(quotient_scale(20, 2), 20);
        assert_eq!(quotient_scale(3, 30), 30);
        assert_eq!(quotient_scale(38, 0), 38);
    }
}
