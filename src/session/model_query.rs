//! Rewrites a query that reads from a model into plain DataFusion SQL: the model becomes the
//! table function `recsql_model(...)` with the recommender type and USING options as
//! arguments; filters on the source's column names (`userId`, `movieId`) become filters on the
//! model's key columns, which the model table answers exactly; and a join of a table with a
//! model without ON (MindsDB's prediction join) feeds the distinct user ids of the table to
//! the model. It only transforms ASTs; it runs nothing.

use datafusion::sql::sqlparser::ast::{
    Expr, Ident, Join, JoinConstraint, JoinOperator, ObjectName, OrderBy, Query, Select,
    SelectItem, SetExpr, TableFactor, Value, ValueWithSpan, Visit, VisitMut, Visitor, VisitorMut,
};
use std::ops::ControlFlow;

use super::cold_start::Feed;
use super::model_table::{FUNCTION_NAME, QueryOptions, RecType};
use crate::error::{Error, Result, sqlstate};
use crate::sql::{Options, UsingOption};

pub const QUERY_KEYS: &[&str] = &[
    "recommender_type",
    "n_recommendations",
    "exclude_seen",
    "cold_start",
];

/// A model that a table name refers to.
#[derive(Debug, Clone)]
pub struct ModelRef {
    pub project: String,
    pub name: String,
    pub version: Option<u32>,
    pub user_col: String,
    pub item_col: String,
    /// Whether the user / item ids are text.
    pub user_text: bool,
    pub item_text: bool,
    /// Side feature columns, which a query can give values of to describe a new user or item.
    pub user_features: Vec<String>,
    pub item_features: Vec<String>,
}

/// Refuses a number compared with text ids (`user = 3` when ids are 'u3'): DataFusion would
/// quietly compare it as the text '3', which names no user.
fn check_id_literals(selection: &Expr, model: &ModelRef, alias: &str) -> Result<()> {
    let is_text_key = |e: &Expr| -> Option<&'static str> {
        let (qualifier, col) = ident_text(e)?;
        if qualifier.is_some_and(|q| q != alias) {
            return None;
        }
        if col == model.user_col && model.user_text {
            Some("user")
        } else if col == model.item_col && model.item_text {
            Some("item")
        } else {
            None
        }
    };
    let is_number = |e: &Expr| {
        matches!(
            e,
            Expr::Value(ValueWithSpan {
                value: Value::Number(..),
                ..
            })
        )
    };
    let mut found: Option<(&'static str, String)> = None;
    outer_exprs(selection, |e| match e {
        Expr::BinaryOp { left, right, .. } => {
            if let (Some(w), true) = (is_text_key(left), is_number(right)) {
                found = Some((w, right.to_string()));
            } else if let (Some(w), true) = (is_text_key(right), is_number(left)) {
                found = Some((w, left.to_string()));
            }
        }
        Expr::InList { expr, list, .. } => {
            if let (Some(w), Some(n)) = (is_text_key(expr), list.iter().find(|x| is_number(x))) {
                found = Some((w, n.to_string()));
            }
        }
        _ => {}
    });
    match found {
        Some((what, n)) => Err(Error::new(
            sqlstate::DATATYPE_MISMATCH,
            format!(
                "the {what} ids of model {} are text, but they are compared with the number {n}",
                model.name
            ),
        )
        .with_hint(format!("quote the id: '{n}'"))),
        None => Ok(()),
    }
}

/// Calls `f` on each expression of `node` outside nested queries: a subquery has its own
/// scope, so `userId` inside `(SELECT max(userId) FROM t)` names t's column, not the model's.
struct OuterExprs<F> {
    f: F,
    depth: usize,
}

impl<F: FnMut(&Expr)> Visitor for OuterExprs<F> {
    type Break = ();

    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if self.depth == 0 {
            (self.f)(e);
        }
        ControlFlow::Continue(())
    }
}

impl<F: FnMut(&mut Expr)> VisitorMut for OuterExprs<F> {
    type Break = ();

    fn pre_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if self.depth == 0 {
            (self.f)(e);
        }
        ControlFlow::Continue(())
    }
}

