//! PostgreSQL's text forms of floating-point and time values, put in place of pgwire's in
//! text-format results: float8 `1024`, `1e+20`, `1e-05` and `Infinity` where pgwire writes
//! `1024.0`, `1e20`, `0.00001` and `inf`, and times without a zero fraction (`13:04:00`,
//! `13:04:00.5`) where pgwire always writes six digits. Clients that compare or parse text
//! (psql's output, JDBC's `Double.parseDouble`, BI tools) then see what PostgreSQL sends.
//!
//! It rewrites values that are already encoded as text, by their column's type; it never sees
//! binary values, never changes a column's type and holds no SQL semantics.

use std::sync::Arc;

use bytes::{Buf, BufMut, BytesMut};
use datafusion_postgres::arrow_pg::encoder::Encoder;
use pgwire::api::Type;
use pgwire::api::results::{CopyEncoder, FieldFormat, FieldInfo};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::CopyData;
use pgwire::messages::data::DataRow;
use pgwire::types::ToSqlText;
use postgres_types::{IsNull, ToSql};

use crate::datasource::text_forms::{
    float4_text, float8_text, interval_signs, trim_fractions_into,
};

/// How the text of one column's values is rewritten.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TextForm {
    /// float8 or float4 values (one, or each element of an array), with the column's
    /// `extra_float_digits`.
    Float {
        double: bool,
        array: bool,
        extra: i8,
    },
    /// Values holding a time of day (time, timestamp, with or without time zone, interval, or
    /// arrays of them).
    Time,
    /// An interval: a time of day, and `+` on a field after a negative one.
    Interval,
    /// A timestamp with time zone (sent in UTC) in the session's `TimeZone`.
    Zoned(chrono_tz::Tz),
}

impl TextForm {
    /// The rewrite a column needs, if any: only text-format columns of the types above.
    pub fn of(field: &FieldInfo) -> Option<TextForm> {
        if field.format() != FieldFormat::Text {
            return None;
        }
        let extra = field.format_options().extra_float_digits;
        let ty = field.datatype();
        let float = |double, array| {
            Some(TextForm::Float {
                double,
                array,
                extra,
            })
        };
        match *ty {
            Type::FLOAT8 => float(true, false),
            Type::FLOAT4 => float(false, false),
            Type::FLOAT8_ARRAY => float(true, true),
            Type::FLOAT4_ARRAY => float(false, true),
            Type::TIMESTAMP
            | Type::TIMESTAMPTZ
            | Type::TIME
            | Type::TIMETZ
            | Type::TIMESTAMP_ARRAY
            | Type::TIMESTAMPTZ_ARRAY
            | Type::TIME_ARRAY
            | Type::TIMETZ_ARRAY
            | Type::INTERVAL_ARRAY => Some(TextForm::Time),
            Type::INTERVAL => Some(TextForm::Interval),
            _ => None,
        }
    }

    /// The forms of a result's columns, or `None` when no column needs one.
    /// `zone` is the session's `TimeZone` where it is not UTC ([`session_zone`]).
    pub fn of_all(
        fields: &[FieldInfo],
        zone: Option<chrono_tz::Tz>,
    ) -> Option<Arc<Vec<Option<TextForm>>>> {
        let forms: Vec<Option<TextForm>> = fields
            .iter()
            .map(|f| match (TextForm::of(f), zone) {
                (Some(TextForm::Time), Some(zone)) if *f.datatype() == Type::TIMESTAMPTZ => {
                    Some(TextForm::Zoned(zone))
                }
                (form, _) => form,
            })
            .collect();
        forms.iter().any(Option::is_some).then(|| Arc::new(forms))
    }

    /// PostgreSQL's text for `text`, a value of this form as pgwire wrote it; `None` when it
    /// is already PostgreSQL's.
    pub fn rewrite(self, text: &str) -> Option<String> {
        let mut out = BytesMut::with_capacity(text.len());
        self.write(text, &mut out);
        let out = String::from_utf8(out.to_vec()).ok()?;
        (out != text).then_some(out)
    }

    /// PostgreSQL's text for `text` written to `out`, with no copy in between where it can.
    fn write(self, text: &str, out: &mut BytesMut) {
        match self {
            TextForm::Float {
                double,
                array: false,
                extra,
            } => match shortcut(text, double, extra) {
                Some(same) => out.put_slice(same.as_bytes()),
                None => out.put_slice(written_again(text, double, extra).as_bytes()),
            },
            TextForm::Float {
                double,
                array: true,
                extra,
            } => out.put_slice(float_array(text, double, extra).as_bytes()),
            // BytesMut grows as it is written to; the write cannot fail.
            TextForm::Time => {
                let _ = trim_fractions_into(text, out);
            }
            TextForm::Interval => {
                let trimmed = crate::datasource::text_forms::trim_fractions(text);
                let signed = interval_signs(&trimmed).unwrap_or(trimmed);
                out.put_slice(signed.as_bytes());
            }
            TextForm::Zoned(zone) => {
                let local = in_zone(text, zone);
                let _ = trim_fractions_into(local.as_deref().unwrap_or(text), out);
            }
        }
    }
}

