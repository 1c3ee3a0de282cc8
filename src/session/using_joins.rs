//! Joins with `USING (x)` with PostgreSQL's meaning of the merged column `x`: the left
//! side's value (inner and LEFT joins), the right side's (RIGHT), the one that is not NULL
//! (FULL). DataFusion read an unqualified `x` as one side's copy, so `SELECT x FROM z RIGHT
//! JOIN a USING (x)` and `GROUP BY x` of a FULL join gave NULL for the rows that only one side
//! has, and `*` listed the copy of the side whose name sorts first, where that side has it
//! (`SELECT * FROM z LEFT JOIN a USING (x)` showed NULL `x` for the rows without a match).
//!
//! A query block whose FROM is one chain of joins of named relations, with USING or NATURAL
//! in it, is rewritten:
//! * a NATURAL join whose sides' columns are known becomes the join USING their shared
//!   columns;
//! * where an outer join merges, unqualified references to merged columns (select list,
//!   WHERE, GROUP BY, HAVING, ORDER BY) become the merged values. Qualified references (`a.x
//!   IS NULL`) keep their side's value, as in PostgreSQL;
//! * `*` becomes PostgreSQL's columns: at each join, its merged columns first, then the left
//!   side's others, then the right side's. The relations' columns come from the caller's
//!   `columns` (tables), an alias's column list (`(VALUES ...) z(x, y)`) or a subquery's
//!   named select list; where one is unknown, `*` stays DataFusion's, and so it does before
//!   `ORDER BY a.x` of a merged `x` (the sort needs the copy that `*` no longer lists).
//!
//! Where the meaning would be a guess, the block stays as written: a relation without a
//! name, a merged column that several relations on the left have, a column merged again
//! after an outer join merged it, a NATURAL join of unknown columns. This module rewrites
//! ASTs only; it asks `columns` for a table's column names.

use std::collections::HashSet;
use std::ops::ControlFlow;

use super::pg_forms::call_with;
use datafusion::sql::sqlparser::ast::{
    Expr, Ident, JoinConstraint, JoinOperator, ObjectName, Query, Select, SelectItem, SetExpr,
    TableFactor, VisitMut, VisitorMut,
};

/// The column names of a table, by its name as the query writes it; None when unknown.
pub type Columns<'a> = &'a dyn Fn(&ObjectName) -> Option<Vec<String>>;

