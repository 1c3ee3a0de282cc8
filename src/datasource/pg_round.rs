//! PostgreSQL's rounding to integers:
//!
//! * `round(x)` of a double as PostgreSQL's `round(double precision)`: to the nearest
//!   integer, halves to the even one (`round(2.5::float8)` is 2), where DataFusion's rounded
//!   halves away from zero. Numerics keep rounding halves away from zero (`round(2.5)` is 3,
//!   a numeric literal), as in PostgreSQL, and `round(x, digits)` stays DataFusion's.
//! * `floor`, `ceil` and `ceiling` of a numeric are numerics without decimals, as in
//!   PostgreSQL (`ceil(1.5)` is 2, DataFusion's kept the operand's scale: 2.0).
//!
//! This module registers functions in place of DataFusion's; it does not rewrite plans.

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Float32Type, Float64Type};
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
    let floor = ctx.udf("floor")?;
    ctx.register_udf(Wrapped::udf(floor, Whole { ceil: false }));
    // PostgreSQL's other name for ceil.
    let ceil = ctx.udf("ceil")?.as_ref().clone().with_aliases(["ceiling"]);
    ctx.register_udf(Wrapped::udf(Arc::new(ceil), Whole { ceil: true }));
    Ok(())
}

/// `floor` (or `ceil`) of a numeric as a numeric without decimals, of the integer part's
/// digits and one more (the ceiling of 9.5 is 10: DataFusion's kept the operand's type and
/// failed with an overflow there). Other types are DataFusion's.
#[derive(Debug)]
struct Whole {
    ceil: bool,
}

impl Around for Whole {
    fn returns(&self, inner: DataType) -> DataType {
        match inner {
            DataType::Decimal128(p, s) if s > 0 => {
                DataType::Decimal128((p.saturating_sub(s as u8) + 1).min(38), 0)
            }
            other => other,
        }
    }

    fn invoke(&self, inner: &ScalarUDF, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (DataType::Decimal128(p, 0), [value]) =
            (args.return_field.data_type(), args.args.as_slice())
        else {
            return inner.invoke_with_args(args);
        };
        let Some(DataType::Decimal128(_, scale @ 1..)) =
            args.arg_fields.first().map(|f| f.data_type())
        else {
            return inner.invoke_with_args(args);
        };
        let unit = 10i128.pow(u32::from(scale.unsigned_abs()));
        let ceil = self.ceil;
        let whole = move |v: i128| {
            if ceil {
                -(-v).div_euclid(unit)
            } else {
                v.div_euclid(unit)
            }
        };
        let array = value.to_array(args.number_rows)?;
        let out = array
            .as_primitive::<Decimal128Type>()
            .unary::<_, Decimal128Type>(whole)
            .with_precision_and_scale(*p, 0)?;
        Ok(match value {
            ColumnarValue::Scalar(_) => {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
            }
            ColumnarValue::Array(_) => ColumnarValue::Array(Arc::new(out)),
        })
    }
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
