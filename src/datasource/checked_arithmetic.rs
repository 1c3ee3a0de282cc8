//! Integer arithmetic that fails on overflow, as PostgreSQL's does (22003, "integer out of
//! range"). DataFusion's `+`, `-` and `*` on integers wrap silently
//! (`9223372036854775807 + 1` was the smallest bigint). An analyzer rule, run after type
//! coercion (which gives both sides one type), puts functions over Arrow's checked kernels in
//! their place. Other types keep DataFusion's operators. A chain of them (`a + b - c * d`
//! parsed as `((a + b) - c) ...`) becomes one call over all its operands and operators,
//! folded from the left: nested calls named each other in full at every level, which made
//! planning a chain of a few hundred additions take seconds.
//!
//! This module changes plans only; it does not parse SQL.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Datum, Scalar, make_array};
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::DataType;
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

    /// `expr` checked for overflow, if it is `+`, `-` or `*` of two integers.
    fn checked(&self, expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expr else {
            return Ok(Transformed::no(expr));
        };
        let symbol = match op {
            Operator::Plus => '+',
            Operator::Minus => '-',
            Operator::Multiply => '*',
            _ => return Ok(Transformed::no(expr)),
        };
        if !(left.get_type(schema)?.is_integer() && right.get_type(schema)?.is_integer()) {
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

/// `_pg_checked_add(a, b)` and its kin: `a op b` of two integers of one type, an error on
/// overflow.
/// `_pg_checked(operators, a, b, ...)`: the operands folded from the left with the
/// operators (`'+-*'`, one fewer than the operands), each step checked for overflow.
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
            _ => exec_err!("_pg_checked takes operators and integers of one type"),
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
