//! The nesting limit of statements. Expressions and queries nested very deep (a generated
//! `1 + 1 + ... + 1` of thousands of terms) would overflow the stack of the recursive code
//! that plans them, which aborts the whole server; PostgreSQL refuses them with "stack depth
//! limit exceeded" (54001), and so does recsql, before anything else walks the statement.
//!
//! Two checks, neither of which recurses deeper than the limit: one over the tokens, before
//! parsing, refuses chains so long that even building and dropping their syntax tree would
//! overflow; one over the parsed statement measures its exact depth. It reads statements
//! only.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{Expr, Query, Visit, Visitor};
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan};

use super::ast::Statement;
use crate::error::{Error, Result};

/// The deepest that expressions and queries may nest: about where PostgreSQL's default
/// `max_stack_depth` stops a chain of additions (1000 terms pass there, 5000 do not).
pub const MAX_NESTING: usize = 1000;

/// An error if `stmt` nests expressions or queries deeper than [`MAX_NESTING`].
pub fn check(stmt: &Statement) -> Result<()> {
    for query in stmt.queries() {
        let mut depth = Depth(0);
        if Visit::visit(query, &mut depth).is_break() {
            return Err(too_deep());
        }
    }
    Ok(())
}

/// An error if `tokens` hold a chain of operators (`a + b + ...`, `x AND y AND ...`) whose
/// syntax tree would be far deeper than [`MAX_NESTING`]: more than four times as many
/// operators in a row, within one pair of parentheses and between commas (an operator of a
/// chain nests one level, or two where precedences alternate).
pub fn check_tokens(tokens: &[TokenWithSpan]) -> Result<()> {
    let mut runs: Vec<usize> = vec![0];
    for t in tokens {
        let run = match &t.token {
            Token::LParen | Token::LBracket => {
                runs.push(0);
                continue;
            }
            Token::RParen | Token::RBracket => {
                if runs.len() > 1 {
                    runs.pop();
                }
                continue;
            }
            Token::Comma | Token::SemiColon => {
                if let Some(run) = runs.last_mut() {
                    *run = 0;
                }
                continue;
            }
            Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Caret
            | Token::Eq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq
            | Token::DoubleColon => runs.last_mut(),
            Token::Word(w)
                if w.quote_style.is_none()
                    && ["and", "or", "not"]
                        .iter()
                        .any(|k| w.value.eq_ignore_ascii_case(k)) =>
            {
                runs.last_mut()
            }
            _ => continue,
        };
        if let Some(run) = run {
            *run += 1;
            if *run > 4 * MAX_NESTING {
                return Err(too_deep());
            }
        }
    }
    Ok(())
}

fn too_deep() -> Error {
    Error::new(
        "54001",
        format!(
            "stack depth limit exceeded: the statement nests expressions or queries more than {MAX_NESTING} deep"
        ),
    )
    .with_hint(
        "Write long chains of operators as a function of a list (sum over a VALUES list, IN (...)) or split the statement.",
    )
}

struct Depth(usize);

impl Depth {
    fn enter(&mut self) -> ControlFlow<()> {
        self.0 += 1;
        if self.0 > MAX_NESTING {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn leave(&mut self) -> ControlFlow<()> {
        self.0 -= 1;
        ControlFlow::Continue(())
    }
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.enter()
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.leave()
    }

    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.enter()
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.leave()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::parse_statement;

    fn chain(terms: usize) -> String {
        format!("SELECT {}", vec!["1"; terms].join(" + "))
    }

    #[test]
    fn deep_chains_are_refused_and_others_pass() {
        assert!(parse_statement(&chain(MAX_NESTING - 10)).is_ok());
        let e = parse_statement(&chain(MAX_NESTING * 20)).unwrap_err();
        assert_eq!(e.code, "54001", "{e:?}");
        // Wide is not deep: a long IN list and many rows are fine.
        let wide = format!(
            "SELECT * FROM t WHERE x IN ({})",
            vec!["1"; MAX_NESTING * 5].join(", ")
        );
        assert!(parse_statement(&wide).is_ok());
        let rows = format!(
            "INSERT INTO files.t VALUES {}",
            vec!["(-1, 'a')"; MAX_NESTING * 5].join(", ")
        );
        assert!(parse_statement(&rows).is_ok());
        // Chains too long to build are refused from their tokens.
        let e = parse_statement(&chain(MAX_NESTING * 1000)).unwrap_err();
        assert_eq!(e.code, "54001", "{e:?}");
        let ands = format!(
            "SELECT * FROM t WHERE {}",
            vec!["x = 1"; MAX_NESTING * 5].join(" AND ")
        );
        assert_eq!(parse_statement(&ands).unwrap_err().code, "54001");
    }
}
