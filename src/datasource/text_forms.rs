//! PostgreSQL's text forms of values where Arrow's differ: floats as float8out and float4out
//! write them (`1024`, `1e+20`, `1e-05`, `Infinity`, following `extra_float_digits`), times
//! with no zero fraction (`13:04:00`, `13:04:00.5`) and intervals (`-1 days +02:00:00`).
//! The wire layer prints results with them and the casts to text use them
//! (`datasource::pg_casts`), so a value reads the same either way. Pure functions of values and text; no SQL, no I/O.

/// PostgreSQL's number of decimal digits a double (`DBL_DIG`) and a real (`FLT_DIG`) keep.
const DBL_DIG: i32 = 15;
const FLT_DIG: i32 = 6;

/// A double's text as PostgreSQL's float8out writes it with `extra_float_digits` = `extra`:
/// above 0 (the default), the shortest digits that read back as the same value; otherwise
/// `DBL_DIG + extra` significant digits, as `%g` rounds them. Either way in exponent form
/// when the exponent is below -4 or at least the digit limit.
pub fn float8_text(v: f64, extra: i8) -> String {
    float_text(v, v.is_finite(), v.is_nan(), DBL_DIG, extra)
}

/// A real's text as PostgreSQL's float4out writes it; see [`float8_text`], with `FLT_DIG`.
pub fn float4_text(v: f32, extra: i8) -> String {
    float_text(v, v.is_finite(), v.is_nan(), FLT_DIG, extra)
}

/// `v`'s text for a type of `limit` digits. Rust's exponent form of `v` gives its shortest
/// exact digits (or rounds to a precision), which [`layout`] places as `%g` does.
fn float_text<T: std::fmt::LowerExp + PartialOrd + Default>(
    v: T,
    finite: bool,
    nan: bool,
    limit: i32,
    extra: i8,
) -> String {
    if !finite {
        return non_finite(nan, v > T::default());
    }
    let (precision, threshold) = digits(limit, extra);
    let scientific = match precision {
        None => format!("{v:e}"),
        Some(p) => format!("{v:.*e}", p - 1),
    };
    layout(&scientific, threshold)
}

/// The significant digits to round to (None: the shortest exact ones) and the exponent from
/// which the exponent form is used, for a type of `limit` digits.
fn digits(limit: i32, extra: i8) -> (Option<usize>, i32) {
    let precision = (extra <= 0).then(|| (limit + extra as i32).max(1) as usize);
    (precision, precision.map_or(limit, |p| p as i32))
}

fn non_finite(nan: bool, positive: bool) -> String {
    match (nan, positive) {
        (true, _) => "NaN",
        (false, true) => "Infinity",
        (false, false) => "-Infinity",
    }
    .to_string()
}

/// Lays out Rust's exponent form (`-1.25e3`) as `%g` does: positional when `-4 <= exponent <
/// threshold`, else with a signed exponent of at least two digits; no trailing zeros.
fn layout(scientific: &str, threshold: i32) -> String {
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = match digits.trim_end_matches('0') {
        "" => "0",
        d => d,
    };
    let mut out = String::with_capacity(digits.len() + 8);
    out.push_str(sign);
    if exponent < -4 || exponent >= threshold {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e_sign = if exponent < 0 { '-' } else { '+' };
        out.push_str(&format!("e{e_sign}{:02}", exponent.abs()));
    } else if exponent >= 0 {
        let whole = exponent as usize + 1;
        if digits.len() <= whole {
            out.push_str(digits);
            out.extend(std::iter::repeat_n('0', whole - digits.len()));
        } else {
            out.push_str(&digits[..whole]);
            out.push('.');
            out.push_str(&digits[whole..]);
        }
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
        out.push_str(digits);
    }
    out
}

/// Drops the zeros that end a seconds fraction (`:00.500000` → `:00.5`) and a fraction that
/// is all zeros (`:00.000000` → `:00`), wherever a time of day appears in `text`.
pub fn trim_fractions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Writing to a String cannot fail.
    let _ = trim_fractions_into(text, &mut out);
    out
}

/// [`trim_fractions`] written to `out`, piece by piece.
pub fn trim_fractions_into(text: &str, out: &mut impl std::fmt::Write) -> std::fmt::Result {
    let bytes = text.as_bytes();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        // A fraction: '.' after ":SS", followed by digits.
        let is_fraction = bytes[i] == b'.'
            && i >= 3
            && bytes[i - 3] == b':'
            && bytes[i - 2].is_ascii_digit()
            && bytes[i - 1].is_ascii_digit();
        if !is_fraction {
            i += 1;
            continue;
        }
        let start = i + 1;
        let end = start
            + bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        let kept = text[start..end].trim_end_matches('0');
        out.write_str(&text[copied..i])?;
        if !kept.is_empty() {
            out.write_char('.')?;
            out.write_str(kept)?;
        }
        copied = end;
        i = end;
    }
    out.write_str(&text[copied..])
}

