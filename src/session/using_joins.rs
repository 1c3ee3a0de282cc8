//! Outer joins with `USING (x)` with PostgreSQL's meaning of the merged column `x`: the left
//! side's value (LEFT), the right side's (RIGHT), the one that is not NULL (FULL).
//! DataFusion read an unqualified `x` as one side's copy, so `SELECT x FROM z RIGHT JOIN a
//! USING (x)` and `GROUP BY x` of a FULL join gave NULL for the rows that only one side has.
//!
//! A query block whose FROM is one join of two named relations with USING is rewritten:
//! unqualified references to a merged column (select list, WHERE, GROUP BY, HAVING, ORDER
//! BY) become the merged value. Qualified references (`a.x IS NULL`) keep their side's
//! value, as in PostgreSQL.
//!
//! Not yet: `SELECT *` of such a join still lists DataFusion's choice of copy, where that
//! side has it (its expansion needs the sides' columns, which the AST does not have, and a
//! plan rule may not change a result's columns after they are announced); chains of several
//! joins and NATURAL joins keep DataFusion's reading.
//!
//! This module rewrites ASTs only.

use std::ops::ControlFlow;

use super::pg_forms::call_with;
use datafusion::sql::sqlparser::ast::{
    Expr, Ident, JoinConstraint, JoinOperator, Query, Select, SelectItem, SetExpr, TableFactor,
    VisitMut, VisitorMut,
};

/// Rewrites every query block of `query` that joins two relations with USING; returns
/// whether anything changed.
pub fn rewrite(query: &mut Query) -> bool {
    let mut blocks = Blocks(false);
    let _ = VisitMut::visit(query, &mut blocks);
    blocks.0
}

struct Blocks(bool);

