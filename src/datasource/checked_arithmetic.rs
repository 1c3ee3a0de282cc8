//! Integer arithmetic that fails on overflow, as PostgreSQL's does (22003, "integer out of
//! range"). DataFusion's `+`, `-` and `*` on integers wrap silently
//! (`9223372036854775807 + 1` was the smallest bigint). An analyzer rule, run after type
//! coercion (which gives both sides one type), puts functions over Arrow's checked kernels in
//! their place. Other types keep DataFusion's operators.
//!
//! This module changes plans only; it does not parse SQL.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Datum};
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err};
use datafusion::logical_expr::expr::BinaryExpr;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

/// The analyzer rule.
#[derive(Debug)]
pub struct CheckedArithmetic {
    add: Arc<ScalarUDF>,
    sub: Arc<ScalarUDF>,
    mul: Arc<ScalarUDF>,
}

impl CheckedArithmetic {
    pub fn new() -> Self {
        let udf = |op| Arc::new(ScalarUDF::from(Checked::new(op)));
        CheckedArithmetic {
            add: udf(Operator::Plus),
            sub: udf(Operator::Minus),
            mul: udf(Operator::Multiply),
        }
    }

    /// `expr` checked for overflow, if it is `+`, `-` or `*` of two integers.
    fn checked(&self, expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expr else {
            return Ok(Transformed::no(expr));
        };
        let udf = match op {
            Operator::Plus => &self.add,
            Operator::Minus => &self.sub,
            Operator::Multiply => &self.mul,
            _ => return Ok(Transformed::no(expr)),
        };
        if !(left.get_type(schema)?.is_integer() && right.get_type(schema)?.is_integer()) {
            return Ok(Transformed::no(expr));
        }
        let udf = udf.clone();
        // Moved, not cloned: a clone of a long chain's operand would copy the whole chain
        // at every link.
        let Expr::BinaryExpr(BinaryExpr { left, right, .. }) = expr else {
            return Ok(Transformed::no(expr));
        };
        Ok(Transformed::yes(udf.call(vec![*left, *right])))
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
#[derive(Debug, PartialEq, Eq, Hash)]
struct Checked {
    op: Operator,
    signature: Signature,
}

impl Checked {
    fn new(op: Operator) -> Self {
        Checked {
            op,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Checked {
    fn name(&self) -> &str {
        match self.op {
            Operator::Plus => "_pg_checked_add",
            Operator::Minus => "_pg_checked_sub",
            _ => "_pg_checked_mul",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [left, right] if left == right => Ok(left.clone()),
            _ => exec_err!("{} takes two integers of one type", self.name()),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [left, right] = args.args.as_slice() else {
            return exec_err!("{} takes two integers", self.name());
        };
        let datum = |v: &ColumnarValue| -> Result<Box<dyn Datum>> {
            Ok(match v {
                ColumnarValue::Array(a) => Box::new(a.clone()),
                ColumnarValue::Scalar(s) => Box::new(s.to_scalar()?),
            })
        };
        let (l, r) = (datum(left)?, datum(right)?);
        let out: std::result::Result<ArrayRef, ArrowError> = match self.op {
            Operator::Plus => numeric::add(l.as_ref(), r.as_ref()),
            Operator::Minus => numeric::sub(l.as_ref(), r.as_ref()),
            _ => numeric::mul(l.as_ref(), r.as_ref()),
        };
        let out = out?;
        Ok(match (left, right) {
            (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_)) => {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
            }
            _ => ColumnarValue::Array(out),
        })
    }
}