/// An interval as PostgreSQL writes it (`IntervalStyle` postgres): years, months and days
/// that are not zero, then the time if it is not zero or nothing else was written
/// (`1 year 2 mons 3 days 04:05:06.5`, `-1 days +02:00:00`, `00:00:00`). A field after a
/// negative one carries its `+`. Microseconds, as PostgreSQL keeps.
pub fn interval_text(months: i32, days: i32, nanos: i64) -> String {
    let mut out = String::new();
    let mut before_negative = false;
    let mut part = |out: &mut String, value: i64, unit: &str| {
        if value == 0 {
            return;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        if before_negative && value > 0 {
            out.push('+');
        }
        let plural = if value == 1 { "" } else { "s" };
        out.push_str(&format!("{value} {unit}{plural}"));
        before_negative = value < 0;
    };
    part(&mut out, i64::from(months / 12), "year");
    part(&mut out, i64::from(months % 12), "mon");
    part(&mut out, i64::from(days), "day");
    let micros = (i128::from(nanos) + if nanos < 0 { -500 } else { 500 }) / 1000;
    if micros != 0 || out.is_empty() {
        let sign = if micros < 0 {
            "-"
        } else if before_negative {
            "+"
        } else {
            ""
        };
        let micros = micros.unsigned_abs();
        let seconds = micros / 1_000_000;
        let fraction = micros % 1_000_000;
        if !out.is_empty() {
            out.push(' ');
        }
        let time = format!(
            "{sign}{:02}:{:02}:{:02}.{fraction:06}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        );
        out.push_str(&trim_fractions(&time));
    }
    out
}

/// pgwire's text of an interval with PostgreSQL's `+` on a field that follows a negative
/// one (`-1 days 02:00:00` is `-1 days +02:00:00`); `None` when nothing changes.
pub fn interval_signs(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split(' ').collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut before_negative = false;
    let mut changed = false;
    for (i, word) in words.iter().enumerate() {
        let is_number = word.parse::<i64>().is_ok() && i + 1 < words.len();
        let is_time = word.contains(':');
        if !(is_number || is_time) {
            out.push(word.to_string());
            continue;
        }
        let negative = word.starts_with('-');
        if before_negative && !negative && !word.starts_with('+') {
            out.push(format!("+{word}"));
            changed = true;
        } else {
            out.push(word.to_string());
        }
        before_negative = negative;
    }
    changed.then(|| out.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_written_as_postgresql_writes_them() {
        let hour = 3_600_000_000_000i64;
        // PostgreSQL 15's output of the same intervals.
        assert_eq!(
            interval_text(14, 3, 4 * hour + 306_500_000_000),
            "1 year 2 mons 3 days 04:05:06.5"
        );
        assert_eq!(interval_text(0, -1, 2 * hour), "-1 days +02:00:00");
        assert_eq!(interval_text(-1, 2, -3 * hour), "-1 mons +2 days -03:00:00");
        assert_eq!(interval_text(1, -1, 0), "1 mon -1 days");
        assert_eq!(interval_text(0, 0, 0), "00:00:00");
        assert_eq!(interval_text(-14, 0, 0), "-1 years -2 mons");
        assert_eq!(interval_text(0, 0, 36 * hour), "36:00:00");
        assert_eq!(
            interval_signs("-1 mons 2 days -03:00:00").as_deref(),
            Some("-1 mons +2 days -03:00:00")
        );
        assert_eq!(interval_signs("1 day 02:00:00"), None);
    }

    #[test]
    fn doubles_are_written_as_postgresql_writes_them() {
        // Expected strings are PostgreSQL 15's output of the same values.
        for (v, pg) in [
            (1024.0, "1024"),
            (1e15, "1e+15"),
            (1e14, "100000000000000"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e301, "1e+301"),
            (2.5e-310, "2.5e-310"),
            (0.0, "0"),
            (-0.0, "-0"),
            (-3.25, "-3.25"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(float8_text(v, 1), pg, "{v}");
        }
    }

    #[test]
    fn reals_switch_to_exponents_at_seven_digits() {
        for (v, pg) in [
            (1024.0f32, "1024"),
            (1e6, "1e+06"),
            (100000.0, "100000"),
            (123456.7, "123456.7"),
            (1234567.0, "1.234567e+06"),
            (1e-5, "1e-05"),
            (2.7182817, "2.7182817"),
            (1e20, "1e+20"),
        ] {
            assert_eq!(float4_text(v, 1), pg, "{v}");
        }
    }

    #[test]
    fn without_extra_digits_doubles_round_to_fifteen() {
        // PostgreSQL with SET extra_float_digits = 0.
        assert_eq!(float8_text(0.1 + 0.2, 0), "0.3");
        assert_eq!(float8_text(123456789012345678.0, 0), "1.23456789012346e+17");
        assert_eq!(float8_text(1e15, 0), "1e+15");
        assert_eq!(float4_text(1.23456, -2), "1.235");
    }

    #[test]
    fn zero_fractions_of_times_are_dropped() {
        for (arrow, pg) in [
            ("2024-01-05 13:04:00.000000", "2024-01-05 13:04:00"),
            ("2024-01-05 13:04:00.500000", "2024-01-05 13:04:00.5"),
            ("2024-01-05 13:04:00.123456", "2024-01-05 13:04:00.123456"),
            ("2024-01-05 13:04:00.120000+00", "2024-01-05 13:04:00.12+00"),
            ("13:04:00.250000", "13:04:00.25"),
            ("05.01.2024 13:04:00.000000", "05.01.2024 13:04:00"),
            (
                "{\"2024-01-05 13:04:00.000000\",\"2024-01-06 01:02:03.400000\"}",
                "{\"2024-01-05 13:04:00\",\"2024-01-06 01:02:03.4\"}",
            ),
        ] {
            assert_eq!(trim_fractions(arrow), pg, "{arrow}");
        }
    }
}