/// The tables whose columns `rewrite` may ask for: the sides of NATURAL joins, and of joins
/// with USING in query blocks that select `*`.
pub fn tables(query: &Query) -> Vec<ObjectName> {
    struct Sides(Vec<ObjectName>);
    impl datafusion::sql::sqlparser::ast::Visitor for Sides {
        type Break = ();

        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            let SetExpr::Select(select) = query.body.as_ref() else {
                return ControlFlow::Continue(());
            };
            let [from] = select.from.as_slice() else {
                return ControlFlow::Continue(());
            };
            let constraints = from.joins.iter().filter_map(|j| match &j.join_operator {
                JoinOperator::Join(c)
                | JoinOperator::Inner(c)
                | JoinOperator::Left(c)
                | JoinOperator::LeftOuter(c)
                | JoinOperator::Right(c)
                | JoinOperator::RightOuter(c)
                | JoinOperator::FullOuter(c) => Some(c),
                _ => None,
            });
            let (mut using, mut natural) = (false, false);
            for c in constraints {
                using |= matches!(c, JoinConstraint::Using(_));
                natural |= matches!(c, JoinConstraint::Natural);
            }
            let star = select
                .projection
                .iter()
                .any(|i| matches!(i, SelectItem::Wildcard(_)));
            if natural || using && star {
                let sides =
                    std::iter::once(&from.relation).chain(from.joins.iter().map(|j| &j.relation));
                for side in sides {
                    if let TableFactor::Table {
                        name, args: None, ..
                    } = side
                    {
                        self.0.push(name.clone());
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut sides = Sides(Vec::new());
    let _ = datafusion::sql::sqlparser::ast::Visit::visit(query, &mut sides);
    sides.0
}

/// Rewrites every query block of `query` that joins two relations with USING; returns
/// whether anything changed.
pub fn rewrite(query: &mut Query, columns: Columns) -> bool {
    let mut blocks = Blocks {
        columns,
        ctes: HashSet::new(),
        changed: false,
    };
    let _ = VisitMut::visit(query, &mut blocks);
    blocks.changed
}

struct Blocks<'a> {
    columns: Columns<'a>,
    /// The names of common table expressions, which tables of the same name do not answer.
    ctes: HashSet<String>,
    changed: bool,
}

impl VisitorMut for Blocks<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            self.ctes
                .extend(with.cte_tables.iter().map(|c| c.alias.name.value.clone()));
        }
        let SetExpr::Select(select) = query.body.as_mut() else {
            return ControlFlow::Continue(());
        };
        let Some(chain) = self.chain(select) else {
            return ControlFlow::Continue(());
        };
        let (merged, outer) = (chain.merged, chain.outer);
        let aliases: Vec<String> = select
            .projection
            .iter()
            .filter_map(|item| match item {
                SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
                _ => None,
            })
            .collect();
        let sorts_by_a_copy = query.order_by.as_ref().is_some_and(|o| {
            matches!(&o.kind, datafusion::sql::sqlparser::ast::OrderByKind::Expressions(items)
                if items.iter().any(|i| matches!(&i.expr, Expr::CompoundIdentifier(parts)
                    if parts.last().is_some_and(|p| merged.iter().any(|m| m.name.value == p.value)))))
        });
        if !sorts_by_a_copy && let Some(star) = chain.star {
            self.changed |= expand_star(select, star);
        }
        if !outer {
            return ControlFlow::Continue(());
        }
        self.changed |= rewrite_select(select, &merged);
        // ORDER BY may name an output column; a name the select list gives stays that one.
        if let Some(order_by) = &mut query.order_by
            && let datafusion::sql::sqlparser::ast::OrderByKind::Expressions(items) =
                &mut order_by.kind
        {
            for item in items {
                let named_output =
                    matches!(&item.expr, Expr::Identifier(i) if aliases.contains(&i.value));
                if !named_output {
                    self.changed |= replace_references(&mut item.expr, &merged);
                }
            }
        }
        ControlFlow::Continue(())
    }
}