fn outer_exprs<V: Visit + ?Sized>(node: &V, f: impl FnMut(&Expr)) {
    let _ = node.visit(&mut OuterExprs { f, depth: 0 });
}

fn outer_exprs_mut<V: VisitMut + ?Sized>(node: &mut V, f: impl FnMut(&mut Expr)) {
    let _ = node.visit(&mut OuterExprs { f, depth: 0 });
}

pub(super) fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub(super) fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn first_factor(sql: &str) -> Result<TableFactor> {
    let q = crate::sql::parse_query(sql)?;
    match *q.body {
        SetExpr::Select(s) => s
            .from
            .into_iter()
            .next()
            .map(|t| t.relation)
            .ok_or_else(|| Error::internal("rewrite snippet has no FROM")),
        _ => Err(Error::internal("rewrite snippet is not a SELECT")),
    }
}

fn ident_text(e: &Expr) -> Option<(Option<&str>, &str)> {
    match e {
        Expr::Identifier(i) => Some((None, i.value.as_str())),
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
            Some((Some(parts[0].value.as_str()), parts[1].value.as_str()))
        }
        _ => None,
    }
}

fn string_value(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(ValueWithSpan {
            value: Value::SingleQuotedString(s),
            ..
        }) => Some(s.clone()),
        _ => None,
    }
}

/// Removes the top-level conjuncts of `expr` (through AND and parentheses) that `take`
/// accepts, and returns what remains.
fn take_conjuncts(expr: Expr, take: &mut dyn FnMut(&Expr) -> bool) -> Option<Expr> {
    use datafusion::sql::sqlparser::ast::BinaryOperator;
    match expr {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            let l = take_conjuncts(*left, take);
            let r = take_conjuncts(*right, take);
            match (l, r) {
                (Some(l), Some(r)) => Some(Expr::BinaryOp {
                    left: Box::new(l),
                    op: BinaryOperator::And,
                    right: Box::new(r),
                }),
                (Some(x), None) | (None, Some(x)) => Some(x),
                (None, None) => None,
            }
        }
        Expr::Nested(inner) => take_conjuncts(*inner, take).map(|e| Expr::Nested(Box::new(e))),
        other => (!take(&other)).then_some(other),
    }
}

/// Removes the top-level conjuncts `column = value` of `expr` that `take` accepts (it is
/// given the column's qualifier and name, and the other side), and returns what remains.
fn take_equalities(
    expr: Expr,
    take: &mut dyn FnMut(Option<&str>, &str, &Expr) -> bool,
) -> Option<Expr> {
    use datafusion::sql::sqlparser::ast::BinaryOperator;
    take_conjuncts(expr, &mut |e| match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } => match (ident_text(left), ident_text(right)) {
            (Some((q, c)), _) if take(q, c, right) => true,
            (_, Some((q, c))) => take(q, c, left),
            _ => false,
        },
        _ => false,
    })
}

/// A value a feature column can be given: a literal (`25`, `-1.5`, `'engineer'`) or a
/// parameter (`$1`).
fn is_value(e: &Expr) -> bool {
    match e {
        Expr::Value(ValueWithSpan { value, .. }) => matches!(
            value,
            Value::Number(..)
                | Value::SingleQuotedString(_)
                | Value::Boolean(_)
                | Value::Placeholder(_)
        ),
        Expr::UnaryOp {
            op: datafusion::sql::sqlparser::ast::UnaryOperator::Minus,
            expr,
        } => matches!(
            expr.as_ref(),
            Expr::Value(ValueWithSpan {
                value: Value::Number(..),
                ..
            })
        ),
        _ => false,
    }
}

fn factor_name(f: &TableFactor) -> Option<(&ObjectName, Option<&Ident>)> {
    match f {
        TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } => Some((name, alias.as_ref().map(|a| &a.name))),
        _ => None,
    }
}

fn no_constraint(op: &JoinOperator) -> bool {
    matches!(
        op,
        JoinOperator::Join(JoinConstraint::None)
            | JoinOperator::Inner(JoinConstraint::None)
            | JoinOperator::CrossJoin(JoinConstraint::None)
    )
}

