//! PostgreSQL's date/time templates (`YYYY-MM-DD HH24:MI:SS`, `FMMonth DD, YYYY`, ...), as
//! `to_char` formats with them and `to_date`/`to_timestamp` read with them. DataFusion's
//! functions of these names take chrono's `%Y-%m-%d` instead, and print a PostgreSQL template
//! back unchanged. This module parses templates and formats values; it registers nothing.

use chrono::{Datelike, NaiveDateTime, Timelike};

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(String),
    Field {
        field: Field,
        fill: bool,
        /// `TH` or `th` after the keyword: the number's English ordinal suffix.
        ordinal: Option<Case>,
    },
}

/// How a name is capitalised: `MONTH`, `Month` or `month`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Case {
    Upper,
    Capital,
    Lower,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Year4,
    Year3,
    Year2,
    Year1,
    YearComma,
    IsoYear,
    Month,
    MonthName(Case),
    MonthAbbrev(Case),
    Day,
    DayOfYear,
    DayName(Case),
    DayAbbrev(Case),
    DayOfWeek,
    IsoDayOfWeek,
    Hour24,
    Hour12,
    Minute,
    Second,
    Millisecond,
    Microsecond,
    SecondsOfDay,
    Meridiem { dots: bool, case: Case },
    IsoWeek,
    WeekOfYear,
    WeekOfMonth,
    Quarter,
    Century,
    JulianDay,
    TimeZone(Case),
}

/// The template keywords, longest first where one begins another, with what they print.
const KEYWORDS: &[(&str, Field)] = {
    use Case::*;
    use Field::*;
    &[
        ("Y,YYY", YearComma),
        ("y,yyy", YearComma),
        ("IYYY", IsoYear),
        ("iyyy", IsoYear),
        ("YYYY", Year4),
        ("yyyy", Year4),
        ("YYY", Year3),
        ("yyy", Year3),
        ("YY", Year2),
        ("yy", Year2),
        ("Y", Year1),
        ("y", Year1),
        ("MONTH", MonthName(Upper)),
        ("Month", MonthName(Capital)),
        ("month", MonthName(Lower)),
        ("MON", MonthAbbrev(Upper)),
        ("Mon", MonthAbbrev(Capital)),
        ("mon", MonthAbbrev(Lower)),
        ("MM", Month),
        ("mm", Month),
        ("MS", Millisecond),
        ("ms", Millisecond),
        ("MI", Minute),
        ("mi", Minute),
        ("DAY", DayName(Upper)),
        ("Day", DayName(Capital)),
        ("day", DayName(Lower)),
        ("DY", DayAbbrev(Upper)),
        ("Dy", DayAbbrev(Capital)),
        ("dy", DayAbbrev(Lower)),
        ("DDD", DayOfYear),
        ("ddd", DayOfYear),
        ("DD", Day),
        ("dd", Day),
        ("D", DayOfWeek),
        ("d", DayOfWeek),
        ("ID", IsoDayOfWeek),
        ("id", IsoDayOfWeek),
        ("IW", IsoWeek),
        ("iw", IsoWeek),
        ("HH24", Hour24),
        ("hh24", Hour24),
        ("HH12", Hour12),
        ("hh12", Hour12),
        ("HH", Hour12),
        ("hh", Hour12),
        ("SSSSS", SecondsOfDay),
        ("sssss", SecondsOfDay),
        ("SSSS", SecondsOfDay),
        ("ssss", SecondsOfDay),
        ("SS", Second),
        ("ss", Second),
        ("US", Microsecond),
        ("us", Microsecond),
        (
            "A.M.",
            Meridiem {
                dots: true,
                case: Upper,
            },
        ),
        (
            "a.m.",
            Meridiem {
                dots: true,
                case: Lower,
            },
        ),
        (
            "P.M.",
            Meridiem {
                dots: true,
                case: Upper,
            },
        ),
        (
            "p.m.",
            Meridiem {
                dots: true,
                case: Lower,
            },
        ),
        (
            "AM",
            Meridiem {
                dots: false,
                case: Upper,
            },
        ),
        (
            "am",
            Meridiem {
                dots: false,
                case: Lower,
            },
        ),
        (
            "PM",
            Meridiem {
                dots: false,
                case: Upper,
            },
        ),
        (
            "pm",
            Meridiem {
                dots: false,
                case: Lower,
            },
        ),
        ("WW", WeekOfYear),
        ("ww", WeekOfYear),
        ("W", WeekOfMonth),
        ("w", WeekOfMonth),
        ("Q", Quarter),
        ("q", Quarter),
        ("CC", Century),
        ("cc", Century),
        ("J", JulianDay),
        ("j", JulianDay),
        ("TZ", TimeZone(Upper)),
        ("tz", TimeZone(Lower)),
    ]
};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Piece>);

