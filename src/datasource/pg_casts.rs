//! PostgreSQL's casts where DataFusion's differ, fixed by an analyzer rule that runs after
//! DataFusion's type coercion, so it also sees the casts DataFusion adds itself (an INSERT's
//! values into a column, a text literal compared with a timestamp):
//!
//! * A fractional number cast to an integer is rounded. DataFusion's casts truncate
//!   (`avg(rating)::int` of 3.7 was 3); PostgreSQL rounds a numeric half away from zero
//!   (3.5 becomes 4, -3.5 becomes -4) and a double to the nearest even (2.5 becomes 2).
//! * A text literal cast to a timestamp may leave out the seconds (`'2024-01-05 10:00'`),
//!   which Arrow's parser refuses.
//! * Floats, timestamps and times cast to text read as PostgreSQL prints them (`1`, `1e+20`,
//!   `Infinity`, `2024-01-05 10:00:00`, `2024-01-05 10:00:00+00`), also where DataFusion
//!   casts them itself (`'x' || 1.0`, `concat`): Arrow wrote `1.0`, `1e20`, `inf`,
//!   `2024-01-05T10:00:00` and `2024-01-05T10:00:00Z`.
//! * Text cast to `bytea` is read in PostgreSQL's hex or escape form (`'\x0102'` is two
//!   bytes, `super::bytea_input`); Arrow took the text's own bytes.
//!
//! This module changes plans only; it does not parse SQL.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue, internal_err};
use datafusion::logical_expr::expr::{Cast, TryCast};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarUDF, Volatility, create_udf,
};
use datafusion::optimizer::AnalyzerRule;

/// The analyzer rule.
#[derive(Debug)]
pub struct PgCasts {
    rint: Arc<ScalarUDF>,
    text: Arc<ScalarUDF>,
    bytea: Arc<ScalarUDF>,
}

impl PgCasts {
    pub fn new() -> Self {
        PgCasts {
            rint: Arc::new(rint()),
            text: Arc::new(pg_text()),
            bytea: Arc::new(super::bytea_input::udf()),
        }
    }

    /// `expr` with PostgreSQL's meaning, if it is a cast whose meaning differs.
    fn cast(&self, expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let expr = minutes_with_seconds(expr)?;
        if expr.transformed {
            return Ok(expr);
        }
        let expr = self.text_as_postgresql_prints(expr.data, schema)?;
        if expr.transformed {
            return Ok(expr);
        }
        let expr = self.bytea_from_text(expr.data, schema)?;
        if expr.transformed {
            return Ok(expr);
        }
        self.round_before_cast(expr.data, schema)
    }

    /// A cast of a float, a timestamp or a time to text, as
    /// `_pg_text(x)` cast to the string type wanted.
    fn text_as_postgresql_prints(
        &self,
        expr: Expr,
        schema: &DFSchema,
    ) -> Result<Transformed<Expr>> {
        let Some((inner, to)) = cast_parts(&expr) else {
            return Ok(Transformed::no(expr));
        };
        if !matches!(
            to,
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
        ) || !has_pg_text(&inner.get_type(schema)?)
        {
            return Ok(Transformed::no(expr));
        }
        let text = self.text.call(vec![inner.clone()]);
        Ok(Transformed::yes(if to == &DataType::Utf8 {
            text
        } else {
            text.cast_to(to, schema)?
        }))
    }

    /// A cast of text to bytes, as `_pg_bytea(x)` (PostgreSQL's bytea input) cast to the
    /// binary type wanted.
    fn bytea_from_text(&self, expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let Some((inner, to)) = cast_parts(&expr) else {
            return Ok(Transformed::no(expr));
        };
        // The target first: an expression that cannot be typed here (a column of another
        // node's) is left alone.
        let binary = matches!(
            to,
            DataType::Binary | DataType::BinaryView | DataType::LargeBinary
        );
        let text = || {
            inner.get_type(schema).is_ok_and(|t| {
                matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
            })
        };
        if !binary || !text() {
            return Ok(Transformed::no(expr));
        }
        let bytes = self.bytea.call(vec![inner.clone()]);
        Ok(Transformed::yes(if to == &DataType::Binary {
            bytes
        } else {
            bytes.cast_to(to, schema)?
        }))
    }