/// Rewrites `query` if it reads from a model anywhere: at the top, in a derived table, a CTE,
/// a subquery of an expression or an arm of a set operation. `resolve` maps a table name to a
/// model; the names of the statement's CTEs are never models. The USING options apply to
/// every model the statement reads. Returns None for a query without a model (and without
/// USING).
pub fn rewrite(
    query: &Query,
    using: &[UsingOption],
    resolve: &dyn Fn(&ObjectName) -> Option<ModelRef>,
) -> Result<Option<String>> {
    let mut q = query.clone();
    let ctes = cte_names(&q);
    let resolve = |name: &ObjectName| {
        let cte = matches!(name.0.as_slice(), [part] if part.as_ident().is_some_and(|i| ctes.contains(&i.value)));
        if cte { None } else { resolve(name) }
    };
    let mut rewriter = Rewriter {
        using,
        resolve: &resolve,
        models: 0,
    };
    if let ControlFlow::Break(e) = VisitMut::visit(&mut q, &mut rewriter) {
        return Err(e);
    }
    if rewriter.models == 0 {
        return no_model(using);
    }
    Ok(Some(q.to_string()))
}

/// The names of the CTEs anywhere in a query, which shadow models (and tables) of the same
/// name.
pub(super) fn cte_names(query: &Query) -> Vec<String> {
    let mut ctes = CteNames(Vec::new());
    let _ = query.visit(&mut ctes);
    ctes.0
}

struct CteNames(Vec<String>);

impl Visitor for CteNames {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            self.0
                .extend(with.cte_tables.iter().map(|c| c.alias.name.value.clone()));
        }
        ControlFlow::Continue(())
    }
}

/// Visits every query of a statement, innermost first, and rewrites each SELECT that reads
/// from a model.
struct Rewriter<'a> {
    using: &'a [UsingOption],
    resolve: &'a dyn Fn(&ObjectName) -> Option<ModelRef>,
    /// How many SELECTs read from a model.
    models: usize,
}

impl VisitorMut for Rewriter<'_> {
    type Break = Error;

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<Error> {
        let Query { body, order_by, .. } = query;
        let done = match body.as_mut() {
            // The query's ORDER BY names the select's columns only without a set operation.
            SetExpr::Select(select) => self.select(select, Some(order_by)),
            other => self.set_arms(other),
        };
        match done {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }
}

impl Rewriter<'_> {
    /// The SELECTs that are arms of a set operation (a nested query is visited on its own).
    fn set_arms(&mut self, body: &mut SetExpr) -> Result<()> {
        match body {
            SetExpr::Select(select) => self.select(select, None),
            SetExpr::SetOperation { left, right, .. } => {
                self.set_arms(left)?;
                self.set_arms(right)
            }
            _ => Ok(()),
        }
    }

    fn select(
        &mut self,
        select: &mut Select,
        order_by: Option<&mut Option<OrderBy>>,
    ) -> Result<()> {
        if rewrite_select(select, order_by, self.using, self.resolve)? {
            self.models += 1;
        }
        Ok(())
    }
}

