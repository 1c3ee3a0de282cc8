//! PostgreSQL's interval input forms that Arrow's parser refuses, written in the units it
//! reads: a time field (`'04:05:06'`, `'1 day 10:30'`, `'-1 day 02:00:00.5'`), `ago` (`'3
//! days ago'`), a bare number of seconds (`'10'`), a leading `@`, and ISO 8601 durations
//! (`'P1Y2M3DT4H5M6S'`, `'P2W'`). Text that needs none of this is left to Arrow as it is.
//!
//! Text in, text out: it is used by `pg_forms` on interval literals and casts of text.

/// `text` in units Arrow reads, if it uses a form only PostgreSQL reads; `None` when it is
/// fine as it is or is not an interval this understands (Arrow's error then names it).
pub fn arrow_interval_text(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let (at, trimmed) = match trimmed.strip_prefix('@') {
        Some(rest) => (true, rest.trim()),
        None => (false, trimmed),
    };
    if let Some(iso) = trimmed
        .strip_prefix('P')
        .or_else(|| trimmed.strip_prefix('p'))
    {
        return iso_duration(iso);
    }
    let mut words: Vec<&str> = trimmed.split_whitespace().collect();
    let ago = words.last().is_some_and(|w| w.eq_ignore_ascii_case("ago"));
    if ago {
        words.pop();
    }
    let bare_number = words.len() == 1 && words[0].parse::<f64>().is_ok();
    let has_time = words.iter().any(|w| w.contains(':'));
    if !(at || ago || bare_number || has_time) {
        return None;
    }
    if bare_number {
        return Some(signed(words[0], ago) + " seconds");
    }
    let mut out: Vec<String> = Vec::new();
    for word in words {
        if word.contains(':') {
            out.push(time_field(word, ago)?);
        } else if word.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.')
        {
            out.push(signed(word, ago));
        } else {
            out.push(word.to_string());
        }
    }
    Some(out.join(" "))
}

/// A number, negated for `ago`.
fn signed(number: &str, negate: bool) -> String {
    if !negate {
        return number.to_string();
    }
    match number.strip_prefix('-') {
        Some(positive) => positive.to_string(),
        None => format!("-{}", number.trim_start_matches('+')),
    }
}

/// `[+-]H:MM[:SS[.f]]` as hours, minutes and seconds, all with the field's sign.
fn time_field(field: &str, negate: bool) -> Option<String> {
    let (negative, body) = match field.as_bytes().first() {
        Some(b'-') => (true, &field[1..]),
        Some(b'+') => (false, &field[1..]),
        _ => (false, field),
    };
    let parts: Vec<&str> = body.split(':').collect();
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| number(p)) {
        return None;
    }
    let sign = if negative != negate { "-" } else { "" };
    let seconds = parts.get(2).copied().unwrap_or("0");
    Some(format!(
        "{sign}{} hours {sign}{} minutes {sign}{seconds} seconds",
        parts[0], parts[1]
    ))
}

/// An ISO 8601 duration after its `P`: `nY nM nW nD` then `T nH nM nS`.
fn iso_duration(rest: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut in_time = false;
    let mut number = String::new();
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            'T' if number.is_empty() && !in_time => in_time = true,
            d if d.is_ascii_digit() || d == '.' || d == '-' => number.push(d),
            unit => {
                if number.is_empty() {
                    return None;
                }
                let name = match (unit, in_time) {
                    ('Y', false) => "years",
                    ('M', false) => "months",
                    ('W', false) => "weeks",
                    ('D', false) => "days",
                    ('H', true) => "hours",
                    ('M', true) => "minutes",
                    ('S', true) => "seconds",
                    _ => return None,
                };
                out.push(format!("{number} {name}"));
                number.clear();
            }
        }
    }
    (number.is_empty() && !out.is_empty()).then(|| out.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgresql_forms_become_units() {
        let cases = [
            ("04:05:06", "04 hours 05 minutes 06 seconds"),
            ("1 day 10:30", "1 day 10 hours 30 minutes 0 seconds"),
            (
                "1 year 2 months 3 days 04:05:06.5",
                "1 year 2 months 3 days 04 hours 05 minutes 06.5 seconds",
            ),
            ("-1 day 02:00:00", "-1 day 02 hours 00 minutes 00 seconds"),
            ("-10:30:00", "-10 hours -30 minutes -00 seconds"),
            ("3 days ago", "-3 days"),
            ("1 day -02:00 ago", "-1 day 02 hours 00 minutes 0 seconds"),
            ("10", "10 seconds"),
            ("@ 2 hours", "2 hours"),
            (
                "P1Y2M3DT4H5M6S",
                "1 years 2 months 3 days 4 hours 5 minutes 6 seconds",
            ),
            ("P2W", "2 weeks"),
        ];
        for (pg, arrow) in cases {
            assert_eq!(arrow_interval_text(pg).as_deref(), Some(arrow), "{pg}");
        }
        assert_eq!(arrow_interval_text("1 day 2 hours"), None);
        assert_eq!(arrow_interval_text("P"), None);
        assert_eq!(arrow_interval_text("1 day 10:xx"), None);
    }
}
