//! User and catalog queries prepared for datafusion-postgres' parser, whose rewrite rules,
//! written for clients' catalog queries, run on every query it parses. Two of them change
//! what a user's query means:
//!
//! * One replaces every select-list subquery that refers to an outer table or holds a `$n`
//!   parameter with NULL: a silent wrong answer (`SELECT m.title, (SELECT count(*) FROM r
//!   WHERE r.m = m.id) FROM m` gave NULLs), and parameters that vanish, so a driver binds
//!   more values than the statement announces (SQLAlchemy's reflection over psycopg 3).
//! * One qualifies the unqualified columns of WHERE and ORDER BY with the table of the
//!   select list's only qualified wildcard: `SELECT r.*, m.title ... WHERE title = 'x'`
//!   failed, as `r.title`.
//!
//! In a user's query (on user tables or models) such subqueries and clauses are put in
//! parentheses, which the rules do not look through, so DataFusion plans the query as written.
//! A query on the system catalogs keeps the subquery rule's NULL (clients' catalog queries
//! rely on it: DataFusion plans few of their correlated subqueries), but as an expression
//! that still holds the subquery's parameters, typed by their casts where they have one.
//!
//! This module rewrites ASTs only.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, OrderByKind, Query, SelectItem, SetExpr, Value, Visit, VisitMut, Visitor, VisitorMut,
};

/// Puts the select-list subqueries of a user's query, at any depth, and the WHERE and ORDER
/// BY of a select list with one qualified wildcard, in parentheses. Returns whether anything
/// changed.
pub fn shield(query: &mut Query) -> bool {
    shield_subqueries(query) | shield_unqualified_columns(query)
}

/// The rule qualifies columns of the top-level SELECT only, and only in a WHERE or an ORDER
/// BY expression that is a column or an operator.
fn shield_unqualified_columns(query: &mut Query) -> bool {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return false;
    };
    let wildcards = select
        .projection
        .iter()
        .filter(|item| matches!(item, SelectItem::QualifiedWildcard(..)))
        .count();
    if wildcards != 1 {
        return false;
    }
    let mut changed = false;
    let mut nest = |expr: &mut Expr| {
        if matches!(expr, Expr::Identifier(_) | Expr::BinaryOp { .. }) {
            *expr = Expr::Nested(Box::new(expr.clone()));
            changed = true;
        }
    };
    if let Some(selection) = &mut select.selection {
        nest(selection);
    }
    if let Some(OrderByKind::Expressions(exprs)) = query.order_by.as_mut().map(|o| &mut o.kind) {
        for e in exprs {
            nest(&mut e.expr);
        }
    }
    changed
}

fn shield_subqueries(query: &mut Query) -> bool {
    struct Shield(bool);
    impl VisitorMut for Shield {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            for expr in select_list_subqueries(query) {
                *expr = Expr::Nested(Box::new(expr.clone()));
                self.0 = true;
            }
            ControlFlow::Continue(())
        }
    }
    let mut shield = Shield(false);
    let _ = VisitMut::visit(query, &mut shield);
    shield.0
}