/// Rewrites one SELECT if it reads from a model, and says whether it did; `order_by` is the
/// ORDER BY of the query the SELECT is the body of.
fn rewrite_select(
    select: &mut Select,
    order_by: Option<&mut Option<OrderBy>>,
    using: &[UsingOption],
    resolve: &dyn Fn(&ObjectName) -> Option<ModelRef>,
) -> Result<bool> {
    // Find the model among the FROM items and their joins: (from index, join index).
    let mut found: Option<(usize, Option<usize>, ModelRef)> = None;
    for (t, twj) in select.from.iter().enumerate() {
        let candidates = std::iter::once((None, &twj.relation)).chain(
            twj.joins
                .iter()
                .enumerate()
                .map(|(j, join)| (Some(j), &join.relation)),
        );
        for (j, factor) in candidates {
            if let Some((name, _)) = factor_name(factor)
                && let Some(m) = resolve(name)
            {
                if found.is_some() {
                    return Err(Error::not_supported(
                        "a SELECT can read from one model at a time",
                    )
                    .with_hint(
                        "read each model in its own CTE or subquery and join those: WITH a AS (SELECT * FROM m WHERE userId = 1), b AS (SELECT * FROM m WHERE userId = 2) SELECT ... FROM a JOIN b ON a.item_id = b.item_id",
                    ));
                }
                found = Some((t, j, m));
            }
        }
    }
    let Some((t, j, model)) = found else {
        return Ok(false);
    };

    let opts = Options::new(using, QUERY_KEYS, "a model query")?;
    let factor = match j {
        None => &select.from[t].relation,
        Some(j) => &select.from[t].joins[j].relation,
    };
    let (_, alias) = factor_name(factor).ok_or_else(|| Error::internal("model factor vanished"))?;
    let alias = alias
        .map(|a| a.value.clone())
        .unwrap_or_else(|| model.name.clone());
    let ours = |q: Option<&str>| q.is_none_or(|q| q == alias);

    let mut kind_text = None;
    if let Some(selection) = select.selection.take() {
        select.selection = take_equalities(selection, &mut |q, c, v| {
            let hit = ours(q) && c.eq_ignore_ascii_case("recommender_type");
            match string_value(v) {
                Some(s) if hit => {
                    kind_text = Some(s);
                    true
                }
                _ => false,
            }
        });
    }
    let kind = match kind_text.or(opts.text("recommender_type")?) {
        Some(s) => RecType::parse(&s)?,
        None => RecType::UserItem,
    };
    let mut options = QueryOptions {
        n: opts
            .integer("n_recommendations", 1..=100_000)?
            .map(|n| n as usize),
        exclude_seen: opts.boolean("exclude_seen")?.unwrap_or(true),
        cold_start_error: matches!(
            opts.choice("cold_start", &["popular", "error"])?.as_deref(),
            Some("error")
        ),
        ..QueryOptions::default()
    };

    // `feature = value` describes a user (user_item, user_user) or an item (item_item) that
    // the model has not seen: the model table takes such filters on its feature columns.
    let (feature_columns, key_col) = match kind {
        RecType::ItemItem => (&model.item_features, &model.item_col),
        _ => (&model.user_features, &model.user_col),
    };
    let is_feature = |q: Option<&str>, c: &str| {
        ours(q) && c != key_col && feature_columns.iter().any(|f| f == c)
    };
    if let Some(selection) = select.selection.clone() {
        // Every other use of a feature column in WHERE is a mistake.
        let rest = take_equalities(selection, &mut |q, c, v| is_feature(q, c) && is_value(v));
        let mut misused = None;
        outer_exprs(&rest, |e| {
            if let Some((q, c)) = ident_text(e)
                && is_feature(q, c)
            {
                misused = Some(c.to_string());
            }
        });
        if let Some(c) = misused {
            return Err(Error::not_supported(format!(
                "feature column {c} of model {} can only be given a value with {c} = <value>, which describes a {} the model has not seen",
                model.name,
                if kind == RecType::ItemItem { "new item" } else { "new user" }
            ))
            .with_hint(format!("write {c} = <value>, combined with AND")));
        }
    }

    // Source column names → the model's key columns.
    let (user_key, item_key) = match kind {
        RecType::UserItem => (Some("user_id"), Some("item_id")),
        RecType::ItemItem => (None, Some("item_id_one")),
        RecType::UserUser => (Some("user_id_one"), None),
    };
    let rename = |e: &mut Expr| {
        let target = |col: &str| -> Option<&'static str> {
            if col == model.user_col {
                user_key
            } else if col == model.item_col {
                item_key
            } else {
                None
            }
        };
        match e {
            Expr::Identifier(i) => {
                if let Some(to) = target(&i.value) {
                    *i = Ident::new(to);
                }
            }
            Expr::CompoundIdentifier(parts) if parts.len() == 2 && parts[0].value == alias => {
                if let Some(to) = target(&parts[1].value) {
                    parts[1] = Ident::new(to);
                }
            }
            _ => {}
        }
    };
    if let Some(selection) = select.selection.as_ref() {
        check_id_literals(selection, &model, &alias)?;
    }
    // A selected source column keeps its name: `SELECT movieId` answers a column "movieId".
    for item in select.projection.iter_mut() {
        if let SelectItem::UnnamedExpr(e) = item
            && let Some((q, c)) = ident_text(e)
            && ours(q)
            && (c == model.user_col || c == model.item_col)
        {
            let name = Ident::with_quote('"', c);
            let mut expr = e.clone();
            rename(&mut expr);
            if expr != *e {
                *item = SelectItem::ExprWithAlias { expr, alias: name };
            }
        }
    }
    outer_exprs_mut(&mut select.projection, &rename);
    outer_exprs_mut(&mut select.selection, &rename);
    outer_exprs_mut(&mut select.group_by, &rename);
    outer_exprs_mut(&mut select.having, &rename);
    if let Some(order_by) = order_by {
        outer_exprs_mut(order_by, &rename);
    }

    // The prediction join: a table joined with the model without a condition.
    let twj = &mut select.from[t];
    let join_partner: Option<(Option<usize>, usize)> = match j {
        None => twj
            .joins
            .iter()
            .position(|jn| no_constraint(&jn.join_operator))
            .map(|p| (Some(p), p)),
        Some(jj) if no_constraint(&twj.joins[jj].join_operator) => Some((None, jj)),
        Some(_) => None,
    };
    if let Some((other_join, model_join)) = join_partner {
        let (feed_col, key) = match kind {
            RecType::ItemItem => (model.item_col.clone(), "item_id_one"),
            RecType::UserItem => (model.user_col.clone(), "user_id"),
            RecType::UserUser => (model.user_col.clone(), "user_id_one"),
        };
        let other = match other_join {
            None => &mut twj.relation,
            Some(p) => &mut twj.joins[p].relation,
        };
        // The other side's rows as `<relation> AS <alias>`, its alias and its name.
        let (relation, other_alias, shown) = match other {
            TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } => {
                let a = alias
                    .as_ref()
                    .map(|a| a.name.value.clone())
                    .unwrap_or_else(|| {
                        name.0
                            .last()
                            .and_then(|p| p.as_ident())
                            .map(|i| i.value.clone())
                            .unwrap_or_default()
                    });
                (format!("{name} AS {}", quote(&a)), a, name.to_string())
            }
            TableFactor::Derived {
                lateral: false,
                subquery,
                alias: Some(alias),
                ..
            } => {
                let columns = if alias.columns.is_empty() {
                    String::new()
                } else {
                    let names: Vec<String> = alias.columns.iter().map(|c| c.to_string()).collect();
                    format!(" ({})", names.join(", "))
                };
                (
                    format!("({subquery}) AS {}{columns}", alias.name),
                    alias.name.value.clone(),
                    alias.name.value.clone(),
                )
            }
            _ => {
                return Err(Error::not_supported(
                    "a prediction join needs a table or a subquery with an alias on the other side of the model",
                ));
            }
        };
        // The conditions on the other side alone decide which ids it feeds to the model: they
        // move from the WHERE into its read (its other columns are not in the join).
        let mut narrowing = Vec::new();
        if let Some(selection) = select.selection.take() {
            select.selection = take_conjuncts(selection, &mut |c| {
                let alone = only_columns_of(c, &other_alias);
                if alone {
                    narrowing.push(c.clone());
                }
                alone
            });
        }
        let narrowing: Vec<String> = narrowing.iter().map(|c| format!("({c})")).collect();
        let narrowing = if narrowing.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", narrowing.join(" AND "))
        };
        options.feed = Some(Feed {
            query: format!("SELECT * FROM {relation}{narrowing}"),
            name: shown,
            column: feed_col.clone(),
        });
        // Columns of the table other than the id it feeds are not available.
        for item in &select.projection {
            let bad = match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    matches!(ident_text(e), Some((Some(a), c)) if a == other_alias && c != feed_col)
                        .then(|| e.to_string())
                }
                _ => None,
            };
            if let Some(col) = bad {
                return Err(Error::new(
                    sqlstate::UNDEFINED_COLUMN,
                    format!(
                        "{col} is not available in a prediction join: {other_alias} only supplies the {feed_col} values the model answers for, and each result row is one recommendation, not one row of {other_alias}"
                    ),
                )
                .with_hint(format!("select {other_alias}.{feed_col} and the model's columns, or join with ON to combine rows")));
            }
        }
        *other = first_factor(&format!(
            "SELECT * FROM (SELECT DISTINCT {col} FROM {relation}{narrowing}) AS {a}",
            col = quote(&feed_col),
            a = quote(&other_alias)
        ))?;
        let on = crate::sql::parse_query(&format!(
            "SELECT 1 WHERE {}.{} = {}.{}",
            quote(&alias),
            key,
            quote(&other_alias),
            quote(&feed_col)
        ))?;
        let cond = match *on.body {
            SetExpr::Select(s) => s.selection,
            _ => None,
        }
        .ok_or_else(|| Error::internal("join condition snippet"))?;
        let join: &mut Join = &mut twj.joins[model_join];
        join.join_operator = JoinOperator::Inner(JoinConstraint::On(cond));
    }

    // `userId IN (SELECT ...)`: the subquery's ids are whom to answer for, read like the other
    // side of a prediction join, rather than answering everyone and keeping those ids. The
    // condition stays in the WHERE.
    if options.feed.is_none() {
        let subject_key = match kind {
            RecType::ItemItem => "item_id_one",
            RecType::UserItem => "user_id",
            RecType::UserUser => "user_id_one",
        };
        let subquery = select
            .selection
            .as_ref()
            .map(|w| conjuncts(w))
            .unwrap_or_default()
            .into_iter()
            .find_map(|c| match c {
                Expr::InSubquery {
                    expr,
                    subquery,
                    negated: false,
                } => matches!(ident_text(expr), Some((q, c)) if ours(q) && c == subject_key)
                    .then_some(subquery),
                _ => None,
            });
        if let Some(subquery) = subquery {
            options.feed = Some(Feed {
                query: format!("SELECT * FROM ({subquery}) AS ids (id)"),
                name: "the IN subquery".to_string(),
                column: "id".to_string(),
            });
        }
    }

    let factor = match j {
        None => &mut select.from[t].relation,
        Some(j) => &mut select.from[t].joins[j].relation,
    };
    let options_json =
        serde_json::to_string(&options).map_err(|e| Error::internal(e.to_string()))?;
    *factor = first_factor(&format!(
        "SELECT * FROM {FUNCTION_NAME}({}, {}, {}, {}, {}) AS {}",
        literal(&model.project),
        literal(&model.name),
        model.version.unwrap_or(0),
        literal(kind.as_str()),
        literal(&options_json),
        quote(&alias)
    ))?;
    Ok(true)
}

