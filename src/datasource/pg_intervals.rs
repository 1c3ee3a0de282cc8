//! PostgreSQL's interval functions that DataFusion lacks:
//!
//! * `age(a, b)` and `age(a)`: the difference of two timestamps in years, months and days
//!   (and a time), as PostgreSQL's `timestamp_age` borrows them; `age(a)` counts from today's
//!   midnight;
//! * `_pg_interval_mul(i, x)`: an interval times a number, with PostgreSQL's cascade of
//!   fractional months into days (30 a month) and of fractional days into time. DataFusion
//!   refuses `interval * number`; `session::pg_forms` writes `INTERVAL '1 day' * 7`, `7 *
//!   INTERVAL ...` and `INTERVAL ... / 2` as calls of it.
//!
//! It registers functions; it reads no tables.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, IntervalMonthDayNanoArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Float64Type, IntervalMonthDayNano, IntervalUnit, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{Signature, TypeSignature, Volatility};
use datafusion::prelude::SessionContext;

use super::array_function::ArrayFunction;

const INTERVAL: DataType = DataType::Interval(IntervalUnit::MonthDayNano);
const MICROS: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);
const NANOS_PER_MICRO: i64 = 1_000;
const SECONDS_PER_DAY: f64 = 86_400.0;
const DAYS_PER_MONTH: f64 = 30.0;

/// Adds the functions to `ctx`.
pub fn install(ctx: &SessionContext) {
    // Timestamps of any unit and dates; the body casts them.
    let age = Signature::one_of(
        vec![TypeSignature::Any(2), TypeSignature::Any(1)],
        Volatility::Stable,
    );
    ctx.register_udf(ArrayFunction::udf("age", age, INTERVAL, age_of));
    let mul = Signature::exact(vec![INTERVAL, DataType::Float64], Volatility::Immutable);
    ctx.register_udf(ArrayFunction::udf(
        "_pg_interval_mul",
        mul,
        INTERVAL,
        interval_mul_of,
    ));
}

/// `age(a, b)` of each row, or `age(a)` from today's midnight (UTC).
fn age_of(args: &[ArrayRef]) -> Result<ArrayRef> {
    let as_times = |a: &ArrayRef| -> Result<ArrayRef> { Ok(cast(a, &MICROS)?) };
    let (later, earlier) = match args {
        [a, b] => (Some(as_times(a)?), as_times(b)?),
        [b] => (None, as_times(b)?),
        _ => return exec_err!("age takes one or two timestamps"),
    };
    let earlier = earlier.as_primitive::<TimestampMicrosecondType>();
    let later = later
        .as_ref()
        .map(|l| l.as_primitive::<TimestampMicrosecondType>());
    let midnight = chrono::Utc::now().date_naive().and_hms_opt(0, 0, 0);
    let out: IntervalMonthDayNanoArray = (0..earlier.len())
        .map(|i| {
            let b = earlier
                .value_as_datetime(i)
                .filter(|_| earlier.is_valid(i))?;
            let a = match later {
                Some(l) => l.value_as_datetime(i).filter(|_| l.is_valid(i))?,
                None => midnight?,
            };
            Some(age(a, b))
        })
        .collect();
    Ok(Arc::new(out))
}

/// The days of the month of `t`.
fn days_in_month(t: &NaiveDateTime) -> i64 {
    let (y, m) = (t.year(), t.month());
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    match (next, NaiveDate::from_ymd_opt(y, m, 1)) {
        (Some(n), Some(f)) => (n - f).num_days(),
        _ => 30,
    }
}

/// `a - b` field by field, borrowing as PostgreSQL's `timestamp_age` does: a day borrowed
/// is the length of the earlier timestamp's month.
fn age(a: NaiveDateTime, b: NaiveDateTime) -> IntervalMonthDayNano {
    let negative = a < b;
    let (hi, lo) = if negative { (b, a) } else { (a, b) };
    let field = |t: &NaiveDateTime| {
        [
            t.year() as i64,
            t.month() as i64,
            t.day() as i64,
            t.hour() as i64,
            t.minute() as i64,
            t.second() as i64,
            (t.nanosecond() / 1000) as i64,
        ]
    };
    let (h, l) = (field(&hi), field(&lo));
    let mut f: [i64; 7] = std::array::from_fn(|k| h[k] - l[k]);
    // Borrow from the next larger field: microseconds, seconds, minutes, hours.
    for (k, size) in [(6, 1_000_000), (5, 60), (4, 60), (3, 24)] {
        if f[k] < 0 {
            f[k] += size;
            f[k - 1] -= 1;
        }
    }
    let [mut year, mut month, mut day, hour, minute, second, micro] = f;
    while day < 0 {
        day += days_in_month(&lo);
        month -= 1;
    }
    while month < 0 {
        month += 12;
        year -= 1;
    }
    let sign = if negative { -1 } else { 1 };
    let time = ((hour * 60 + minute) * 60 + second) * 1_000_000 + micro;
    IntervalMonthDayNano::new(
        (sign * (year * 12 + month)) as i32,
        (sign * day) as i32,
        sign * time * NANOS_PER_MICRO,
    )
}