impl VisitorMut for Blocks {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        let Some(merged) = (match query.body.as_mut() {
            SetExpr::Select(select) => merged_columns(select),
            _ => None,
        }) else {
            return ControlFlow::Continue(());
        };
        let SetExpr::Select(select) = query.body.as_mut() else {
            return ControlFlow::Continue(());
        };
        let aliases: Vec<String> = select
            .projection
            .iter()
            .filter_map(|item| match item {
                SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
                _ => None,
            })
            .collect();
        self.0 |= rewrite_select(select, &merged);
        // ORDER BY may name an output column; a name the select list gives stays that one.
        if let Some(order_by) = &mut query.order_by
            && let datafusion::sql::sqlparser::ast::OrderByKind::Expressions(items) =
                &mut order_by.kind
        {
            for item in items {
                let named_output =
                    matches!(&item.expr, Expr::Identifier(i) if aliases.contains(&i.value));
                if !named_output {
                    self.0 |= replace_references(&mut item.expr, &merged);
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// A merged column: its name and the expression of its value.
struct Merged {
    name: Ident,
    value: Expr,
}

/// The merged columns of `select`'s FROM, if it is one outer join of two named relations
/// with USING.
fn merged_columns(select: &Select) -> Option<Vec<Merged>> {
    let [from] = select.from.as_slice() else {
        return None;
    };
    let [join] = from.joins.as_slice() else {
        return None;
    };
    let (kind, columns) = match &join.join_operator {
        JoinOperator::Left(JoinConstraint::Using(c))
        | JoinOperator::LeftOuter(JoinConstraint::Using(c)) => (Side::Left, c),
        JoinOperator::Right(JoinConstraint::Using(c))
        | JoinOperator::RightOuter(JoinConstraint::Using(c)) => (Side::Right, c),
        JoinOperator::FullOuter(JoinConstraint::Using(c)) => (Side::Either, c),
        _ => return None,
    };
    let left = qualifier(&from.relation)?;
    let right = qualifier(&join.relation)?;
    columns
        .iter()
        .map(|c| {
            let [part] = c.0.as_slice() else { return None };
            let name = part.as_ident()?.clone();
            let side = |q: &Ident| Expr::CompoundIdentifier(vec![q.clone(), name.clone()]);
            let value = match kind {
                Side::Left => side(&left),
                Side::Right => side(&right),
                Side::Either => call_with("coalesce", vec![side(&left), side(&right)]),
            };
            Some(Merged { name, value })
        })
        .collect()
}

/// Which side's value a merged column takes.
#[derive(Clone, Copy)]
enum Side {
    Left,
    Right,
    Either,
}

/// The name a relation's columns are qualified with: its alias, or its table's name.
fn qualifier(relation: &TableFactor) -> Option<Ident> {
    match relation {
        TableFactor::Table { alias: Some(a), .. } | TableFactor::Derived { alias: Some(a), .. } => {
            Some(a.name.clone())
        }
        TableFactor::Table {
            name, alias: None, ..
        } => name.0.last()?.as_ident().cloned(),
        _ => None,
    }
}

fn rewrite_select(select: &mut Select, merged: &[Merged]) -> bool {
    let mut changed = false;
    for item in &mut select.projection {
        match item {
            SelectItem::UnnamedExpr(Expr::Identifier(i)) => {
                if let Some(m) = merged.iter().find(|m| m.name.value == i.value) {
                    *item = SelectItem::ExprWithAlias {
                        expr: m.value.clone(),
                        alias: i.clone(),
                    };
                    changed = true;
                }
            }
            SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => {
                changed |= replace_references(expr, merged);
            }
            _ => {}
        }
    }
    if let Some(selection) = &mut select.selection {
        changed |= replace_references(selection, merged);
    }
    if let datafusion::sql::sqlparser::ast::GroupByExpr::Expressions(exprs, _) =
        &mut select.group_by
    {
        for e in exprs {
            changed |= replace_references(e, merged);
        }
    }
    if let Some(having) = &mut select.having {
        changed |= replace_references(having, merged);
    }
    changed
}

/// Replaces the unqualified references to merged columns in `expr`, outside its subqueries
/// (whose own columns may share the names).
fn replace_references(expr: &mut Expr, merged: &[Merged]) -> bool {
    struct References<'a> {
        merged: &'a [Merged],
        depth: usize,
        changed: bool,
    }
    impl VisitorMut for References<'_> {
        type Break = ();

        fn pre_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
            self.depth += 1;
            ControlFlow::Continue(())
        }

        fn post_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }

        fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if self.depth == 0
                && let Expr::Identifier(i) = expr
                && let Some(m) = self.merged.iter().find(|m| m.name.value == i.value)
            {
                *expr = m.value.clone();
                self.changed = true;
            }
            ControlFlow::Continue(())
        }
    }
    let mut v = References {
        merged,
        depth: 0,
        changed: false,
    };
    let _ = VisitMut::visit(expr, &mut v);
    v.changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        match crate::sql::parse_statement(sql) {
            Ok(crate::sql::Statement::Query(mut q)) => {
                rewrite(&mut q);
                q.to_string()
            }
            other => panic!("{sql} is not a query: {other:?}"),
        }
    }

    #[test]
    fn merged_columns_take_the_outer_sides_value() {
        assert_eq!(
            rewritten("SELECT x, y FROM z LEFT JOIN a USING (x) WHERE x > 1 ORDER BY x"),
            "SELECT z.x AS x, y FROM z LEFT JOIN a USING(x) WHERE z.x > 1 ORDER BY z.x"
        );
        assert_eq!(
            rewritten("SELECT count(*) FROM z RIGHT JOIN a AS b USING (x) GROUP BY x"),
            "SELECT count(*) FROM z RIGHT JOIN a AS b USING(x) GROUP BY b.x"
        );
        assert_eq!(
            rewritten("SELECT x AS k FROM z FULL JOIN a USING (x) ORDER BY x"),
            "SELECT coalesce(z.x, a.x) AS k FROM z FULL JOIN a USING(x) ORDER BY coalesce(z.x, a.x)"
        );
    }

    #[test]
    fn qualified_references_subqueries_and_output_names_keep_their_meaning() {
        assert_eq!(
            rewritten(
                "SELECT a.x, y AS x FROM z LEFT JOIN a USING (x) WHERE a.x IS NULL AND x IN (SELECT x FROM t) ORDER BY x"
            ),
            "SELECT a.x, y AS x FROM z LEFT JOIN a USING(x) WHERE a.x IS NULL AND z.x IN (SELECT x FROM t) ORDER BY x"
        );
        for kept in [
            "SELECT x FROM z LEFT JOIN a ON z.x = a.x",
            "SELECT x FROM z JOIN a USING(x)",
            "SELECT x FROM z LEFT JOIN a USING(x) LEFT JOIN b USING(x)",
        ] {
            assert_eq!(rewritten(kept), kept);
        }
    }
}
