//! The `$n` parameters of recsql's own statements (an `INSERT INTO files.t ... VALUES ($1,
//! $2)` prepared through the extended protocol): whether a statement has any, and binding
//! their values into it. Each placeholder becomes the SQL literal of its value, written by
//! DataFusion's unparser so that the value keeps its type (dates and timestamps as casts).
//! Nothing here decides or decodes types: the caller decodes the values with the types it
//! announced for the statement.

use std::ops::ControlFlow;

use datafusion::common::ScalarValue;
use datafusion::logical_expr::Expr as DfExpr;
use datafusion::sql::sqlparser::ast::{Expr, Value, visit_expressions, visit_expressions_mut};
use datafusion::sql::unparser::expr_to_sql;

use super::Statement;
use crate::error::{Error, Result};

/// The 1-based index of placeholder `$n`.
fn index(name: &str) -> Option<usize> {
    name.strip_prefix('$')?.parse().ok().filter(|i| *i > 0)
}

/// Whether `stmt` holds a `$n` placeholder where recsql binds them.
pub fn has_parameters(stmt: &Statement) -> bool {
    let Statement::InsertInto { query, .. } = stmt else {
        return false;
    };
    visit_expressions(query.as_ref(), |e| match e {
        Expr::Value(v) if matches!(v.value, Value::Placeholder(_)) => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// Replaces each `$n` of `stmt` with the literal of `values[n - 1]`.
pub fn bind_parameters(stmt: &mut Statement, values: &[ScalarValue]) -> Result<()> {
    let Statement::InsertInto { query, .. } = stmt else {
        return Ok(());
    };
    let mut failure = None;
    let _ = visit_expressions_mut(query.as_mut(), |e| {
        let Expr::Value(v) = e else {
            return ControlFlow::Continue(());
        };
        let Value::Placeholder(name) = &v.value else {
            return ControlFlow::Continue(());
        };
        let Some(value) = index(name).and_then(|i| values.get(i - 1)) else {
            failure = Some(Error::new(
                "08P01",
                format!(
                    "the statement uses parameter {name}, but {} values were bound",
                    values.len()
                ),
            ));
            return ControlFlow::Break(());
        };
        match expr_to_sql(&DfExpr::Literal(value.clone(), None)) {
            Ok(literal) => {
                *e = literal;
                ControlFlow::Continue(())
            }
            Err(err) => {
                failure = Some(Error::not_supported(format!(
                    "parameter {name}: a value of type {} cannot be bound ({err})",
                    value.data_type()
                )));
                ControlFlow::Break(())
            }
        }
    });
    failure.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::parse_statement;

    #[test]
    fn binds_values_as_typed_literals() {
        let mut stmt =
            parse_statement("INSERT INTO files.t (a, b, c) VALUES ($1, $2, $3), ($1, NULL, $3)")
                .unwrap();
        assert!(has_parameters(&stmt));
        bind_parameters(
            &mut stmt,
            &[
                ScalarValue::Int64(Some(7)),
                ScalarValue::Utf8(Some("it's".into())),
                ScalarValue::Date32(Some(0)),
            ],
        )
        .unwrap();
        let text = stmt.to_string();
        assert!(text.contains("VALUES (7, 'it''s', CAST('1970-01-01' AS DATE)), (7, NULL, CAST('1970-01-01' AS DATE))"), "{text}");
        assert!(!has_parameters(&stmt));
    }

    #[test]
    fn a_missing_value_is_an_error() {
        let mut stmt = parse_statement("INSERT INTO files.t VALUES ($2)").unwrap();
        let err = bind_parameters(&mut stmt, &[ScalarValue::Int64(Some(1))]).unwrap_err();
        assert_eq!(err.code, "08P01");
        let plain = parse_statement("INSERT INTO files.t VALUES (1)").unwrap();
        assert!(!has_parameters(&plain));
    }
}
