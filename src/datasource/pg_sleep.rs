//! `pg_sleep(seconds)` and `pg_sleep_for(interval)`: PostgreSQL's way for a script to wait,
//! for instance until a model has trained. They are asynchronous functions (DataFusion's
//! `AsyncScalarUDF`), so a statement that waits holds no thread, and a cancel request ends
//! the wait. As in PostgreSQL, each row waits in turn (the waits of a batch add up), a NULL,
//! zero or negative time does not wait, and the result is NULL (PostgreSQL's `void`). This
//! module registers the functions; it does nothing else.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{DataType, Float64Type, IntervalMonthDayNanoType, IntervalUnit};
use datafusion::common::{Result as DfResult, ScalarValue, exec_err};
use datafusion::logical_expr::async_udf::{AsyncScalarUDF, AsyncScalarUDFImpl};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

/// Adds `pg_sleep` and `pg_sleep_for` to `ctx`.
pub fn install(ctx: &SessionContext) {
    for unit in [Unit::Seconds, Unit::Interval] {
        let udf = AsyncScalarUDF::new(Arc::new(Sleep::new(unit)));
        ctx.register_udf(udf.into_scalar_udf());
    }
}

/// How the argument gives the time to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Unit {
    /// `pg_sleep(double precision)`.
    Seconds,
    /// `pg_sleep_for(interval)`, a month being 30 days as in PostgreSQL.
    Interval,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Sleep {
    unit: Unit,
    signature: Signature,
}

impl Sleep {
    fn new(unit: Unit) -> Self {
        let argument = match unit {
            Unit::Seconds => DataType::Float64,
            Unit::Interval => DataType::Interval(IntervalUnit::MonthDayNano),
        };
        Sleep {
            unit,
            signature: Signature::exact(vec![argument], Volatility::Volatile),
        }
    }

    /// The seconds to wait for each row of `value`, NULLs as zero.
    fn seconds(&self, value: &ColumnarValue) -> DfResult<Vec<f64>> {
        let array = value.to_array(1)?;
        Ok(match self.unit {
            Unit::Seconds => array
                .as_primitive::<Float64Type>()
                .iter()
                .map(|s| s.unwrap_or(0.0))
                .collect(),
            Unit::Interval => array
                .as_primitive::<IntervalMonthDayNanoType>()
                .iter()
                .map(|i| {
                    i.map_or(0.0, |i| {
                        (i.months as f64 * 30.0 + i.days as f64) * 86_400.0
                            + i.nanoseconds as f64 / 1e9
                    })
                })
                .collect(),
        })
    }
}

impl ScalarUDFImpl for Sleep {
    fn name(&self) -> &str {
        match self.unit {
            Unit::Seconds => "pg_sleep",
            Unit::Interval => "pg_sleep_for",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Null)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        exec_err!("{} runs asynchronously", self.name())
    }
}

#[async_trait]
impl AsyncScalarUDFImpl for Sleep {
    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return exec_err!("{} takes one argument", self.name());
        };
        let waits = self.seconds(value)?;
        let mut total: f64 = waits.iter().filter(|s| **s > 0.0).sum();
        // A constant argument waits once for each row.
        if let ColumnarValue::Scalar(_) = value {
            total *= args.number_rows as f64;
        }
        match Duration::try_from_secs_f64(total) {
            Ok(wait) => tokio::time::sleep(wait).await,
            // NaN never waits; an infinite or unrepresentable time waits until cancelled.
            Err(_) if total.is_nan() => {}
            Err(_) => std::future::pending::<()>().await,
        }
        Ok(ColumnarValue::Array(
            ScalarValue::Null.to_array_of_size(args.number_rows)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Array, IntervalMonthDayNanoArray};
    use datafusion::arrow::datatypes::IntervalMonthDayNano;

    #[test]
    fn waits_add_up_over_rows_and_nulls_wait_nothing() {
        let sleep = Sleep::new(Unit::Seconds);
        let rows = ColumnarValue::Array(Arc::new(Float64Array::from(vec![
            Some(0.5),
            None,
            Some(-3.0),
            Some(0.25),
        ])));
        assert_eq!(sleep.seconds(&rows).unwrap(), [0.5, 0.0, -3.0, 0.25]);
    }

    #[test]
    fn an_interval_counts_months_as_30_days() {
        let sleep = Sleep::new(Unit::Interval);
        let one = IntervalMonthDayNano::new(1, 1, 1_500_000_000);
        let rows = ColumnarValue::Array(Arc::new(IntervalMonthDayNanoArray::from(vec![
            Some(one),
            None,
        ])));
        assert_eq!(sleep.seconds(&rows).unwrap(), [31.0 * 86_400.0 + 1.5, 0.0]);
    }
}
