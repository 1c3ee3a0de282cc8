//! Arithmetic that fails as PostgreSQL's does: integer `+`, `-` and `*` on overflow (22003,
//! "integer out of range"), and the division of doubles by zero (22012). DataFusion's wrapped
//! silently (`9223372036854775807 + 1` was the smallest bigint) and divided doubles by zero
//! into infinities and NaN. An analyzer rule, run after type coercion (which gives both sides
//! one type), puts functions over Arrow's checked kernels in their place. Other types keep
//! DataFusion's operators (integer division by zero fails there already). A chain of them (`a + b - c * d`
//! parsed as `((a + b) - c) ...`) becomes one call over all its operands and operators,
//! folded from the left: nested calls named each other in full at every level, which made
//! planning a chain of a few hundred additions take seconds.
//!
//! This module changes plans only; it does not parse SQL.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Datum, Scalar, make_array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::error::ArrowError;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err, internal_err};
use datafusion::logical_expr::expr::BinaryExpr;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

/// The analyzer rule.
#[derive(Debug)]
pub struct CheckedArithmetic {
    udf: Arc<ScalarUDF>,
}

impl CheckedArithmetic {
    pub fn new() -> Self {
        CheckedArithmetic {
            udf: Arc::new(ScalarUDF::from(Checked::new())),
        }
    }

    /// `expr` checked, if it is `+`, `-` or `*` of two integers or `/` of two doubles.
    fn checked(&self, expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expr else {
            return Ok(Transformed::no(expr));
        };
        let (symbol, applies): (char, fn(&DataType) -> bool) = match op {
            Operator::Plus => ('+', DataType::is_integer),
            Operator::Minus => ('-', DataType::is_integer),
            Operator::Multiply => ('*', DataType::is_integer),
            Operator::Divide => ('/', DataType::is_floating),
            _ => return Ok(Transformed::no(expr)),
        };
        if !(applies(&left.get_type(schema)?) && applies(&right.get_type(schema)?)) {
            return Ok(Transformed::no(expr));
        }
        // Moved, not cloned: a clone of a long chain's operand would copy the whole chain
        // at every link.
        let Expr::BinaryExpr(BinaryExpr { left, right, .. }) = expr else {
            return Ok(Transformed::no(expr));
        };
        // The left operand is the chain so far when it is a call of the function: the chain
        // grows by one operator and operand.
        let (mut symbols, mut operands) = match *left {
            Expr::ScalarFunction(f) if f.func.name() == self.udf.name() => {
                let mut args = f.args.into_iter();
                match args.next() {
                    Some(Expr::Literal(ScalarValue::Utf8(Some(symbols)), _)) => {
                        (symbols, args.collect())
                    }
                    _ => return internal_err!("a checked chain lost its operators"),
                }
            }
            other => (String::new(), vec![other]),
        };
        symbols.push(symbol);
        operands.push(*right);
        let mut args = vec![Expr::Literal(ScalarValue::Utf8(Some(symbols)), None)];
        args.extend(operands);
        Ok(Transformed::yes(self.udf.call(args)))
    }
}

impl AnalyzerRule for CheckedArithmetic {
    fn name(&self) -> &str {
        "recsql_checked_arithmetic"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::plan_rewrite::rewrite_expressions(plan, |e, schema| self.checked(e, schema))
    }
}

/// `_pg_checked(operators, a, b, ...)`: the operands, of one type, folded from the left with
/// the operators (`'+-*'` for integers, `'/'` for doubles; one fewer than the operands), each
/// step checked for overflow or a zero divisor.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Checked {
    signature: Signature,
}

impl Checked {
    fn new() -> Self {
        Checked {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Checked {
    fn name(&self) -> &str {
        "_pg_checked"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [DataType::Utf8, first, rest @ ..]
                if !rest.is_empty() && rest.iter().all(|t| t == first) =>
            {
                Ok(first.clone())
            }
            _ => exec_err!("_pg_checked takes operators and numbers of one type"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let datum = |v: &ColumnarValue| -> Result<Box<dyn Datum>> {
            Ok(match v {
                ColumnarValue::Array(a) => Box::new(a.clone()),
                ColumnarValue::Scalar(s) => Box::new(s.to_scalar()?),
            })
        };
        let Some((ColumnarValue::Scalar(ScalarValue::Utf8(Some(symbols))), operands)) =
            args.args.split_first()
        else {
            return exec_err!("_pg_checked takes its operators first");
        };
        let Some((first, rest)) = operands.split_first() else {
            return exec_err!("_pg_checked takes two or more integers");
        };
        if symbols.len() != rest.len() {
            return exec_err!("_pg_checked takes one operator fewer than operands");
        }
        let mut acc = datum(first)?;
        let mut scalar = matches!(first, ColumnarValue::Scalar(_));
        for (symbol, operand) in symbols.chars().zip(rest) {
            let r = datum(operand)?;
            let out: std::result::Result<ArrayRef, ArrowError> = match symbol {
                '+' => numeric::add(acc.as_ref(), r.as_ref()),
                '-' => numeric::sub(acc.as_ref(), r.as_ref()),
                '/' => {
                    let quotient = numeric::div(acc.as_ref(), r.as_ref())?;
                    divides_by_zero(acc.as_ref(), r.as_ref(), &quotient)?;
                    Ok(quotient)
                }
                _ => numeric::mul(acc.as_ref(), r.as_ref()),
            };
            let out = out?;
            // Scalars stay scalars, so that they broadcast against the arrays that follow.
            scalar &= matches!(operand, ColumnarValue::Scalar(_));
            acc = if scalar {
                Box::new(Scalar::new(out))
            } else {
                Box::new(out)
            };
        }
        let (out, _) = acc.get();
        let out = make_array(out.to_data());
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}

/// A 22012 error if a divisor of doubles is zero where the dividend is a number, as
/// PostgreSQL's `float8div` (NaN divided by zero is NaN). The quotient tells where: it is
/// infinite or NaN only where the divisor is zero, or where an operand already was.
fn divides_by_zero(dividend: &dyn Datum, divisor: &dyn Datum, quotient: &ArrayRef) -> Result<()> {
    let quotient = cast(quotient, &DataType::Float64)?;
    let quotient = quotient.as_primitive::<Float64Type>();
    if !quotient.values().iter().any(|q| !q.is_finite()) {
        return Ok(());
    }
    let doubles = |d: &dyn Datum| -> Result<(ArrayRef, bool)> {
        let (array, scalar) = d.get();
        Ok((cast(array, &DataType::Float64)?, scalar))
    };
    let (a, a_scalar) = doubles(dividend)?;
    let (b, b_scalar) = doubles(divisor)?;
    let (a, b) = (
        a.as_primitive::<Float64Type>(),
        b.as_primitive::<Float64Type>(),
    );
    let at = |values: &datafusion::arrow::array::Float64Array, scalar: bool, row: usize| {
        let row = if scalar { 0 } else { row };
        (!values.is_null(row)).then(|| values.value(row))
    };
    for row in 0..quotient.len() {
        if let (Some(x), Some(0.0)) = (at(a, a_scalar, row), at(b, b_scalar, row))
            && !x.is_nan()
        {
            return Err(crate::error::Error::new("22012", "division by zero").into());
        }
    }
    Ok(())
}