    /// `expr` rounded as PostgreSQL does when it is cast to an integer, if it is a cast of a
    /// fractional number to one.
    fn round_before_cast(&self, expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let Some((inner, to)) = cast_parts(&expr) else {
            return Ok(Transformed::no(expr));
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

impl AnalyzerRule for PgCasts {
    fn name(&self) -> &str {
        "recsql_pg_casts"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::plan_rewrite::rewrite_expressions(plan, |e, schema| self.cast(e, schema))
    }
}

/// What a cast (or TRY_CAST) casts, and to what.
fn cast_parts(expr: &Expr) -> Option<(&Expr, &DataType)> {
    match expr {
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
            Some((expr.as_ref(), field.data_type()))
        }
        _ => None,
    }
}

/// A cast of a text literal `YYYY-MM-DD HH:MM` to a timestamp, with `:00` seconds added.
fn minutes_with_seconds(expr: Expr) -> Result<Transformed<Expr>> {
    let Expr::Cast(Cast { expr: inner, field }) = &expr else {
        return Ok(Transformed::no(expr));
    };
    let Expr::Literal(ScalarValue::Utf8(Some(text)) | ScalarValue::Utf8View(Some(text)), _) =
        inner.as_ref()
    else {
        return Ok(Transformed::no(expr));
    };
    if !matches!(field.data_type(), DataType::Timestamp(..)) || !lacks_seconds(text.trim()) {
        return Ok(Transformed::no(expr));
    }
    let completed = format!("{}:00", text.trim());
    Ok(Transformed::yes(Expr::Cast(Cast::new_from_field(
        Box::new(Expr::Literal(ScalarValue::Utf8(Some(completed)), None)),
        field.clone(),
    ))))
}

/// Whether `text` is a date and a time of hours and minutes: `2024-01-05 10:00`.
fn lacks_seconds(text: &str) -> bool {
    let Some((date, time)) = text.split_once([' ', 'T']) else {
        return false;
    };
    let digits = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    let date_ok = matches!(date.split('-').collect::<Vec<_>>().as_slice(),
        [y, m, d] if digits(y, 4..=4) && digits(m, 1..=2) && digits(d, 1..=2));
    let time_ok = matches!(time.split(':').collect::<Vec<_>>().as_slice(),
        [h, m] if digits(h, 1..=2) && digits(m, 2..=2));
    date_ok && time_ok
}

/// Whether [`pg_text`] writes values of type `t`.
fn has_pg_text(t: &DataType) -> bool {
    use datafusion::arrow::datatypes::IntervalUnit;
    matches!(
        t,
        DataType::Float32
            | DataType::Float64
            | DataType::Timestamp(..)
            | DataType::Time32(_)
            | DataType::Time64(_)
            | DataType::Interval(IntervalUnit::MonthDayNano)
            | DataType::Duration(_)
    )
}

/// `_pg_text(x)`: a float, timestamp (with its offset if it has a zone) or time as
/// PostgreSQL prints it
/// ([`super::text_forms`]), with the default `extra_float_digits`.
fn pg_text() -> ScalarUDF {
    super::array_function::ArrayFunction::udf(
        "_pg_text",
        datafusion::logical_expr::Signature::any(1, Volatility::Immutable),
        DataType::Utf8,
        |args| {
            use super::text_forms::{float4_text, float8_text, interval_text, trim_fractions};
            use datafusion::arrow::array::{Array, StringArray};
            use datafusion::arrow::compute::cast;
            use datafusion::arrow::datatypes::Float32Type;
            use datafusion::arrow::datatypes::{
                DurationNanosecondType, IntervalMonthDayNanoType, IntervalUnit, TimeUnit,
            };
            use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
            let [a] = args else {
                return internal_err!("_pg_text takes one value");
            };
            let out: StringArray = match a.data_type() {
                DataType::Float64 => a
                    .as_primitive::<Float64Type>()
                    .iter()
                    .map(|v| v.map(|v| float8_text(v, 1)))
                    .collect(),
                DataType::Float32 => a
                    .as_primitive::<Float32Type>()
                    .iter()
                    .map(|v| v.map(|v| float4_text(v, 1)))
                    .collect(),
                DataType::Interval(IntervalUnit::MonthDayNano) => a
                    .as_primitive::<IntervalMonthDayNanoType>()
                    .iter()
                    .map(|v| v.map(|v| interval_text(v.months, v.days, v.nanoseconds)))
                    .collect(),
                // A difference of timestamps, with whole days apart, as PostgreSQL's.
                DataType::Duration(_) => {
                    let nanos = cast(a, &DataType::Duration(TimeUnit::Nanosecond))?;
                    nanos
                        .as_primitive::<DurationNanosecondType>()
                        .iter()
                        .map(|v| {
                            v.map(|v| {
                                let day = 86_400_000_000_000;
                                let days = i32::try_from(v / day).unwrap_or(i32::MAX);
                                interval_text(0, days, v % day)
                            })
                        })
                        .collect()
                }
                _ => {
                    // Arrow's ISO form (`2024-01-05T10:00:00.500`) with a space, six digits
                    // of fraction at most and none that are zeros.
                    // A timestamp with time zone ends in its offset, in hours where it is
                    // whole (`+00`, `+05:30`).
                    let options = FormatOptions::default()
                        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.6f"))
                        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.6f%:z"))
                        .with_time_format(Some("%H:%M:%S%.6f"));
                    let formatter = ArrayFormatter::try_new(a.as_ref(), &options)?;
                    let zoned = matches!(a.data_type(), DataType::Timestamp(_, Some(_)));
                    (0..a.len())
                        .map(|i| {
                            a.is_valid(i).then(|| {
                                let text = formatter.value(i).to_string();
                                let text = match text.strip_suffix(":00") {
                                    Some(hours) if zoned => hours.to_string(),
                                    _ => text,
                                };
                                trim_fractions(&text)
                            })
                        })
                        .collect()
                }
            };
            Ok(Arc::new(out))
        },
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dates_with_hours_and_minutes_lack_seconds() {
        assert!(lacks_seconds("2024-01-05 10:00"));
        assert!(lacks_seconds("2024-1-5T9:30"));
        assert!(!lacks_seconds("2024-01-05 10:00:00"));
        assert!(!lacks_seconds("2024-01-05"));
        assert!(!lacks_seconds("10:00"));
    }
}