/// Replaces the select-list subqueries of a catalog query that hold parameters by a NULL
/// that keeps them. Returns whether anything changed.
pub fn keep_parameters(query: &mut Query) -> bool {
    struct Keep(bool);
    impl VisitorMut for Keep {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            for expr in select_list_subqueries(query) {
                if let Some(null) = null_with_parameters(expr) {
                    *expr = null;
                    self.0 = true;
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut keep = Keep(false);
    let _ = VisitMut::visit(query, &mut keep);
    keep.0
}

/// The subqueries that are whole items of `query`'s select list.
fn select_list_subqueries(query: &mut Query) -> Vec<&mut Expr> {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return vec![];
    };
    select
        .projection
        .iter_mut()
        .filter_map(|item| match item {
            SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => {
                matches!(expr, Expr::Subquery(_)).then_some(expr)
            }
            _ => None,
        })
        .collect()
}

/// `CASE WHEN p1 IS NULL AND ... THEN NULL END` for the parameters `p` of `expr` (each with
/// its cast, if it has one), or None when it has none.
fn null_with_parameters(expr: &Expr) -> Option<Expr> {
    /// The parameters in order of appearance, each once: with its cast where one is seen.
    #[derive(Default)]
    struct Parameters(Vec<(String, Option<String>)>);
    impl Visitor for Parameters {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            let (name, cast) = match expr {
                Expr::Cast { expr: inner, .. } => match placeholder(inner) {
                    Some(p) => (p, Some(expr.to_string())),
                    None => return ControlFlow::Continue(()),
                },
                other => match placeholder(other) {
                    Some(p) => (p, None),
                    None => return ControlFlow::Continue(()),
                },
            };
            match self.0.iter_mut().find(|(n, _)| n == name) {
                Some((_, known)) => {
                    if known.is_none() {
                        *known = cast;
                    }
                }
                None => self.0.push((name.to_string(), cast)),
            }
            ControlFlow::Continue(())
        }
    }
    let mut found = Parameters::default();
    let _ = expr.visit(&mut found);
    if found.0.is_empty() {
        return None;
    }
    let condition: Vec<String> = found
        .0
        .into_iter()
        .map(|(name, cast)| format!("{} IS NULL", cast.unwrap_or(name)))
        .collect();
    crate::sql::parse_expr(&format!(
        "CASE WHEN {} THEN NULL END",
        condition.join(" AND ")
    ))
}

/// The `$n` of a placeholder expression.
fn placeholder(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::Placeholder(p) => Some(p),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn query(sql: &str) -> Query {
        *Parser::new(&PostgreSqlDialect {})
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_query())
            .expect("parses")
    }

    #[test]
    fn select_list_subqueries_of_user_queries_are_parenthesised() {
        let mut q = query(
            "SELECT m.title, (SELECT count(*) FROM r WHERE r.m = m.id) AS n FROM m \
             WHERE m.id IN (SELECT x FROM y)",
        );
        assert!(shield(&mut q));
        assert_eq!(
            q.to_string(),
            "SELECT m.title, ((SELECT count(*) FROM r WHERE r.m = m.id)) AS n FROM m \
             WHERE m.id IN (SELECT x FROM y)"
        );
        let mut plain = query("SELECT a FROM t WHERE a > (SELECT 1)");
        assert!(!shield(&mut plain));
    }

    #[test]
    fn where_and_order_by_beside_one_qualified_wildcard_are_parenthesised() {
        let mut q = query(
            "SELECT r.*, m.title FROM r JOIN m ON r.id = m.id WHERE title = 'x' ORDER BY title, 2",
        );
        assert!(shield(&mut q));
        assert_eq!(
            q.to_string(),
            "SELECT r.*, m.title FROM r JOIN m ON r.id = m.id WHERE (title = 'x') ORDER BY (title), 2"
        );
        let mut plain = query("SELECT * FROM r WHERE title = 'x' ORDER BY title");
        assert!(!shield(&mut plain));
    }

    #[test]
    fn catalog_subqueries_keep_their_parameters_in_a_null() {
        let mut q = query(
            "SELECT a.attname, (SELECT json_build_object($2::VARCHAR, a.x = $3) FROM s WHERE a.y != $1::VARCHAR) AS o, \
             (SELECT 1 FROM s WHERE s.z = a.z) AS p FROM pg_attribute a",
        );
        assert!(keep_parameters(&mut q));
        assert_eq!(
            q.to_string(),
            "SELECT a.attname, CASE WHEN $2::VARCHAR IS NULL AND $3 IS NULL AND $1::VARCHAR IS NULL THEN NULL END AS o, \
             (SELECT 1 FROM s WHERE s.z = a.z) AS p FROM pg_attribute a"
        );
    }
}