/// The top-level AND-ed conditions of a WHERE.
fn conjuncts(e: &Expr) -> Vec<&Expr> {
    use datafusion::sql::sqlparser::ast::BinaryOperator;
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            let mut all = conjuncts(left);
            all.extend(conjuncts(right));
            all
        }
        Expr::Nested(inner) => conjuncts(inner),
        other => vec![other],
    }
}

/// Whether a condition reads only columns qualified by `alias` (at least one), with no
/// subquery: such a condition can be applied to that relation alone.
fn only_columns_of(e: &Expr, alias: &str) -> bool {
    let (mut ours, mut other) = (0, 0);
    outer_exprs(e, |x| match x {
        Expr::CompoundIdentifier(parts) if parts.len() == 2 && parts[0].value == alias => ours += 1,
        Expr::Identifier(_)
        | Expr::CompoundIdentifier(_)
        | Expr::Subquery(_)
        | Expr::InSubquery { .. }
        | Expr::Exists { .. }
        // A parameter is bound in the query, not in the feed's own read.
        | Expr::Value(ValueWithSpan {
            value: Value::Placeholder(_),
            ..
        }) => other += 1,
        _ => {}
    });
    ours > 0 && other == 0
}

fn no_model(using: &[UsingOption]) -> Result<Option<String>> {
    if using.is_empty() {
        Ok(None)
    } else {
        Err(Error::new(
            sqlstate::UNDEFINED_TABLE,
            "USING on a SELECT needs a model in its FROM clause, and no model was found",
        )
        .with_hint("SHOW MODELS lists the models"))
    }
}