impl Template {
    /// Reads a template: keywords (with an `FM` prefix, which drops padding, and a `TH`
    /// suffix, which adds the ordinal's), double-quoted text, and everything else as it is.
    /// `FX` is accepted and ignored.
    pub fn parse(text: &str) -> Template {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(quoted) = rest.strip_prefix('"') {
                let mut chars = quoted.char_indices();
                let mut end = quoted.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, next)) = chars.next() {
                                literal.push(next);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        other => literal.push(other),
                    }
                }
                rest = &quoted[end.min(quoted.len())..];
                continue;
            }
            let (fill, after_fm) = match rest.strip_prefix("FM").or(rest.strip_prefix("fm")) {
                Some(after) => (false, after),
                None => (true, rest),
            };
            if let Some(after) = after_fm.strip_prefix("FX").or(after_fm.strip_prefix("fx")) {
                rest = after;
                continue;
            }
            if let Some((keyword, field)) = KEYWORDS.iter().find(|(k, _)| after_fm.starts_with(k)) {
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                rest = &after_fm[keyword.len()..];
                let ordinal = if let Some(after) = rest.strip_prefix("TH") {
                    rest = after;
                    Some(Case::Upper)
                } else if let Some(after) = rest.strip_prefix("th") {
                    rest = after;
                    Some(Case::Lower)
                } else {
                    None
                };
                pieces.push(Piece::Field {
                    field: *field,
                    fill,
                    ordinal,
                });
                continue;
            }
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(next) = chars.next() {
                        literal.push(next);
                    }
                } else {
                    literal.push(c);
                }
            }
            rest = chars.as_str();
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Template(pieces)
    }

    /// `t` printed with the template; `zone` is what `TZ` prints (PostgreSQL prints nothing
    /// for a timestamp without time zone).
    pub fn format(&self, t: &NaiveDateTime, zone: &str) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Field {
                    field,
                    fill,
                    ordinal,
                } => {
                    let start = out.len();
                    format_field(&mut out, *field, *fill, t, zone);
                    if let Some(case) = ordinal {
                        let suffix = ordinal_suffix(&out[start..]);
                        out.push_str(&cased(suffix, *case));
                    }
                }
            }
        }
        out
    }

    /// The template as a chrono format for parsing, or None when it has fields that chrono
    /// cannot read.
    pub fn chrono_format(&self) -> Option<String> {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Literal(text) => out.push_str(&text.replace('%', "%%")),
                Piece::Field { field, .. } => out.push_str(match field {
                    Field::Year4 | Field::IsoYear => "%Y",
                    Field::Year2 => "%y",
                    Field::Month => "%m",
                    Field::MonthName(_) => "%B",
                    Field::MonthAbbrev(_) => "%b",
                    Field::Day => "%d",
                    Field::DayOfYear => "%j",
                    Field::DayName(_) => "%A",
                    Field::DayAbbrev(_) => "%a",
                    Field::Hour24 => "%H",
                    Field::Hour12 => "%I",
                    Field::Minute => "%M",
                    Field::Second => "%S",
                    Field::Millisecond => "%3f",
                    Field::Microsecond => "%6f",
                    Field::Meridiem { .. } => "%p",
                    _ => return None,
                }),
            }
        }
        Some(out)
    }
}

/// The English ordinal suffix of the number `digits` ends with: 1st, 2nd, 3rd, 11th, 4th.
fn ordinal_suffix(digits: &str) -> &'static str {
    let n: u64 = digits.trim().parse().unwrap_or(0);
    match (n % 10, n % 100) {
        (_, 11..=13) => "TH",
        (1, _) => "ST",
        (2, _) => "ND",
        (3, _) => "RD",
        _ => "TH",
    }
}

fn cased(name: &str, case: Case) -> String {
    match case {
        Case::Upper => name.to_uppercase(),
        Case::Capital => name.to_string(),
        Case::Lower => name.to_lowercase(),
    }
}