/// `_pg_interval_mul(i, x)` of each row.
fn interval_mul_of(args: &[ArrayRef]) -> Result<ArrayRef> {
    let [i, x] = args else {
        return exec_err!("_pg_interval_mul takes an interval and a number");
    };
    let i = i.as_primitive::<datafusion::arrow::datatypes::IntervalMonthDayNanoType>();
    let x = x.as_primitive::<Float64Type>();
    let out: IntervalMonthDayNanoArray = i
        .iter()
        .zip(x.iter())
        .map(|(i, x)| Some(interval_mul(i?, x?)))
        .collect();
    Ok(Arc::new(out))
}

/// `span * factor` as PostgreSQL's `interval_mul`: whole months and days are kept, the
/// fraction of a month becomes days of 30, and the fraction of a day becomes time, each
/// rounded to microseconds on the way.
fn interval_mul(span: IntervalMonthDayNano, factor: f64) -> IntervalMonthDayNano {
    let micro_round = |x: f64| (x * 1e6).round_ties_even() / 1e6;
    let months = span.months as f64 * factor;
    let days = span.days as f64 * factor;
    let (whole_months, mut whole_days) = (months.trunc(), days.trunc());
    let month_days = micro_round((months - whole_months) * DAYS_PER_MONTH);
    let mut seconds =
        micro_round((days - whole_days + month_days - month_days.trunc()) * SECONDS_PER_DAY);
    if seconds.abs() >= SECONDS_PER_DAY {
        let spill = (seconds / SECONDS_PER_DAY).trunc();
        whole_days += spill;
        seconds -= spill * SECONDS_PER_DAY;
    }
    let micros = (span.nanoseconds as f64 / NANOS_PER_MICRO as f64 * factor + seconds * 1e6)
        .round_ties_even();
    IntervalMonthDayNano::new(
        whole_months as i32,
        (whole_days + month_days.trunc()) as i32,
        micros as i64 * NANOS_PER_MICRO,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn interval(months: i32, days: i32, seconds: f64) -> IntervalMonthDayNano {
        IntervalMonthDayNano::new(months, days, (seconds * 1e9) as i64)
    }

    #[test]
    fn ages_borrow_as_postgresql_does() {
        // Expected values are PostgreSQL 15's.
        let cases = [
            // 2 mons
            (
                "2024-03-01 00:00:00",
                "2024-01-01 00:00:00",
                interval(2, 0, 0.0),
            ),
            // 1 mon 1 day: January has 31 days
            (
                "2024-03-01 00:00:00",
                "2024-01-31 00:00:00",
                interval(1, 1, 0.0),
            ),
            // 1 year 11 mons 30 days 23:00:00
            (
                "2024-01-01 00:00:00",
                "2022-01-01 01:00:00",
                interval(23, 30, 82800.0),
            ),
            // -2 mons
            (
                "2024-01-01 00:00:00",
                "2024-03-01 00:00:00",
                interval(-2, 0, 0.0),
            ),
            // 1 mon 23:59:59
            (
                "2024-03-01 00:00:00",
                "2024-01-31 00:00:01",
                interval(1, 0, 86399.0),
            ),
            // -1 mons -1 days
            (
                "2024-01-31 00:00:00",
                "2024-03-01 00:00:00",
                interval(-1, -1, 0.0),
            ),
        ];
        for (a, b, expected) in cases {
            assert_eq!(age(at(a), at(b)), expected, "age({a}, {b})");
        }
    }

    #[test]
    fn intervals_multiply_with_postgresql_cascade() {
        // interval '1 day' * 2 = 2 days; interval '1 mon' * 1.5 = 1 mon 15 days;
        // interval '1 day' * 1.5 = 1 day 12:00:00; interval '1 hour' / 4 = 00:15:00.
        assert_eq!(interval_mul(interval(0, 1, 0.0), 2.0), interval(0, 2, 0.0));
        assert_eq!(interval_mul(interval(1, 0, 0.0), 1.5), interval(1, 15, 0.0));
        assert_eq!(
            interval_mul(interval(0, 1, 0.0), 1.5),
            interval(0, 1, 43200.0)
        );
        assert_eq!(
            interval_mul(interval(0, 0, 3600.0), 0.25),
            interval(0, 0, 900.0)
        );
        assert_eq!(
            interval_mul(interval(0, 3, 0.0), -1.0),
            interval(0, -3, 0.0)
        );
        // interval '1 mon' / 7 = 4 days 06:51:25.6896
        assert_eq!(
            interval_mul(interval(1, 0, 0.0), 1.0 / 7.0),
            IntervalMonthDayNano::new(0, 4, 24_685_689_600_000)
        );
    }
}
