//! `round(x)` of a double as PostgreSQL's `round(double precision)`: to the nearest integer,
//! halves to the even one (`round(2.5::float8)` is 2), where DataFusion's rounded halves away
//! from zero. Numerics keep rounding halves away from zero (`round(2.5)` is 3, a numeric
//! literal), as in PostgreSQL, and `round(x, digits)` stays DataFusion's.
//!
//! This module registers a function in place of DataFusion's; it does not rewrite plans.

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{Float32Type, Float64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

use super::wrapped_function::{Around, Wrapped};

/// Puts the `round` below in place of DataFusion's.
pub fn install(ctx: &SessionContext) -> Result<()> {
    use datafusion::execution::FunctionRegistry;
    let inner = ctx.udf("round")?;
    ctx.register_udf(Wrapped::udf(inner, HalvesToEven));
    Ok(())
}

#[derive(Debug)]
struct HalvesToEven;

impl Around for HalvesToEven {
    fn invoke(&self, inner: &ScalarUDF, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rounded = match args.args.as_slice() {
            [ColumnarValue::Scalar(ScalarValue::Float64(v))] => {
                ColumnarValue::Scalar(ScalarValue::Float64(v.map(f64::round_ties_even)))
            }
            [ColumnarValue::Scalar(ScalarValue::Float32(v))] => {
                ColumnarValue::Scalar(ScalarValue::Float32(v.map(f32::round_ties_even)))
            }
            [ColumnarValue::Array(a)] if a.data_type().is_floating() => {
                let out: ArrayRef = match a.as_primitive_opt::<Float64Type>() {
                    Some(doubles) => {
                        Arc::new(doubles.unary::<_, Float64Type>(f64::round_ties_even))
                    }
                    None => match a.as_primitive_opt::<Float32Type>() {
                        Some(reals) => {
                            Arc::new(reals.unary::<_, Float32Type>(f32::round_ties_even))
                        }
                        None => return inner.invoke_with_args(args),
                    },
                };
                ColumnarValue::Array(out)
            }
            _ => return inner.invoke_with_args(args),
        };
        Ok(rounded)
    }
}