impl Blocks<'_> {
    /// The merged columns of `select`'s joins, if its FROM is one chain of joins of named
    /// relations with at least one USING (or NATURAL, made a USING of the shared columns
    /// where both sides' columns are known). None where this module would have to guess: a
    /// relation without a name, a merged column that more than one relation on the left
    /// has, a column merged again after an outer join, a NATURAL join of unknown columns.
    fn chain(&self, select: &mut Select) -> Option<Chain> {
        let [from] = select.from.as_mut_slice() else {
            return None;
        };
        let first = qualifier(&from.relation)?;
        let first_columns = self.columns_of(&from.relation);
        let mut star: Option<Vec<(String, Expr)>> = first_columns.as_ref().map(|cols| {
            cols.iter()
                .map(|c| (c.clone(), column_of(&first, c)))
                .collect()
        });
        let mut relations = vec![(first, first_columns)];
        let mut merged: Vec<(Merged, bool)> = Vec::new();
        let mut any_using = false;
        for join in &mut from.joins {
            let q = qualifier(&join.relation)?;
            let columns = self.columns_of(&join.relation);
            let (side, constraint) = match &mut join.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) => (Side::Inner, c),
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (Side::Left, c),
                JoinOperator::Right(c) | JoinOperator::RightOuter(c) => (Side::Right, c),
                JoinOperator::FullOuter(c) => (Side::Either, c),
                JoinOperator::CrossJoin(c) => (Side::Inner, c),
                _ => return None,
            };
            if matches!(constraint, JoinConstraint::Natural) {
                let (Some(left), Some(right)) = (&star, &columns) else {
                    return None;
                };
                let shared: Vec<ObjectName> = left
                    .iter()
                    .filter(|(c, _)| right.contains(c))
                    .map(|(c, _)| ObjectName::from(vec![Ident::with_quote('"', c.as_str())]))
                    .collect();
                if !shared.is_empty() {
                    *constraint = JoinConstraint::Using(shared);
                }
            }
            let names: Vec<Ident> = match constraint {
                JoinConstraint::Using(names) => names
                    .iter()
                    .map(|n| match n.0.as_slice() {
                        [part] => part.as_ident().cloned(),
                        _ => None,
                    })
                    .collect::<Option<_>>()?,
                _ => Vec::new(),
            };
            any_using |= !names.is_empty();
            let mut first_in_star = Vec::new();
            for name in &names {
                let left = match merged.iter().find(|(m, _)| m.name.value == name.value) {
                    Some((_, true)) => return None,
                    Some((m, false)) => m.value.clone(),
                    None => {
                        let mut having = relations.iter().filter(|(_, cols)| {
                            cols.as_ref().is_none_or(|c| c.contains(&name.value))
                        });
                        let (owner, _) = having.next()?;
                        if having.next().is_some() {
                            return None;
                        }
                        column_of(owner, &name.value)
                    }
                };
                let right = column_of(&q, &name.value);
                let value = match side {
                    Side::Inner | Side::Left => left,
                    Side::Right => right,
                    Side::Either => call_with("coalesce", vec![left, right]),
                };
                let outer = !matches!(side, Side::Inner);
                merged.retain(|(m, _)| m.name.value != name.value);
                merged.push((
                    Merged {
                        name: name.clone(),
                        value: value.clone(),
                    },
                    outer,
                ));
                first_in_star.push((name.value.clone(), value));
            }
            let shared = |c: &String| names.iter().any(|n| &n.value == c);
            star = match (star, &columns) {
                (Some(left), Some(right)) => Some(
                    first_in_star
                        .into_iter()
                        .chain(left.into_iter().filter(|(c, _)| !shared(c)))
                        .chain(
                            right
                                .iter()
                                .filter(|c| !shared(c))
                                .map(|c| (c.clone(), column_of(&q, c))),
                        )
                        .collect(),
                ),
                _ => None,
            };
            relations.push((q, columns));
        }
        if !any_using {
            return None;
        }
        let outer = merged.iter().any(|(_, outer)| *outer);
        let merged_names: Vec<String> = merged.iter().map(|(m, _)| m.name.value.clone()).collect();
        let star = star.map(|items| {
            items
                .into_iter()
                .map(|(name, expr)| {
                    if merged_names.contains(&name) {
                        SelectItem::ExprWithAlias {
                            expr,
                            alias: Ident::with_quote('"', name),
                        }
                    } else {
                        SelectItem::UnnamedExpr(expr)
                    }
                })
                .collect()
        });
        Some(Chain {
            merged: merged.into_iter().map(|(m, _)| m).collect(),
            outer,
            star,
        })
    }

    /// The column names of a relation of a FROM, in order, if they are known.
    fn columns_of(&self, relation: &TableFactor) -> Option<Vec<String>> {
        match relation {
            TableFactor::Table { alias: Some(a), .. }
            | TableFactor::Derived { alias: Some(a), .. }
                if !a.columns.is_empty() =>
            {
                Some(a.columns.iter().map(|c| c.name.value.clone()).collect())
            }
            TableFactor::Table {
                name, args: None, ..
            } => {
                let [part] = name.0.as_slice() else {
                    return (self.columns)(name);
                };
                let table = part.as_ident()?;
                if self.ctes.contains(&table.value) {
                    return None;
                }
                (self.columns)(name)
            }
            TableFactor::Derived { subquery, .. } => match subquery.body.as_ref() {
                SetExpr::Select(s) => s
                    .projection
                    .iter()
                    .map(|item| match item {
                        SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
                        SelectItem::UnnamedExpr(Expr::Identifier(i)) => Some(i.value.clone()),
                        SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
                            parts.last().map(|i| i.value.clone())
                        }
                        _ => None,
                    })
                    .collect(),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Puts `star` in place of the select list's `*` (without options); whether there was one.
fn expand_star(select: &mut Select, star: Vec<SelectItem>) -> bool {
    let Some(at) = select.projection.iter().position(|item| {
        matches!(item, SelectItem::Wildcard(o)
            if o.opt_exclude.is_none() && o.opt_except.is_none() && o.opt_rename.is_none()
                && o.opt_replace.is_none() && o.opt_ilike.is_none())
    }) else {
        return false;
    };
    select.projection.splice(at..=at, star);
    true
}

/// A merged column: its name and the expression of its value.
struct Merged {
    name: Ident,
    value: Expr,
}

/// What a chain of joins merges: the merged columns, whether an outer join merged any, and
/// what `*` lists, if every relation's columns are known.
struct Chain {
    merged: Vec<Merged>,
    outer: bool,
    star: Option<Vec<SelectItem>>,
}

/// `q.name`, the name quoted.
fn column_of(q: &Ident, name: &str) -> Expr {
    Expr::CompoundIdentifier(vec![q.clone(), Ident::with_quote('"', name)])
}

/// Which side's value a merged column takes (either, for an inner join).
#[derive(Clone, Copy)]
enum Side {
    Inner,
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

    /// Tables `z (x, y)`, `a (w, x)`, `r (u, m, n)`, `m (m, t)` and `u (u, age)`.
    fn columns(name: &ObjectName) -> Option<Vec<String>> {
        let names: &[&str] = match name.to_string().as_str() {
            "z" => &["x", "y"],
            "a" => &["w", "x"],
            "r" => &["u", "m", "n"],
            "m" => &["m", "t"],
            "u" => &["u", "age"],
            _ => return None,
        };
        Some(names.iter().map(|n| n.to_string()).collect())
    }

    fn rewritten(sql: &str) -> String {
        match crate::sql::parse_statement(sql) {
            Ok(crate::sql::Statement::Query(mut q)) => {
                rewrite(&mut q, &columns);
                q.to_string()
            }
            other => panic!("{sql} is not a query: {other:?}"),
        }
    }

    #[test]
    fn merged_columns_take_the_outer_sides_value() {
        assert_eq!(
            rewritten("SELECT x, y FROM z LEFT JOIN a USING (x) WHERE x > 1 ORDER BY x"),
            "SELECT z.\"x\" AS x, y FROM z LEFT JOIN a USING(x) WHERE z.\"x\" > 1 ORDER BY z.\"x\""
        );
        assert_eq!(
            rewritten("SELECT count(*) FROM z RIGHT JOIN a AS b USING (x) GROUP BY x"),
            "SELECT count(*) FROM z RIGHT JOIN a AS b USING(x) GROUP BY b.\"x\""
        );
        assert_eq!(
            rewritten("SELECT x AS k FROM z FULL JOIN a USING (x) ORDER BY x"),
            "SELECT coalesce(z.\"x\", a.\"x\") AS k FROM z FULL JOIN a USING(x) ORDER BY coalesce(z.\"x\", a.\"x\")"
        );
    }

    #[test]
    fn qualified_references_subqueries_and_output_names_keep_their_meaning() {
        assert_eq!(
            rewritten(
                "SELECT a.x, y AS x FROM z LEFT JOIN a USING (x) WHERE a.x IS NULL AND x IN (SELECT x FROM t) ORDER BY x"
            ),
            "SELECT a.x, y AS x FROM z LEFT JOIN a USING(x) WHERE a.x IS NULL AND z.\"x\" IN (SELECT x FROM t) ORDER BY x"
        );
        for kept in [
            "SELECT x FROM z LEFT JOIN a ON z.x = a.x",
            "SELECT x FROM z JOIN a USING(x)",
            "SELECT x FROM z LEFT JOIN a USING(x) LEFT JOIN b USING(x)",
            "SELECT * FROM z LEFT JOIN b USING(x)",
            "WITH z AS (SELECT 1 AS x) SELECT * FROM z LEFT JOIN a USING(x)",
        ] {
            assert_eq!(rewritten(kept), kept);
        }
    }

    #[test]
    fn star_lists_the_merged_columns_first() {
        assert_eq!(
            rewritten("SELECT * FROM z FULL JOIN a USING (x)"),
            "SELECT coalesce(z.\"x\", a.\"x\") AS \"x\", z.\"y\", a.\"w\" FROM z FULL JOIN a USING(x)"
        );
        assert_eq!(
            rewritten("SELECT *, 1 FROM z JOIN a USING (x)"),
            "SELECT z.\"x\" AS \"x\", z.\"y\", a.\"w\", 1 FROM z JOIN a USING(x)"
        );
        assert_eq!(
            rewritten(
                "SELECT * FROM (SELECT x, y AS v FROM t) s RIGHT JOIN (VALUES (1, 2)) b(x, u) USING (x)"
            ),
            "SELECT b.\"x\" AS \"x\", s.\"v\", b.\"u\" FROM (SELECT x, y AS v FROM t) s RIGHT JOIN (VALUES (1, 2)) b (x, u) USING(x)"
        );
    }

    #[test]
    fn a_natural_join_is_the_join_using_the_shared_columns() {
        assert_eq!(
            rewritten("SELECT * FROM z NATURAL LEFT JOIN a"),
            "SELECT z.\"x\" AS \"x\", z.\"y\", a.\"w\" FROM z LEFT JOIN a USING(\"x\")"
        );
        let unknown = "SELECT * FROM z NATURAL JOIN b";
        assert_eq!(rewritten(unknown), unknown);
    }

    #[test]
    fn only_the_sides_that_may_be_expanded_are_looked_up() {
        let looked_up = |sql: &str| match crate::sql::parse_statement(sql) {
            Ok(crate::sql::Statement::Query(q)) => {
                tables(&q).iter().map(|n| n.to_string()).collect::<Vec<_>>()
            }
            other => panic!("{sql} is not a query: {other:?}"),
        };
        assert_eq!(
            looked_up("SELECT * FROM d.z JOIN d.a USING (x)"),
            ["d.z", "d.a"]
        );
        assert_eq!(
            looked_up("SELECT y FROM d.z NATURAL JOIN d.a"),
            ["d.z", "d.a"]
        );
        assert!(looked_up("SELECT y FROM d.z JOIN d.a USING (x)").is_empty());
        assert!(looked_up("SELECT * FROM d.z JOIN d.a ON z.x = a.x").is_empty());
    }

    #[test]
    fn chains_of_joins_merge_each_key_where_its_join_is() {
        assert_eq!(
            rewritten("SELECT * FROM r LEFT JOIN m USING (m) RIGHT JOIN u USING (u)"),
            "SELECT u.\"u\" AS \"u\", r.\"m\" AS \"m\", r.\"n\", m.\"t\", u.\"age\" \
             FROM r LEFT JOIN m USING(m) RIGHT JOIN u USING(u)"
        );
        assert_eq!(
            rewritten("SELECT m, u FROM r JOIN m USING (m) FULL JOIN u USING (u)"),
            "SELECT r.\"m\" AS m, coalesce(r.\"u\", u.\"u\") AS u \
             FROM r JOIN m USING(m) FULL JOIN u USING(u)"
        );
        // Two relations on the left have x: which one the join reads is DataFusion's.
        let kept = "SELECT * FROM z JOIN a ON z.x = a.x LEFT JOIN z AS y USING(x)";
        assert_eq!(rewritten(kept), kept);
        // x merged by an outer join and joined again.
        let kept = "SELECT * FROM z LEFT JOIN a USING(x) JOIN z AS y USING(x)";
        assert_eq!(rewritten(kept), kept);
    }
}
