//! PostgreSQL's SQL functions where DataFusion lacks them or reads them otherwise:
//!
//! * other names of DataFusion's own functions: `variance` (`var_samp`), `every`
//!   (`bool_and`), `sign` (`signum`), `gen_random_uuid` (`uuid`);
//! * `mod`, `div`, `width_bucket`, `quote_literal`, `quote_nullable` and `format` (`%s`, `%I`, `%L`, `%%`, with
//!   positions `%2$s` and widths `%-10s`);
//! * `to_char` of dates and timestamps with PostgreSQL's templates (`YYYY-MM-DD`,
//!   `FMMonth`); DataFusion's takes chrono's `%Y-%m-%d` and printed a PostgreSQL template
//!   back unchanged, a silent wrong answer; and of numbers (`FM9,999.00`, see
//!   `number_template`);
//! * `_pg_cast_named`, which gives a cast in an aggregate's arguments a name of its own
//!   (`session::pg_forms`);
//! * `_pg_numeric(x)`, a cast to `numeric` without precision (`session::pg_forms`): a
//!   numeric keeps its scale and an integer has none (DataFusion's `numeric` has 10
//!   decimals: `5::numeric` was `5.0000000000`); other values get those 10 decimals;
//! * `to_date` and `to_timestamp` of text with a PostgreSQL template, which is translated
//!   to chrono's for DataFusion's functions (`to_timestamp` of a number is DataFusion's).
//!
//! It registers functions; it reads no tables.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::numeric::{div, rem};
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::{Result as DfResult, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::SessionContext;

use super::array_function::{ArrayFunction, Body};
use super::datetime_template::Template;
use super::wrapped_function::{Around, Wrapped};

/// Adds the functions to `ctx`.
pub fn install(ctx: &SessionContext) -> DfResult<()> {
    use datafusion::execution::FunctionRegistry;
    for (name, alias) in [("var_samp", "variance"), ("bool_and", "every")] {
        let f = ctx.udaf(name)?;
        ctx.register_udaf(f.as_ref().clone().with_aliases([alias]));
    }
    for (name, alias) in [("signum", "sign"), ("uuid", "gen_random_uuid")] {
        let f = ctx.udf(name)?;
        ctx.register_udf(f.as_ref().clone().with_aliases([alias]));
    }
    ctx.register_udf(ScalarUDF::from(PairFunction::modulo()));
    ctx.register_udf(ScalarUDF::from(PairFunction::quotient()));
    let bucket = Signature::exact(
        vec![
            DataType::Float64,
            DataType::Float64,
            DataType::Float64,
            DataType::Int64,
        ],
        Volatility::Immutable,
    );
    ctx.register_udf(ArrayFunction::udf(
        "width_bucket",
        bucket,
        DataType::Int32,
        width_bucket_of,
    ));
    for (name, body) in [
        ("quote_literal", quote_literal_of as Body),
        ("quote_nullable", quote_nullable_of),
    ] {
        let any = Signature::any(1, Volatility::Immutable);
        ctx.register_udf(ArrayFunction::udf(name, any, DataType::Utf8, body));
    }
    let variadic = Signature::variadic_any(Volatility::Immutable);
    ctx.register_udf(ArrayFunction::udf(
        "format",
        variadic,
        DataType::Utf8,
        format_of,
    ));
    ctx.register_udf(ScalarUDF::from(ToChar::new()));
    ctx.register_udf(ScalarUDF::from(Retyped::cast_named()));
    ctx.register_udf(ScalarUDF::from(Retyped::numeric()));
    for name in ["to_date", "to_timestamp"] {
        let inner = ctx.udf(name)?;
        ctx.register_udf(Wrapped::udf(inner, WithTemplate));
    }
    Ok(())
}

/// A function that answers its first argument in the type `target` gives it (the same type,
/// or a cast):
/// * `_pg_cast_named(value, 'type')`: the value. `session::pg_forms` puts it around a cast
///   in an aggregate's arguments, which DataFusion names after the cast's operand: with the
///   type in its name, `avg(x)` and `avg(x::float8)` no longer share one.
/// * `_pg_numeric(x)`: `x` as a numeric, in the type [`numeric_of`] gives it.
#[derive(Debug)]
struct Retyped {
    name: &'static str,
    signature: Signature,
    target: fn(&DataType) -> DataType,
}

impl Retyped {
    fn cast_named() -> Self {
        Retyped {
            name: "_pg_cast_named",
            signature: Signature::any(2, Volatility::Immutable),
            target: DataType::clone,
        }
    }

    fn numeric() -> Self {
        Retyped {
            name: "_pg_numeric",
            signature: Signature::any(1, Volatility::Immutable),
            target: numeric_of,
        }
    }
}

// Functions are told apart by name (the function pointer is no identity).
impl PartialEq for Retyped {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Retyped {}

impl std::hash::Hash for Retyped {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

/// The type of a cast to `numeric` without precision: a numeric keeps its type; an integer
/// has no decimals, with room for every value of its type; anything else has DataFusion's 10
/// decimals.
fn numeric_of(t: &DataType) -> DataType {
    match t {
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => t.clone(),
        DataType::Int8 | DataType::UInt8 => DataType::Decimal128(3, 0),
        DataType::Int16 | DataType::UInt16 => DataType::Decimal128(5, 0),
        DataType::Int32 | DataType::UInt32 => DataType::Decimal128(10, 0),
        DataType::Int64 | DataType::UInt64 => DataType::Decimal128(20, 0),
        _ => DataType::Decimal128(38, 10),
    }
}

impl ScalarUDFImpl for Retyped {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DfResult<DataType> {
        match args.first() {
            Some(t) => Ok((self.target)(t)),
            None => plan_err!("{} takes a value", self.name),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let Some(value) = args.args.into_iter().next() else {
            return exec_err!("{} takes a value", self.name);
        };
        let target = args.return_field.data_type();
        if &value.data_type() == target {
            return Ok(value);
        }
        match value {
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(cast(&a, target)?)),
            ColumnarValue::Scalar(s) => Ok(ColumnarValue::Scalar(s.cast_to(target)?)),
        }
    }
}

/// A function of two numbers of one type (bigint or double) that answers that type: `mod`
/// and `div`.
#[derive(Debug)]
struct PairFunction {
    name: &'static str,
    signature: Signature,
    body: fn(&ArrayRef, &ArrayRef) -> DfResult<ArrayRef>,
}

impl PairFunction {
    fn new(name: &'static str, body: fn(&ArrayRef, &ArrayRef) -> DfResult<ArrayRef>) -> Self {
        let pair = |t: DataType| TypeSignature::Exact(vec![t.clone(), t]);
        PairFunction {
            name,
            signature: Signature::one_of(
                vec![pair(DataType::Int64), pair(DataType::Float64)],
                Volatility::Immutable,
            ),
            body,
        }
    }

    /// `mod(a, b)`: the remainder of `a / b`, with the sign of `a`.
    fn modulo() -> Self {
        PairFunction::new("mod", |a, b| Ok(rem(a, b)?))
    }

    /// `div(a, b)`: `a / b` truncated toward zero, as PostgreSQL's integer quotient.
    fn quotient() -> Self {
        PairFunction::new("div", |a, b| {
            let q = div(a, b)?;
            Ok(match q.data_type() {
                DataType::Float64 => Arc::new(
                    q.as_primitive::<Float64Type>()
                        .unary::<_, Float64Type>(f64::trunc),
                ),
                _ => q,
            })
        })
    }
}

/// Functions are told apart by name, as DataFusion's registry does.
impl PartialEq for PairFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for PairFunction {}

impl std::hash::Hash for PairFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for PairFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DfResult<DataType> {
        Ok(args.first().cloned().unwrap_or(DataType::Int64))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let [a, b] = args.args.as_slice() else {
            return exec_err!("{} takes two arguments", self.name);
        };
        Ok(ColumnarValue::Array((self.body)(
            &a.to_array(rows)?,
            &b.to_array(rows)?,
        )?))
    }
}

/// `width_bucket(x, low, high, count)`: which of `count` equal buckets of `[low, high)` holds
/// `x`: 0 below them, `count + 1` above, as in PostgreSQL (buckets count down when `low >
/// high`).
fn width_bucket_of(args: &[ArrayRef]) -> DfResult<ArrayRef> {
    let [x, low, high, count] = args else {
        return exec_err!("width_bucket takes a value, two bounds and a count");
    };
    let (x, low, high) = (
        x.as_primitive::<Float64Type>(),
        low.as_primitive::<Float64Type>(),
        high.as_primitive::<Float64Type>(),
    );
    let count = count.as_primitive::<Int64Type>();
    let mut out = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        if [
            x.is_null(i),
            low.is_null(i),
            high.is_null(i),
            count.is_null(i),
        ]
        .contains(&true)
        {
            out.push(None);
            continue;
        }
        let (v, lo, hi, n) = (x.value(i), low.value(i), high.value(i), count.value(i));
        if n <= 0 {
            return Err(invalid_argument("count must be greater than zero"));
        }
        if lo == hi || !lo.is_finite() || !hi.is_finite() {
            return Err(invalid_argument(
                "lower bound cannot equal upper bound, and neither can be infinite",
            ));
        }
        let bucket = if lo < hi {
            if v < lo {
                0
            } else if v >= hi {
                n + 1
            } else {
                ((v - lo) / (hi - lo) * n as f64) as i64 + 1
            }
        } else if v > lo {
            0
        } else if v <= hi {
            n + 1
        } else {
            ((lo - v) / (lo - hi) * n as f64) as i64 + 1
        };
        out.push(Some(bucket.min(n + 1) as i32));
    }
    Ok(Arc::new(datafusion::arrow::array::Int32Array::from(out)))
}

/// A 2201G error of `width_bucket`, as PostgreSQL's.
fn invalid_argument(what: &str) -> datafusion::error::DataFusionError {
    crate::error::Error::new("2201G", format!("width_bucket: {what}")).into()
}

/// `quote_literal(x)`: `x` as a string literal (`'it''s'`; `E'...'` when it has
/// backslashes); NULL for NULL.
fn quote_literal_of(args: &[ArrayRef]) -> DfResult<ArrayRef> {
    quoted(args, false)
}

/// `quote_nullable(x)`: as `quote_literal`, but the word NULL for NULL.
fn quote_nullable_of(args: &[ArrayRef]) -> DfResult<ArrayRef> {
    quoted(args, true)
}

fn quoted(args: &[ArrayRef], nullable: bool) -> DfResult<ArrayRef> {
    let [value] = args else {
        return exec_err!("quote_literal and quote_nullable take one argument");
    };
    let mut out = StringBuilder::new();
    for text in texts(value)? {
        match text {
            Some(t) => out.append_value(quote_literal(&t)),
            None if nullable => out.append_value("NULL"),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `text` quoted as a PostgreSQL string literal.
fn quote_literal(text: &str) -> String {
    let body = text.replace('\'', "''");
    if body.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

/// `name` as an identifier: quoted unless it is lower case letters, digits and underscores,
/// not starting with a digit.
fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// The rows of `values` as PostgreSQL prints them (booleans as `t` and `f`), NULL as None.
fn texts(values: &ArrayRef) -> DfResult<Vec<Option<String>>> {
    if let DataType::Boolean = values.data_type() {
        return Ok(values
            .as_boolean()
            .iter()
            .map(|b| b.map(|b| if b { "t" } else { "f" }.to_string()))
            .collect());
    }
    let strings = cast(values, &DataType::Utf8)?;
    Ok(strings
        .as_string::<i32>()
        .iter()
        .map(|s| s.map(str::to_string))
        .collect())
}

/// One row of `format`: `template` with its `%` specifiers filled from `args`.
fn format_row(template: &str, args: &[Option<String>]) -> DfResult<String> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    let mut next_arg = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        // %[position$][-][width]type
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let mut position = None;
        if chars.peek() == Some(&'$') {
            chars.next();
            match digits.parse::<usize>() {
                Ok(p) if p > 0 => position = Some(p - 1),
                _ => {
                    return exec_err!(
                        "format specifies argument 0, but arguments are numbered from 1"
                    );
                }
            }
            digits.clear();
        }
        let left = chars.peek() == Some(&'-');
        if left {
            chars.next();
        }
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let width: usize = digits.parse().unwrap_or(0);
        let Some(kind) = chars.next() else {
            return exec_err!("unterminated format() type specifier");
        };
        let index = position.unwrap_or(next_arg);
        next_arg = index + 1;
        let Some(value) = args.get(index) else {
            return exec_err!("too few arguments for format()");
        };
        let text = match (kind, value) {
            ('s', Some(v)) => v.clone(),
            ('s', None) => String::new(),
            ('I', Some(v)) => quote_ident(v),
            ('I', None) => {
                return exec_err!("null values cannot be formatted as an SQL identifier");
            }
            ('L', Some(v)) => quote_literal(v),
            ('L', None) => "NULL".to_string(),
            (other, _) => {
                return exec_err!(
                    "unrecognized format() type specifier \"{other}\"; use %s, %I or %L"
                );
            }
        };
        let pad = width.saturating_sub(text.chars().count());
        if left {
            out.push_str(&text);
            out.extend(std::iter::repeat_n(' ', pad));
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&text);
        }
    }
    Ok(out)
}

/// `format(template, args...)`, as PostgreSQL's.
fn format_of(args: &[ArrayRef]) -> DfResult<ArrayRef> {
    let Some((template, values)) = args.split_first() else {
        return plan_err!("format takes a template and the values to put in it");
    };
    let templates = texts(template)?;
    let columns = values.iter().map(texts).collect::<DfResult<Vec<_>>>()?;
    let mut out = StringBuilder::new();
    let mut row_args = Vec::with_capacity(columns.len());
    for (row, template) in templates.iter().enumerate() {
        let Some(template) = template else {
            out.append_null();
            continue;
        };
        row_args.clear();
        row_args.extend(columns.iter().map(|c| c[row].clone()));
        out.append_value(format_row(template, &row_args)?);
    }
    Ok(Arc::new(out.finish()))
}

/// `to_char(date or timestamp, template)` with PostgreSQL's templates.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ToChar {
    signature: Signature,
}

impl ToChar {
    fn new() -> Self {
        ToChar {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ToChar {
    fn name(&self) -> &str {
        "to_char"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DfResult<DataType> {
        match args.first() {
            Some(
                DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) | DataType::Null,
            ) => Ok(DataType::Utf8),
            Some(t) if t.is_numeric() => Ok(DataType::Utf8),
            Some(other) => plan_err!(
                "to_char takes a number, a date or a timestamp and a template, not {other}"
            ),
            None => plan_err!("to_char takes a value and a template"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let [value, template] = args.args.as_slice() else {
            return exec_err!("to_char takes a value and a template");
        };
        let value = value.to_array(rows)?;
        // One template for all rows, or a template per row.
        let template_texts = match template {
            ColumnarValue::Scalar(s) => vec![match s {
                ScalarValue::Utf8(t) | ScalarValue::Utf8View(t) | ScalarValue::LargeUtf8(t) => {
                    t.clone()
                }
                ScalarValue::Null => None,
                other => return exec_err!("to_char's template is text, not {}", other.data_type()),
            }],
            ColumnarValue::Array(a) => texts(a)?,
        };
        if value.data_type().is_numeric() {
            return to_char_numbers(&value, &template_texts);
        }
        // PostgreSQL prints the zone of a timestamp with time zone, and none for one without.
        let zone = match value.data_type() {
            DataType::Timestamp(_, Some(_)) => "UTC",
            _ => "",
        };
        let micros = cast(&value, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
        let micros = micros.as_primitive::<TimestampMicrosecondType>();
        let templates: Vec<Option<Template>> = template_texts
            .iter()
            .map(|t| t.as_deref().map(Template::parse))
            .collect();
        let mut out = StringBuilder::new();
        for (row, micros) in micros.iter().enumerate() {
            let template = templates
                .get(row)
                .or(templates.first())
                .and_then(Option::as_ref);
            let time = micros.and_then(chrono::DateTime::from_timestamp_micros);
            match (time, template) {
                (Some(t), Some(template)) => {
                    out.append_value(template.format(&t.naive_utc(), zone))
                }
                _ => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `to_char(number, template)` of each row ([`super::number_template`]): integers and
/// numerics exactly, doubles as C's printf rounds them.
fn to_char_numbers(values: &ArrayRef, templates: &[Option<String>]) -> DfResult<ColumnarValue> {
    use super::number_template::{Digits, NumberTemplate};
    use datafusion::arrow::datatypes::Decimal128Type;
    let (values, scale) = match values.data_type() {
        DataType::Decimal128(_, s) => (values.clone(), Some(*s)),
        t if t.is_integer() => (cast(values, &DataType::Decimal128(38, 0))?, Some(0)),
        _ => (cast(values, &DataType::Float64)?, None),
    };
    let mut parsed: Option<(&str, NumberTemplate)> = None;
    let mut out = StringBuilder::new();
    for row in 0..values.len() {
        let template = templates
            .get(row)
            .or(templates.first())
            .and_then(Option::as_deref);
        let (Some(template), true) = (template, values.is_valid(row)) else {
            out.append_null();
            continue;
        };
        if parsed.as_ref().is_none_or(|(text, _)| *text != template) {
            let t = NumberTemplate::parse(template).map_err(|e| {
                crate::error::Error::not_supported(format!(
                    "to_char of a number does not take the template pattern \"{}\"",
                    e.0
                ))
                .with_hint("Use 9, 0, ., D, ,, G, S, MI, PL, SG, PR, EEEE, FM and quoted text.")
            })?;
            parsed = Some((template, t));
        }
        let Some((_, t)) = parsed.as_ref() else {
            continue;
        };
        let digits = match scale {
            Some(s) => Digits::from_decimal(
                values.as_primitive::<Decimal128Type>().value(row),
                s,
                t.decimals(),
                t.scientific(),
            ),
            None => Digits::from_double(
                values.as_primitive::<Float64Type>().value(row),
                t.decimals(),
                t.scientific(),
            ),
        };
        out.append_value(t.format(&digits));
    }
    Ok(ColumnarValue::Array(Arc::new(out.finish())))
}

/// DataFusion's `to_date` or `to_timestamp`, reading text with PostgreSQL's template: the
/// templates after the first argument are translated to chrono's formats.
#[derive(Debug)]
struct WithTemplate;

impl WithTemplate {
    fn chrono(inner: &ScalarUDF, template: &str) -> DfResult<String> {
        match Template::parse(template).chrono_format() {
            Some(f) => Ok(f),
            None => exec_err!(
                "{} cannot read the template \"{template}\"; use YYYY, MM, DD, HH24, MI, SS, \
                 Mon, Month and literal text",
                inner.name()
            ),
        }
    }
}

impl Around for WithTemplate {
    fn invoke(&self, inner: &ScalarUDF, mut args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let text_input = args.args.first().is_some_and(|a| {
            matches!(
                a.data_type(),
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
            )
        });
        if text_input {
            for arg in args.args.iter_mut().skip(1) {
                *arg = match &*arg {
                    ColumnarValue::Scalar(
                        ScalarValue::Utf8(Some(t))
                        | ScalarValue::Utf8View(Some(t))
                        | ScalarValue::LargeUtf8(Some(t)),
                    ) => ColumnarValue::Scalar(ScalarValue::Utf8(Some(Self::chrono(inner, t)?))),
                    ColumnarValue::Array(a) => {
                        let mut out = StringBuilder::new();
                        for t in texts(a)? {
                            match t {
                                Some(t) => out.append_value(Self::chrono(inner, &t)?),
                                None => out.append_null(),
                            }
                        }
                        ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef)
                    }
                    other => other.clone(),
                };
            }
        }
        inner.invoke_with_args(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(values: &[Option<&str>]) -> Vec<Option<String>> {
        values.iter().map(|v| v.map(str::to_string)).collect()
    }

    /// Results checked against PostgreSQL 15.
    #[test]
    fn format_fills_specifiers_as_postgresql_does() {
        let a = args(&[Some("x"), None, Some("My Col"), Some("it's")]);
        assert_eq!(
            format_row("%s|%s|%I|%L", &a).unwrap(),
            "x||\"My Col\"|'it''s'"
        );
        assert_eq!(format_row("%2$L %1$s %s", &a).unwrap(), "NULL x ");
        assert_eq!(format_row("[%5s][%-5s]", &a).unwrap(), "[    x][     ]");
        assert_eq!(
            format_row("100%% %I", &args(&[Some("ok_1")])).unwrap(),
            "100% ok_1"
        );
        assert!(format_row("%s %s", &args(&[Some("a")])).is_err());
        assert!(format_row("%I", &args(&[None])).is_err());
        assert!(format_row("%x", &args(&[Some("a")])).is_err());
    }

    #[test]
    fn literals_are_quoted_as_postgresql_quotes_them() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("a\\b"), "E'a\\\\b'");
        assert_eq!(quote_ident("userId"), "\"userId\"");
        assert_eq!(quote_ident("user_id2"), "user_id2");
    }
}
