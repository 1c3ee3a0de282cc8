//! PostgreSQL's errors for mathematical functions outside their domain. DataFusion's answer
//! NaN or an infinity where PostgreSQL refuses (`ln(0)` was `-Infinity`, `ln(-1)` and
//! `power(-8, 0.5)` `NaN`, `exp(1000)` `Infinity`), so a wrong value travelled on into sums
//! and averages. Each function here is DataFusion's own, with its name, signature and result,
//! behind a check of its arguments and result that raises PostgreSQL's error:
//!
//! * `ln`, `log` and `log10` of zero or of a negative number: 2201E;
//! * `sqrt` of a negative number, `power` of zero to a negative power or of a negative
//!   number to a fractional one: 2201F;
//! * `exp` and `power` whose result leaves the range of a double from finite arguments, and
//!   `asin` or `acos` of a number beyond [-1, 1]: 22003.
//!
//! NaN and infinite arguments pass, as in PostgreSQL (`ln('NaN')` is NaN). Division by zero
//! of doubles is `checked_arithmetic`'s. This module registers functions; it reads no tables.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF};
use datafusion::prelude::SessionContext;

use super::wrapped_function::{Around, Wrapped};
use crate::error::Error;

/// Checks one row, as doubles: its arguments and, once computed, its result. `None` passes.
/// Arguments are checked before DataFusion's function runs (some of them fail on their own,
/// with other words), the result after.
type Check = fn(&[f64], Option<f64>) -> Option<Error>;

/// Puts the checked functions in place of DataFusion's.
pub fn install(ctx: &SessionContext) -> Result<()> {
    use datafusion::execution::FunctionRegistry;
    let checks: [(&str, Check); 8] = [
        ("ln", logarithm),
        ("log", logarithm),
        ("log10", logarithm),
        ("sqrt", square_root),
        ("power", power),
        ("exp", exponential),
        ("asin", inverse_sine_or_cosine),
        ("acos", inverse_sine_or_cosine),
    ];
    for (name, check) in checks {
        let inner = ctx.udf(name)?;
        ctx.register_udf(Wrapped::udf(inner, Checked { check }));
    }
    Ok(())
}

fn invalid_log(message: &str) -> Error {
    Error::new("2201E", message)
}

fn invalid_power(message: &str) -> Error {
    Error::new("2201F", message)
}

fn out_of_range(message: &str) -> Error {
    Error::new(crate::error::sqlstate::NUMERIC_VALUE_OUT_OF_RANGE, message)
}

/// `ln(x)`, `log10(x)`, `log(x)` and `log(base, x)`: every argument positive, and a base
/// other than 1 (PostgreSQL divides by its logarithm).
fn logarithm(args: &[f64], _result: Option<f64>) -> Option<Error> {
    for &a in args {
        if a == 0.0 {
            return Some(invalid_log("cannot take logarithm of zero"));
        }
        if a < 0.0 {
            return Some(invalid_log("cannot take logarithm of a negative number"));
        }
    }
    match args {
        [base, _] if *base == 1.0 => Some(Error::new("22012", "division by zero")),
        _ => None,
    }
}

fn square_root(args: &[f64], _result: Option<f64>) -> Option<Error> {
    (args.first().is_some_and(|x| *x < 0.0))
        .then(|| invalid_power("cannot take square root of a negative number"))
}

fn power(args: &[f64], result: Option<f64>) -> Option<Error> {
    let [x, y] = args else { return None };
    if *x == 0.0 && *y < 0.0 {
        return Some(invalid_power(
            "zero raised to a negative power is undefined",
        ));
    }
    if *x < 0.0 && y.is_finite() && y.fract() != 0.0 {
        return Some(invalid_power(
            "a negative number raised to a non-integer power yields a complex result",
        ));
    }
    let result = result?;
    if x.is_finite() && y.is_finite() {
        if result.is_infinite() {
            return Some(out_of_range("value out of range: overflow"));
        }
        if result == 0.0 && *x != 0.0 {
            return Some(out_of_range("value out of range: underflow"));
        }
    }
    None
}

fn exponential(args: &[f64], result: Option<f64>) -> Option<Error> {
    let result = result?;
    if !args.first().is_some_and(|x| x.is_finite()) {
        return None;
    }
    if result.is_infinite() {
        Some(out_of_range("value out of range: overflow"))
    } else if result == 0.0 {
        Some(out_of_range("value out of range: underflow"))
    } else {
        None
    }
}

fn inverse_sine_or_cosine(args: &[f64], _result: Option<f64>) -> Option<Error> {
    (args.first().is_some_and(|x| x.abs() > 1.0)).then(|| out_of_range("input is out of range"))
}