fn format_field(out: &mut String, field: Field, fill: bool, t: &NaiveDateTime, zone: &str) {
    let number = |out: &mut String, value: i64, width: usize| {
        if fill {
            out.push_str(&format!("{value:0width$}"));
        } else {
            out.push_str(&value.to_string());
        }
    };
    let name = |out: &mut String, text: String, width: usize| {
        if fill {
            out.push_str(&format!("{text:width$}"));
        } else {
            out.push_str(&text);
        }
    };
    let year = i64::from(t.year());
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    match field {
        Field::Year4 => number(out, year, 4),
        Field::Year3 => number(out, year % 1000, 3),
        Field::Year2 => number(out, year % 100, 2),
        Field::Year1 => number(out, year % 10, 1),
        Field::YearComma => out.push_str(&format!("{},{:03}", year / 1000, year % 1000)),
        Field::IsoYear => number(out, i64::from(t.iso_week().year()), 4),
        Field::Month => number(out, i64::from(t.month()), 2),
        Field::MonthName(case) => name(out, cased(MONTHS[t.month0() as usize], case), 9),
        Field::MonthAbbrev(case) => name(out, cased(&MONTHS[t.month0() as usize][..3], case), 3),
        Field::Day => number(out, i64::from(t.day()), 2),
        Field::DayOfYear => number(out, i64::from(t.ordinal()), 3),
        Field::DayName(case) => name(
            out,
            cased(DAYS[t.weekday().num_days_from_sunday() as usize], case),
            9,
        ),
        Field::DayAbbrev(case) => name(
            out,
            cased(
                &DAYS[t.weekday().num_days_from_sunday() as usize][..3],
                case,
            ),
            3,
        ),
        Field::DayOfWeek => number(out, i64::from(t.weekday().number_from_sunday()), 1),
        Field::IsoDayOfWeek => number(out, i64::from(t.weekday().number_from_monday()), 1),
        Field::Hour24 => number(out, i64::from(t.hour()), 2),
        Field::Hour12 => number(out, i64::from(hour12), 2),
        Field::Minute => number(out, i64::from(t.minute()), 2),
        Field::Second => number(out, i64::from(t.second()), 2),
        Field::Millisecond => number(out, i64::from(t.nanosecond() / 1_000_000), 3),
        Field::Microsecond => number(out, i64::from(t.nanosecond() / 1_000), 6),
        Field::SecondsOfDay => number(out, i64::from(t.num_seconds_from_midnight()), 1),
        Field::Meridiem { dots, case } => {
            let text = match (t.hour() < 12, dots) {
                (true, false) => "AM",
                (false, false) => "PM",
                (true, true) => "A.M.",
                (false, true) => "P.M.",
            };
            out.push_str(&cased(
                text,
                if case == Case::Lower {
                    Case::Lower
                } else {
                    Case::Upper
                },
            ));
        }
        Field::IsoWeek => number(out, i64::from(t.iso_week().week()), 2),
        Field::WeekOfYear => number(out, i64::from(t.ordinal0() / 7 + 1), 2),
        Field::WeekOfMonth => number(out, i64::from(t.day0() / 7 + 1), 1),
        Field::Quarter => number(out, i64::from(t.month0() / 3 + 1), 1),
        Field::Century => {
            let century = if year > 0 {
                (year + 99) / 100
            } else {
                year / 100 - 1
            };
            number(out, century, 2)
        }
        // Days since 24 November 4714 BC; chrono counts from 1 January of year 1 (day 1).
        Field::JulianDay => number(out, i64::from(t.num_days_from_ce()) + 1_721_425, 1),
        Field::TimeZone(case) => out.push_str(&cased(zone, case)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32, micros: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_micro_opt(h, mi, s, micros))
            .expect("a valid time")
    }

    /// Values checked against PostgreSQL 15's `to_char` of `2024-01-05 13:04:05.1203`.
    #[test]
    fn formats_as_postgresql_does() {
        let t = at(2024, 1, 5, 13, 4, 5, 120_300);
        let cases = [
            ("YYYY-MM-DD HH24:MI:SS", "2024-01-05 13:04:05"),
            ("YYYY-MM", "2024-01"),
            ("DD/MM/YY HH12:MI AM", "05/01/24 01:04 PM"),
            ("Month DD, YYYY", "January   05, 2024"),
            ("FMMonth FMDD, YYYY", "January 5, 2024"),
            ("MONTH Mon mon", "JANUARY   Jan jan"),
            ("Day Dy dy D ID", "Friday    Fri fri 6 5"),
            ("DDD IW WW W Q CC", "005 01 01 1 1 21"),
            ("HH24:MI:SS.MS US", "13:04:05.120 120300"),
            ("\"Week\" IW \"of\" IYYY", "Week 01 of 2024"),
            ("Y,YYY J", "2,024 2460315"),
            ("a.m. p.m.", "p.m. p.m."),
            ("YYYY%MM", "2024%01"),
        ];
        for (template, expected) in cases {
            assert_eq!(
                Template::parse(template).format(&t, ""),
                expected,
                "{template}"
            );
        }
        let midnight = at(2024, 1, 1, 0, 0, 0, 0);
        assert_eq!(Template::parse("HH12 AM").format(&midnight, ""), "12 AM");
        assert_eq!(Template::parse("DDTH FMDDth").format(&t, ""), "05TH 5th");
        assert_eq!(
            Template::parse("FMDDth").format(&at(2024, 1, 22, 0, 0, 0, 0), ""),
            "22nd"
        );
        assert_eq!(
            Template::parse("FMDDth").format(&at(2024, 1, 12, 0, 0, 0, 0), ""),
            "12th"
        );
        assert_eq!(Template::parse("SSSS TZ").format(&t, ""), "47045 ");
        assert_eq!(Template::parse("TZ tz").format(&midnight, "UTC"), "UTC utc");
    }

    #[test]
    fn templates_become_chrono_formats_for_parsing() {
        assert_eq!(
            Template::parse("YYYY-MM-DD HH24:MI:SS")
                .chrono_format()
                .as_deref(),
            Some("%Y-%m-%d %H:%M:%S")
        );
        assert_eq!(
            Template::parse("DD Mon YYYY 100%")
                .chrono_format()
                .as_deref(),
            Some("%d %b %Y 100%%")
        );
        assert_eq!(Template::parse("Q YYYY").chrono_format(), None);
    }
}
