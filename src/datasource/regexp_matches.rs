//! `regexp_matches(text, pattern [, flags])`, PostgreSQL's set-returning function: a row per
//! match (only the first without the `g` flag), each the array of the pattern's capture
//! groups, or of the whole match when it has none. Here the function answers all of a row's
//! matches as one array of arrays, and `pg_forms` makes it rows, as for `generate_series`,
//! by unnesting it where it is a select item (no match: no row, as in PostgreSQL).
//!
//! Flags are PostgreSQL's: `g` (every match), `i` and `c` (case), `n`/`m` (newline-sensitive:
//! `.` stops at a newline, `^` and `$` match at lines), `s` (the default: `.` matches a
//! newline), `x` (expanded syntax). Patterns are Rust's regex syntax, as for DataFusion's
//! `regexp_match` and `~`.
//!
//! This module registers one function; it rewrites no SQL.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListBuilder, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{Signature, TypeSignature, Volatility};
use datafusion::prelude::SessionContext;
use regex::{Regex, RegexBuilder};

use super::array_function::ArrayFunction;
use crate::error::{Error, sqlstate};

/// Registers `regexp_matches` in `ctx`.
pub fn install(ctx: &SessionContext) {
    let signature = Signature::one_of(
        vec![TypeSignature::String(2), TypeSignature::String(3)],
        Volatility::Immutable,
    );
    let text = Arc::new(Field::new_list_field(DataType::Utf8, true));
    let matches = DataType::List(Arc::new(Field::new_list_field(DataType::List(text), true)));
    ctx.register_udf(ArrayFunction::udf(
        "regexp_matches",
        signature,
        matches,
        regexp_matches_of,
    ));
}

/// The pattern compiled with PostgreSQL's `flags`, and whether `g` asks for every match.
fn compile(pattern: &str, flags: &str) -> Result<(Regex, bool), Error> {
    let mut builder = RegexBuilder::new(pattern);
    builder.dot_matches_new_line(true);
    let mut global = false;
    for flag in flags.chars() {
        match flag {
            'g' => global = true,
            'i' => _ = builder.case_insensitive(true),
            'c' => _ = builder.case_insensitive(false),
            'n' | 'm' => _ = builder.dot_matches_new_line(false).multi_line(true),
            's' => _ = builder.dot_matches_new_line(true).multi_line(false),
            'x' => _ = builder.ignore_whitespace(true),
            other => {
                return Err(Error::new(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    format!("invalid regular expression option: \"{other}\""),
                )
                .with_hint("regexp_matches takes the flags g, i, c, n, m, s and x"));
            }
        }
    }
    let regex = builder
        .build()
        .map_err(|e| Error::new("2201B", format!("invalid regular expression: {e}")))?;
    Ok((regex, global))
}

fn regexp_matches_of(args: &[ArrayRef]) -> Result<ArrayRef> {
    let args = args
        .iter()
        .map(|a| cast(a, &DataType::Utf8))
        .collect::<Result<Vec<_>, _>>()?;
    let (text, pattern) = (args[0].as_string::<i32>(), args[1].as_string::<i32>());
    let flags = args.get(2).map(|a| a.as_string::<i32>());
    let mut out = ListBuilder::new(ListBuilder::new(StringBuilder::new()));
    // Patterns are nearly always one literal: compile once per distinct (pattern, flags) run.
    let mut compiled: Option<(String, String, Regex, bool)> = None;
    for row in 0..text.len() {
        let flag_text = flags.map_or(Some(""), |f| (!f.is_null(row)).then(|| f.value(row)));
        let (Some(flag_text), false, false) = (flag_text, text.is_null(row), pattern.is_null(row))
        else {
            out.append_null();
            continue;
        };
        let p = pattern.value(row);
        let (_, _, regex, global) = match compiled.take() {
            Some(same) if same.0 == p && same.1 == flag_text => compiled.insert(same),
            _ => {
                let (regex, global) = compile(p, flag_text).map_err(DataFusionError::from)?;
                compiled.insert((p.to_string(), flag_text.to_string(), regex, global))
            }
        };
        for captures in regex.captures_iter(text.value(row)) {
            let groups = out.values();
            if captures.len() == 1 {
                groups.values().append_value(&captures[0]);
            } else {
                for group in captures.iter().skip(1) {
                    groups.values().append_option(group.map(|m| m.as_str()));
                }
            }
            groups.append(true);
            if !*global {
                break;
            }
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;

    fn matches(text: &str, pattern: &str, flags: &str) -> Vec<Vec<Option<String>>> {
        let args: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![text])),
            Arc::new(StringArray::from(vec![pattern])),
            Arc::new(StringArray::from(vec![flags])),
        ];
        let out = regexp_matches_of(&args).unwrap();
        let rows = out.as_list::<i32>().value(0);
        let rows = rows.as_list::<i32>();
        (0..rows.len())
            .map(|i| {
                let groups = rows.value(i);
                let groups = groups.as_string::<i32>();
                (0..groups.len())
                    .map(|j| (!groups.is_null(j)).then(|| groups.value(j).to_string()))
                    .collect()
            })
            .collect()
    }

    fn owned(rows: &[&[&str]]) -> Vec<Vec<Option<String>>> {
        rows.iter()
            .map(|r| r.iter().map(|s| Some(s.to_string())).collect())
            .collect()
    }

    #[test]
    fn a_match_per_row_with_g_and_groups_or_the_whole_match() {
        assert_eq!(matches("a1b2", "[0-9]", "g"), owned(&[&["1"], &["2"]]));
        assert_eq!(matches("a1b2", "[0-9]", ""), owned(&[&["1"]]));
        assert_eq!(
            matches("a1b2", "([a-z])([0-9])", "g"),
            owned(&[&["a", "1"], &["b", "2"]])
        );
        assert_eq!(matches("A1", "a", "gi"), owned(&[&["A"]]));
        assert!(matches("xyz", "[0-9]", "g").is_empty());
        assert_eq!(
            matches("ab", "(a)|(b)", ""),
            vec![vec![Some("a".into()), None]]
        );
    }

    #[test]
    fn bad_flags_and_patterns_are_the_users_errors() {
        let code = |p: &str, f: &str| compile(p, f).err().map(|e| e.code);
        assert_eq!(code("a", "z"), Some("22023"));
        assert_eq!(code("(", ""), Some("2201B"));
        assert!(code("a.b", "gn").is_none());
    }
}
