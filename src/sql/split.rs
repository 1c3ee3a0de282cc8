//! Splits a query string into its statements at top-level semicolons.
//!
//! Semicolons inside quotes, comments and dollar-quoted strings do not split, because the
//! string is tokenized first. Each piece keeps its original text, so that DataFusion's
//! Postgres-compatibility rewrites (which match whole client queries) still see what the
//! client sent. It does no parsing beyond tokens.

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, Tokenizer};

use crate::error::{Error, Result};

/// The statements of `sql`, trimmed, without empty ones.
pub fn split_statements(sql: &str) -> Result<Vec<&str>> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| Error::syntax(e.to_string()))?;
    let line_starts = line_starts(sql);
    let mut pieces = Vec::new();
    let mut start = 0usize;
    for t in &tokens {
        if t.token == Token::SemiColon {
            let end = byte_offset(sql, &line_starts, t.span.start);
            push_piece(&mut pieces, &sql[start..end]);
            start = byte_offset(sql, &line_starts, t.span.end);
        }
    }
    push_piece(&mut pieces, &sql[start..]);
    Ok(pieces)
}

/// Rewrites `name.2` (a name followed directly by a version number, which the tokenizer reads
/// as the number `.2`) to `name."2"`, so that queries can name model versions.
pub fn quote_version_suffixes(sql: &str) -> std::borrow::Cow<'_, str> {
    let dialect = PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize_with_location() else {
        return std::borrow::Cow::Borrowed(sql);
    };
    let line_starts = line_starts(sql);
    let mut out = String::new();
    let mut copied = 0usize;
    for pair in tokens.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if let (Token::Word(_), Token::Number(n, _)) = (&a.token, &b.token)
            && n.len() > 1
            && n.starts_with('.')
            && n[1..].bytes().all(|c| c.is_ascii_digit())
            && a.span.end == b.span.start
        {
            let start = byte_offset(sql, &line_starts, b.span.start);
            let end = byte_offset(sql, &line_starts, b.span.end);
            out.push_str(&sql[copied..start]);
            out.push_str(&format!(".\"{}\"", &n[1..]));
            copied = end;
        }
    }
    if copied == 0 {
        return std::borrow::Cow::Borrowed(sql);
    }
    out.push_str(&sql[copied..]);
    std::borrow::Cow::Owned(out)
}

fn push_piece<'a>(pieces: &mut Vec<&'a str>, piece: &'a str) {
    let trimmed = piece.trim();
    if !trimmed.is_empty() && !is_only_comments(trimmed) {
        pieces.push(trimmed);
    }
}

fn is_only_comments(piece: &str) -> bool {
    let dialect = PostgreSqlDialect {};
    match Tokenizer::new(&dialect, piece).tokenize() {
        Ok(tokens) => tokens
            .iter()
            .all(|t| matches!(t, Token::Whitespace(_) | Token::EOF)),
        Err(_) => false,
    }
}

fn line_starts(sql: &str) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
    starts
}

/// Converts a 1-based (line, column-in-characters) location to a byte offset.
fn byte_offset(sql: &str, line_starts: &[usize], loc: Location) -> usize {
    let line = (loc.line.max(1) - 1) as usize;
    let Some(&line_start) = line_starts.get(line) else {
        return sql.len();
    };
    let col = (loc.column.max(1) - 1) as usize;
    sql[line_start..]
        .char_indices()
        .nth(col)
        .map(|(i, _)| line_start + i)
        .unwrap_or(sql.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_top_level_only() {
        let sql = "SELECT ';' AS a; -- x; y\nSELECT 2;\n  SELECT \"a;b\" FROM t ; ;";
        let pieces = split_statements(sql).unwrap();
        assert_eq!(
            pieces,
            vec![
                "SELECT ';' AS a",
                "-- x; y\nSELECT 2",
                "SELECT \"a;b\" FROM t"
            ]
        );
    }

    #[test]
    fn keeps_multibyte_text_intact() {
        let pieces = split_statements("SELECT 'é;ü'; SELECT 'ß'").unwrap();
        assert_eq!(pieces, vec!["SELECT 'é;ü'", "SELECT 'ß'"]);
    }

    #[test]
    fn version_suffixes_become_quoted_names() {
        assert_eq!(
            quote_version_suffixes("SELECT * FROM m.2 WHERE x = 1.5"),
            "SELECT * FROM m.\"2\" WHERE x = 1.5"
        );
        assert_eq!(
            quote_version_suffixes("SELECT 0.5, a . 2"),
            "SELECT 0.5, a . 2"
        );
        assert_eq!(
            quote_version_suffixes("SELECT * FROM cf.7"),
            "SELECT * FROM cf.\"7\""
        );
    }

    #[test]
    fn empty_and_comment_only_input_has_no_statements() {
        assert!(split_statements(" ; ;").unwrap().is_empty());
        assert!(split_statements("-- nothing").unwrap().is_empty());
    }
}