/// The time zone a session's `TimeZone` names, unless it is UTC (values are sent in UTC
/// already) or a zone recsql does not know (named zones of the IANA database are known; the
/// value is then shown in UTC, with its offset).
pub fn session_zone(name: &str) -> Option<chrono_tz::Tz> {
    let zone: chrono_tz::Tz = name.trim().parse().ok()?;
    let is_utc = matches!(
        zone.name(),
        "UTC"
            | "Etc/UTC"
            | "Etc/UCT"
            | "UCT"
            | "Etc/GMT"
            | "GMT"
            | "Etc/Universal"
            | "Universal"
            | "Zulu"
            | "Etc/Zulu"
    );
    (!is_utc).then_some(zone)
}

/// A timestamp with time zone as pgwire writes it (`2024-01-05 08:00:00.5+00`) in `zone`
/// (`2024-01-05 09:00:00.5+01`); `None` for text that is not one (infinity, years BC).
fn in_zone(text: &str, zone: chrono_tz::Tz) -> Option<String> {
    use chrono::Offset;
    let t = chrono::DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z").ok()?;
    let local = t.with_timezone(&zone);
    let offset = local.offset().fix().local_minus_utc();
    let sign = if offset < 0 { '-' } else { '+' };
    let (hours, minutes) = (offset.abs() / 3600, offset.abs() / 60 % 60);
    let mut out = local.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    out.push(sign);
    out.push_str(&format!("{hours:02}"));
    if minutes != 0 {
        out.push_str(&format!(":{minutes:02}"));
    }
    Some(out)
}

/// pgwire writes the shortest digits too (ryu's) when extra_float_digits is above 0, so a
/// positional number within PostgreSQL's positional range differs by a trailing `.0` at most:
/// the text without it, or `None` for a number that must be parsed and written again.
fn shortcut(text: &str, double: bool, extra: i8) -> Option<&str> {
    if extra <= 0 || text.contains(['e', 'E', 'i', 'N']) {
        return None;
    }
    let magnitude = text.trim_start_matches('-');
    let whole = magnitude.split('.').next().unwrap_or(magnitude);
    let limit = if double { 15 } else { 6 };
    (!magnitude.starts_with("0.0000") && whole.len() <= limit)
        .then(|| text.strip_suffix(".0").unwrap_or(text))
}

/// A float pgwire wrote (`1e20`, `inf`), parsed and written as PostgreSQL writes it.
fn written_again(text: &str, double: bool, extra: i8) -> String {
    let parsed = if double {
        text.parse().ok().map(|v| float8_text(v, extra))
    } else {
        text.parse().ok().map(|v| float4_text(v, extra))
    };
    parsed.unwrap_or_else(|| text.to_string())
}

/// The text of a float that pgwire wrote (`1024.0`, `inf`), as PostgreSQL writes it; `None`
/// when they are the same.
fn float(text: &str, double: bool, extra: i8) -> Option<String> {
    let out = match shortcut(text, double, extra) {
        Some(same) => same.to_string(),
        None => written_again(text, double, extra),
    };
    (out != text).then_some(out)
}

/// `{1.0,inf,NULL}` → `{1,Infinity,NULL}`: each element as [`float`] writes it.
fn float_array(text: &str, double: bool, extra: i8) -> String {
    let Some(inner) = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) else {
        return text.to_string();
    };
    if inner.is_empty() {
        return text.to_string();
    }
    let elements: Vec<String> = inner
        .split(',')
        .map(|e| float(e, double, extra).unwrap_or_else(|| e.to_string()))
        .collect();
    format!("{{{}}}", elements.join(","))
}

/// `row` with the values of the columns that have a form rewritten. The row is written into
/// `buffer` and split off it, so that the rows of a result share its allocations.
pub fn rewrite_row(
    forms: &[Option<TextForm>],
    row: DataRow,
    buffer: &mut BytesMut,
) -> PgWireResult<DataRow> {
    let field_count = row.field_count;
    let mut src = row.data.freeze();
    buffer.clear();
    if buffer.capacity() < src.len() + 64 {
        buffer.reserve((src.len() + 64).max(64 * 1024));
    }
    let out = buffer;
    for form in forms.iter().take(field_count.max(0) as usize) {
        if src.remaining() < 4 {
            return Err(malformed());
        }
        let len = src.get_i32();
        if len < 0 {
            out.put_i32(len);
            continue;
        }
        let len = len as usize;
        if src.remaining() < len {
            return Err(malformed());
        }
        let value = src.split_to(len);
        // The length goes in front once the value is written.
        let at = out.len();
        out.put_i32(0);
        match (form, std::str::from_utf8(&value)) {
            (Some(f), Ok(text)) => f.write(text, out),
            _ => out.put_slice(&value),
        }
        let written = (out.len() - at - 4) as i32;
        out[at..at + 4].copy_from_slice(&written.to_be_bytes());
    }
    out.put_slice(&src);
    Ok(DataRow::new(out.split(), field_count))
}