/// The check of every row around one of DataFusion's functions.
#[derive(Debug)]
struct Checked {
    check: Check,
}

/// `values` as doubles, or `None` if they are not numbers.
fn doubles(values: &ArrayRef) -> Result<Option<ArrayRef>> {
    let t = values.data_type();
    if !(t.is_numeric() || t.is_null()) {
        return Ok(None);
    }
    Ok(Some(cast(values, &DataType::Float64)?))
}

impl Around for Checked {
    fn invoke(&self, inner: &ScalarUDF, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let mut inputs = Vec::with_capacity(args.args.len());
        for a in &args.args {
            match doubles(&a.to_array(rows)?)? {
                Some(d) => inputs.push(d),
                None => return inner.invoke_with_args(args),
            }
        }
        self.check_rows(&inputs, None)?;
        let result = inner.invoke_with_args(args)?;
        if let Some(out) = doubles(&result.to_array(rows)?)? {
            self.check_rows(&inputs, Some(&out))?;
        }
        Ok(result)
    }
}

impl Checked {
    /// Checks every row of `inputs` (doubles) without a result, or with `result`'s.
    fn check_rows(&self, inputs: &[ArrayRef], result: Option<&ArrayRef>) -> Result<()> {
        let columns: Vec<_> = inputs
            .iter()
            .map(|c| c.as_primitive::<Float64Type>())
            .collect();
        let result = result.map(|r| r.as_primitive::<Float64Type>());
        let rows = columns.first().map_or(0, |c| c.len());
        let mut row_args = Vec::with_capacity(columns.len());
        for row in 0..rows {
            if columns.iter().any(|c| c.is_null(row)) || result.is_some_and(|r| r.is_null(row)) {
                continue;
            }
            row_args.clear();
            row_args.extend(columns.iter().map(|c| c.value(row)));
            if let Some(e) = (self.check)(&row_args, result.map(|r| r.value(row))) {
                return Err(e.into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: Option<Error>) -> Option<&'static str> {
        e.map(|e| e.code)
    }

    /// Codes checked against PostgreSQL 15.
    #[test]
    fn arguments_outside_the_domain_raise_postgresql_errors() {
        assert_eq!(
            code(logarithm(&[0.0], Some(f64::NEG_INFINITY))),
            Some("2201E")
        );
        assert_eq!(code(logarithm(&[-1.0], Some(f64::NAN))), Some("2201E"));
        assert_eq!(code(logarithm(&[2.0], Some(0.69))), None);
        assert_eq!(code(logarithm(&[f64::NAN], Some(f64::NAN))), None);
        assert_eq!(
            code(logarithm(&[1.0, 8.0], Some(f64::INFINITY))),
            Some("22012")
        );
        assert_eq!(code(logarithm(&[2.0, 8.0], Some(3.0))), None);
        assert_eq!(code(square_root(&[-1.0], Some(f64::NAN))), Some("2201F"));
        assert_eq!(code(square_root(&[0.0], Some(0.0))), None);
        assert_eq!(
            code(power(&[0.0, -1.0], Some(f64::INFINITY))),
            Some("2201F")
        );
        assert_eq!(code(power(&[-8.0, 0.5], Some(f64::NAN))), Some("2201F"));
        assert_eq!(code(power(&[-8.0, 3.0], Some(-512.0))), None);
        assert_eq!(
            code(power(&[10.0, 400.0], Some(f64::INFINITY))),
            Some("22003")
        );
        assert_eq!(code(power(&[10.0, -400.0], Some(0.0))), Some("22003"));
        assert_eq!(code(power(&[0.0, 2.0], Some(0.0))), None);
        assert_eq!(
            code(exponential(&[1000.0], Some(f64::INFINITY))),
            Some("22003")
        );
        assert_eq!(code(exponential(&[-1000.0], Some(0.0))), Some("22003"));
        assert_eq!(
            code(exponential(&[f64::INFINITY], Some(f64::INFINITY))),
            None
        );
        assert_eq!(
            code(inverse_sine_or_cosine(&[1.5], Some(f64::NAN))),
            Some("22003")
        );
        assert_eq!(code(inverse_sine_or_cosine(&[1.0], Some(0.0))), None);
    }

    /// Before the function runs, only the arguments can fail.
    #[test]
    fn arguments_are_checked_before_the_result() {
        assert_eq!(code(square_root(&[-1.0], None)), Some("2201F"));
        assert_eq!(code(power(&[0.0, -1.0], None)), Some("2201F"));
        assert_eq!(code(power(&[10.0, 400.0], None)), None);
        assert_eq!(code(exponential(&[1000.0], None)), None);
    }
}