fn malformed() -> PgWireError {
    PgWireError::ApiError("a result row did not match its own field lengths".into())
}

/// A COPY encoder that writes the columns with a form as PostgreSQL does. The inner encoder
/// was made with those columns typed `text` (see [`copy_fields`]), so that it writes the
/// rewritten text as it is, with COPY's escaping and no array quoting.
pub struct CopyText {
    inner: CopyEncoder,
    /// Each column's form, with the field that has its real type.
    forms: Vec<Option<(TextForm, FieldInfo)>>,
    column: usize,
    scratch: BytesMut,
}

/// The fields a [`CopyText`]'s inner encoder is made with: `fields`, with each column that
/// has a form typed `text`.
pub fn copy_fields(fields: &[FieldInfo]) -> Vec<FieldInfo> {
    fields
        .iter()
        .map(|f| match TextForm::of(f) {
            Some(_) => FieldInfo::new(f.name().to_string(), None, None, Type::TEXT, f.format())
                .with_format_options(f.format_options().clone()),
            None => f.clone(),
        })
        .collect()
}

impl CopyText {
    /// `inner` must have been made with [`copy_fields`] of `fields`.
    pub fn new(inner: CopyEncoder, fields: &[FieldInfo]) -> CopyText {
        CopyText {
            inner,
            forms: fields
                .iter()
                .map(|f| TextForm::of(f).map(|form| (form, f.clone())))
                .collect(),
            column: 0,
            scratch: BytesMut::new(),
        }
    }
}

impl Encoder for CopyText {
    type Item = CopyData;

    fn encode_field<T>(&mut self, value: &T, _pg_field: &FieldInfo) -> PgWireResult<()>
    where
        T: ToSql + ToSqlText + Sized,
    {
        let column = self.column;
        self.column += 1;
        let Some(Some((form, field))) = self.forms.get(column) else {
            return self.inner.encode_field(value);
        };
        self.scratch.clear();
        let null = value
            .to_sql_text(field.datatype(), &mut self.scratch, field.format_options())
            .map_err(PgWireError::ApiError)?;
        if let IsNull::Yes = null {
            return self.inner.encode_field(&None::<String>);
        }
        let text = String::from_utf8_lossy(&self.scratch).into_owned();
        let text = form.rewrite(&text).unwrap_or(text);
        self.inner.encode_field(&text)
    }

    fn take_row(&mut self) -> CopyData {
        self.column = 0;
        self.inner.take_copy()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shortcut for positional numbers gives what parsing and writing again gives, for
    /// values of every magnitude as pgwire writes them.
    #[test]
    fn the_shortcut_agrees_with_the_full_rewrite() {
        use pgwire::types::format::float_digits::ExtraFloatDigits;
        // (pgwire writes -0 as 0, which no rewrite can undo.)
        let mut values = vec![0.0, 1.0, -1024.0, 0.1, 1e-4, 1.5e-4, 9.99e-5, 1e-5];
        for e in -8..20 {
            for m in [1.0, 1.5, 9.999, 123.456, 7.0 / 3.0] {
                values.push(m * 10f64.powi(e));
                values.push(-m * 10f64.powi(e));
            }
        }
        let agrees = |text: String, double: bool, full: String| {
            let rewritten = float(&text, double, 1).unwrap_or_else(|| text.clone());
            assert_eq!(rewritten, full, "written by pgwire as {text}");
        };
        for v in values {
            let digits = ExtraFloatDigits(1);
            agrees(digits.format_f64(v).into(), true, float8_text(v, 1));
            let v = v as f32;
            agrees(digits.format_f32(v).into(), false, float4_text(v, 1));
        }
    }

    #[test]
    fn float_arrays_rewrite_each_element() {
        assert_eq!(
            float_array("{1.0,2.5,1e20,NULL,inf}", true, 1),
            "{1,2.5,1e+20,NULL,Infinity}"
        );
        assert_eq!(float_array("{}", true, 1), "{}");
    }

    #[test]
    fn rows_keep_their_other_values_and_nulls() {
        let field = |ty: Type| FieldInfo::new("c".into(), None, None, ty, FieldFormat::Text);
        let fields = [field(Type::INT8), field(Type::FLOAT8), field(Type::FLOAT8)];
        let forms = TextForm::of_all(&fields, None).unwrap();
        let mut data = BytesMut::new();
        for v in [Some("7"), Some("1024.0"), None] {
            match v {
                Some(s) => {
                    data.put_i32(s.len() as i32);
                    data.put_slice(s.as_bytes());
                }
                None => data.put_i32(-1),
            }
        }
        let row = rewrite_row(&forms, DataRow::new(data, 3), &mut BytesMut::new()).unwrap();
        let mut expected = BytesMut::new();
        expected.put_i32(1);
        expected.put_slice(b"7");
        expected.put_i32(4);
        expected.put_slice(b"1024");
        expected.put_i32(-1);
        assert_eq!(row.data, expected);
        assert!(TextForm::of_all(&[field(Type::INT8)], None).is_none());
    }
}
