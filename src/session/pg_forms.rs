//! PostgreSQL forms that DataFusion lacks or reads otherwise, rewritten into forms it has
//! with PostgreSQL's meaning:
//!
//! * `FETCH FIRST n ROWS ONLY` as `LIMIT n` (DataFusion refuses FETCH);
//! * `x SIMILAR TO 'pattern'` as `x ~ '^(?:regex)$'`: DataFusion read the pattern as an
//!   unanchored regular expression, so `'abc' SIMILAR TO 'a%'` was false;
//! * `generate_series(...)` and `regexp_matches(...)` as a select item, a set of rows in
//!   PostgreSQL, as `unnest(...)` of them (they give one array);
//! * `FROM generate_series(1, 3) g` and `FROM unnest(a) g`: the column is named `g`, as in
//!   PostgreSQL (DataFusion names it `value` or after the call);
//! * `float` and `float(p)` with p > 24 as `double precision`, as in PostgreSQL (DataFusion
//!   read them as `real`, losing digits silently);
//! * an array in PostgreSQL's text form, cast to an array type or compared with `= ANY`
//!   (`'{1,"a b",NULL}'::text[]`), as `ARRAY[...]` of its elements
//!   (`session::array_text`): datafusion-postgres' parser split it at every comma and kept
//!   the quotes;
//! * `x = ANY (subquery)` as `x IN (subquery)` and `x <> ALL (subquery)` as `NOT IN`
//!   (datafusion-postgres' parser made them array functions that fail);
//! * `x LIKE ANY (ARRAY[...])` and `ILIKE ANY`, which DataFusion refuses, as ORs of LIKEs;
//! * `EXISTS (subquery)` outside WHERE and HAVING (a select item, a CASE), which DataFusion
//!   plans only as a filter, as a count of the subquery's rows compared with 0;
//! * `FROM t TABLESAMPLE BERNOULLI (p)` or `SYSTEM (p)`, which DataFusion ignored (every row
//!   came back), as a filter that keeps each row with probability p%; `REPEATABLE` is
//!   refused, as recsql cannot repeat a sample;
//! * an interval times or divided by a number (`INTERVAL '1 day' * 7`, `'1 hour'::interval
//!   / 4`), which DataFusion refuses, as `_pg_interval_mul` (`datasource::pg_intervals`);
//! * `x::json` and `x::jsonb` as text, and `j -> k` as `json_get_json(j, k)` (the JSON
//!   functions are datafusion-functions-json's);
//! * a cast in an aggregate's or window function's arguments as `_pg_cast_named(cast,
//!   'type')`, so that `avg(x)` and `avg(x::float8)` have different names in the plan;
//! * interval text in PostgreSQL's forms that Arrow refuses (`'04:05:06'`, `'3 days ago'`,
//!   `'P1DT2H'`), in units (`session::interval_input`);
//! * numeric literals, which DataFusion reads as decimals: one beyond what a 128-bit decimal
//!   holds (`1e308`, `1e-400`, 40 digits) as a double (DataFusion refused it), and one whose
//!   exponent passes its fraction (`1e5`) as a numeric of whole digits (`100000`);
//! * a cast to `numeric` without precision, which DataFusion reads as `numeric(38, 10)`
//!   (`5::numeric` was `5.0000000000`): of a text literal, to its own digits (`'1.25'` is
//!   `numeric(3, 2)`), of anything else as `_pg_numeric(x)`, which keeps a numeric's scale
//!   and gives an integer none (`datasource::pg_functions`).
//!
//! This module rewrites ASTs only.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    ArrayElemTypeDef, BinaryOperator, DataType, ExactNumberInfo, Expr, Function, FunctionArg,
    FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident, LimitClause, ObjectName,
    Query, Select, SelectItem, SetExpr, TableAliasColumnDef, TableFactor, Value, VisitMut,
    VisitorMut,
};

use crate::error::{Error, Result};

/// Rewrites the forms in `query`, at any depth; returns whether anything changed, or the
/// error of a form recsql cannot give PostgreSQL's meaning.
pub fn rewrite(query: &mut Query) -> Result<bool> {
    let mut forms = Forms(false);
    match VisitMut::visit(query, &mut forms) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(forms.0),
    }
}

struct Forms(bool);

impl VisitorMut for Forms {
    type Break = Error;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<Error> {
        self.0 |= fetch_as_limit(query);
        if let SetExpr::Select(select) = query.body.as_mut() {
            self.0 |= exists_as_counts(select);
            for item in &mut select.projection {
                if let SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } = item
                    && (is_function(expr, "generate_series") || is_function(expr, "regexp_matches"))
                {
                    *expr = call("unnest", expr.clone());
                    self.0 = true;
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, table: &mut TableFactor) -> ControlFlow<Error> {
        match sampled(table) {
            Ok(changed) => self.0 |= changed,
            Err(e) => return ControlFlow::Break(e),
        }
        // A function of one column: its alias names the column too.
        let alias = match table {
            TableFactor::Table {
                name,
                args: Some(_),
                alias: Some(alias),
                ..
            } if crate::sql::last_name(name)
                .is_some_and(|n| matches!(n.as_str(), "generate_series" | "range" | "unnest")) =>
            {
                alias
            }
            TableFactor::UNNEST {
                alias: Some(alias),
                array_exprs,
                with_offset: false,
                with_ordinality: false,
                ..
            } if array_exprs.len() == 1 => alias,
            _ => return ControlFlow::Continue(()),
        };
        if alias.columns.is_empty() {
            alias.columns = vec![TableAliasColumnDef {
                name: alias.name.clone(),
                data_type: None,
            }];
            self.0 = true;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<Error> {
        self.0 |= unconstrained_numeric(expr);
        self.0 |= named_casts(expr);
        self.0 |= interval_times_number(expr);
        self.0 |= json_arrow_as_text(expr);
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<Error> {
        match expr {
            Expr::Cast {
                data_type,
                expr: value,
                ..
            } => {
                self.0 |= float_as_double(data_type) | json_as_text(data_type);
                if matches!(data_type, DataType::Interval { .. }) {
                    self.0 |= interval_text(value);
                }
                if matches!(data_type, DataType::Array(_)) {
                    match array_text(value) {
                        Ok(changed) => self.0 |= changed,
                        Err(e) => return ControlFlow::Break(e),
                    }
                }
            }
            Expr::TypedString(typed) => {
                self.0 |= float_as_double(&mut typed.data_type) | json_as_text(&mut typed.data_type)
            }
            Expr::AnyOp { right, .. } | Expr::AllOp { right, .. } => {
                match array_text(right) {
                    Ok(changed) => self.0 |= changed,
                    Err(e) => return ControlFlow::Break(e),
                }
                self.0 |= any_as_in(expr)
            }
            Expr::Value(_) => self.0 |= number_literal(expr),
            Expr::Interval(interval) if interval.leading_field.is_none() => {
                self.0 |= interval_text(&mut interval.value)
            }
            Expr::Like { any: true, .. } | Expr::ILike { any: true, .. } => {
                self.0 |= like_any_as_or(expr)
            }
            _ => {}
        }
        if let Expr::SimilarTo {
            negated,
            expr: value,
            pattern,
            escape_char,
        } = expr
            && let Expr::Value(v) = pattern.as_ref()
            && let Value::SingleQuotedString(text) = &v.value
        {
            let escape = match escape_char.as_ref().map(|e| &e.value) {
                None => Some('\\'),
                Some(Value::SingleQuotedString(e)) => {
                    let mut chars = e.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) => Some(c),
                        (None, None) => None,
                        _ => return ControlFlow::Continue(()),
                    }
                }
                Some(_) => return ControlFlow::Continue(()),
            };
            let regex = similar_to_regex(text, escape);
            *expr = Expr::BinaryOp {
                left: value.clone(),
                op: if *negated {
                    BinaryOperator::PGRegexNotMatch
                } else {
                    BinaryOperator::PGRegexMatch
                },
                right: Box::new(Expr::value(Value::SingleQuotedString(regex))),
            };
            self.0 = true;
        }
        ControlFlow::Continue(())
    }
}

/// An array in PostgreSQL's text form (`'{1,"a b",NULL}'`, the operand of a cast to an array
/// type or of `= ANY`) as `ARRAY['1', 'a b', NULL]`, its elements text for the cast or the
/// comparison to type; returns whether it changed `expr`. datafusion-postgres' parser split
/// such text at every comma and kept the quotes (`'{"1","2"}'::int[]` failed).
fn array_text(expr: &mut Expr) -> Result<bool> {
    fn array(elements: Vec<super::array_text::Element>) -> Expr {
        use super::array_text::Element;
        Expr::Array(datafusion::sql::sqlparser::ast::Array {
            elem: elements
                .into_iter()
                .map(|e| match e {
                    Element::Text(t) => Expr::value(Value::SingleQuotedString(t)),
                    Element::Null => Expr::value(Value::Null),
                    Element::Array(inner) => array(inner),
                })
                .collect(),
            named: true,
        })
    }
    let target = match expr {
        Expr::Nested(inner) => inner.as_mut(),
        other => other,
    };
    let Expr::Value(v) = target else {
        return Ok(false);
    };
    let (Value::SingleQuotedString(text) | Value::EscapedStringLiteral(text)) = &v.value else {
        return Ok(false);
    };
    *target = array(super::array_text::parse(text)?);
    Ok(true)
}

/// `x = ANY (subquery)` as `x IN (subquery)`, `x <> ALL (subquery)` as `x NOT IN
/// (subquery)`; returns whether it changed `expr`.
fn any_as_in(expr: &mut Expr) -> bool {
    let (left, right, negated) = match expr {
        Expr::AnyOp {
            left,
            compare_op: BinaryOperator::Eq,
            right,
            ..
        } => (left, right, false),
        Expr::AllOp {
            left,
            compare_op: BinaryOperator::NotEq,
            right,
        } => (left, right, true),
        _ => return false,
    };
    let Expr::Subquery(subquery) = right.as_ref() else {
        return false;
    };
    let in_subquery = Expr::InSubquery {
        expr: left.clone(),
        subquery: subquery.clone(),
        negated,
    };
    *expr = in_subquery;
    true
}

/// `x [I]LIKE ANY (ARRAY[p1, p2])` (or `ANY (p1, p2)`) as `(x [I]LIKE p1 OR x [I]LIKE p2)`;
/// returns whether it changed `expr`.
fn like_any_as_or(expr: &mut Expr) -> bool {
    let (Expr::Like { pattern, .. } | Expr::ILike { pattern, .. }) = expr else {
        return false;
    };
    let mut list = pattern.as_ref();
    while let Expr::Nested(inner) = list {
        list = inner;
    }
    let patterns = match list {
        Expr::Array(array) => array.elem.clone(),
        Expr::Tuple(items) => items.clone(),
        _ => return false,
    };
    let one = |p: Expr| match expr.clone() {
        Expr::Like {
            negated,
            expr,
            escape_char,
            ..
        } => Expr::Like {
            negated,
            any: false,
            expr,
            pattern: Box::new(p),
            escape_char,
        },
        Expr::ILike {
            negated,
            expr,
            escape_char,
            ..
        } => Expr::ILike {
            negated,
            any: false,
            expr,
            pattern: Box::new(p),
            escape_char,
        },
        other => other,
    };
    let Some(any) = patterns.into_iter().map(one).reduce(|a, b| Expr::BinaryOp {
        left: Box::new(a),
        op: BinaryOperator::Or,
        right: Box::new(b),
    }) else {
        return false;
    };
    *expr = Expr::Nested(Box::new(any));
    true
}

/// `float` and `float(p > 24)` as `double precision` and `float(p <= 24)` as `real`, as
/// PostgreSQL reads them (DataFusion reads every `float` as `real`); returns whether it
/// changed `data_type`.
pub fn float_as_double(data_type: &mut DataType) -> bool {
    match data_type {
        DataType::Float(ExactNumberInfo::None) => *data_type = DataType::DoublePrecision,
        DataType::Float(
            ExactNumberInfo::Precision(p) | ExactNumberInfo::PrecisionAndScale(p, _),
        ) => {
            *data_type = if *p <= 24 {
                DataType::Real
            } else {
                DataType::DoublePrecision
            }
        }
        DataType::Array(
            ArrayElemTypeDef::SquareBracket(inner, _)
            | ArrayElemTypeDef::AngleBracket(inner)
            | ArrayElemTypeDef::Parenthesis(inner),
        ) => return float_as_double(inner),
        _ => return false,
    }
    true
}

/// `EXISTS (q)` in `select`'s items as `((SELECT count(*) FROM ... WHERE ...) > 0)` (`= 0`
/// for NOT EXISTS), for a plain `q`; WHERE and HAVING keep theirs, which DataFusion plans.
fn exists_as_counts(select: &mut Select) -> bool {
    struct Counts(bool);
    impl VisitorMut for Counts {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if let Expr::Exists { subquery, negated } = expr
                && let Some(count) = counted(subquery)
            {
                let sql = format!("(({count}) {} 0)", if *negated { "=" } else { ">" });
                if let Some(new) = crate::sql::parse_expr(&sql) {
                    *expr = new;
                    self.0 = true;
                }
            }
            ControlFlow::Continue(())
        }
    }
    /// `q` with `count(*)` as its only item, when it is a plain SELECT.
    fn counted(q: &Query) -> Option<String> {
        let SetExpr::Select(inner) = q.body.as_ref() else {
            return None;
        };
        let plain = q.with.is_none()
            && q.limit_clause.is_none()
            && q.fetch.is_none()
            && inner.having.is_none()
            && inner.distinct.is_none()
            && matches!(&inner.group_by, datafusion::sql::sqlparser::ast::GroupByExpr::Expressions(e, _) if e.is_empty());
        if !plain {
            return None;
        }
        let mut counted = inner.as_ref().clone();
        counted.projection = vec![SelectItem::UnnamedExpr(crate::sql::parse_expr("count(*)")?)];
        Some(counted.to_string())
    }
    let mut counts = Counts(false);
    for item in &mut select.projection {
        let _ = VisitMut::visit(item, &mut counts);
    }
    counts.0
}

/// `FETCH FIRST n ROWS ONLY` (without TIES or PERCENT) as `LIMIT n`, keeping an OFFSET.
fn fetch_as_limit(query: &mut Query) -> bool {
    let Some(fetch) = &query.fetch else {
        return false;
    };
    if fetch.with_ties || fetch.percent {
        return false;
    }
    // `FETCH FIRST ROW ONLY` is one row.
    let quantity = fetch
        .quantity
        .clone()
        .unwrap_or_else(|| Expr::value(Value::Number("1".to_string(), false)));
    match &mut query.limit_clause {
        None => {
            query.limit_clause = Some(LimitClause::LimitOffset {
                limit: Some(quantity),
                offset: None,
                limit_by: vec![],
            });
        }
        Some(LimitClause::LimitOffset {
            limit: limit @ None,
            ..
        }) => *limit = Some(quantity),
        Some(_) => return false,
    }
    query.fetch = None;
    true
}

/// Whether `expr` is written as an interval: a literal, a cast to one, or a product of one.
fn is_interval(expr: &Expr) -> bool {
    match expr {
        Expr::Interval(_) => true,
        Expr::Cast { data_type, .. } => matches!(data_type, DataType::Interval { .. }),
        Expr::TypedString(typed) => matches!(typed.data_type, DataType::Interval { .. }),
        Expr::Nested(inner) => is_interval(inner),
        other => is_function(other, "_pg_interval_mul"),
    }
}

/// `json` and `jsonb` as `text`: JSON values are text here (DataFusion has no JSON type and
/// refused the cast), read by the JSON functions and operators.
fn json_as_text(data_type: &mut DataType) -> bool {
    if matches!(data_type, DataType::JSON | DataType::JSONB) {
        *data_type = DataType::Text;
        return true;
    }
    false
}

/// `j -> k` as `json_get_json(j, k)`, the JSON text of the value, as PostgreSQL's `->`
/// answers json (DataFusion's JSON functions answer a union type, which no client reads).
fn json_arrow_as_text(expr: &mut Expr) -> bool {
    let Expr::BinaryOp {
        left,
        op: BinaryOperator::Arrow,
        right,
    } = expr
    else {
        return false;
    };
    let args = vec![
        std::mem::replace(left.as_mut(), Expr::value(Value::Null)),
        std::mem::replace(right.as_mut(), Expr::value(Value::Null)),
    ];
    *expr = call_with("json_get_json", args);
    true
}

/// The aggregates whose arguments' casts [`named_casts`] names, beside any call with OVER,
/// FILTER or WITHIN GROUP.
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "stddev",
    "stddev_samp",
    "stddev_pop",
    "variance",
    "var_samp",
    "var_pop",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "median",
    "corr",
    "covar_samp",
    "covar_pop",
    "bit_and",
    "bit_or",
    "bit_xor",
    "first_value",
    "last_value",
    "approx_distinct",
    "approx_median",
    "approx_percentile_cont",
];

/// Each cast of a non-literal argument of an aggregate or window function as
/// A cast to `numeric` without precision or scale (see the module's notes); returns whether
/// it changed `expr`.
fn unconstrained_numeric(expr: &mut Expr) -> bool {
    let Expr::Cast {
        expr: value,
        data_type:
            data_type @ (DataType::Numeric(ExactNumberInfo::None)
            | DataType::Decimal(ExactNumberInfo::None)
            | DataType::Dec(ExactNumberInfo::None)),
        format: None,
        ..
    } = expr
    else {
        return false;
    };
    if let Expr::Value(v) = value.as_ref()
        && let Value::SingleQuotedString(text) = &v.value
    {
        if let Some((precision, scale)) = decimal_digits(text) {
            *data_type = DataType::Numeric(ExactNumberInfo::PrecisionAndScale(precision, scale));
            return true;
        }
        // Other text keeps DataFusion's cast, and its error for what is no number.
        return false;
    }
    *expr = call_with("_pg_numeric", vec![value.as_ref().clone()]);
    true
}

/// The precision and scale of a plain decimal text (`-12.50`: 4 and 2), if it fits a
/// 128-bit decimal.
fn decimal_digits(text: &str) -> Option<(u64, i64)> {
    let unsigned = text.trim().trim_start_matches(['+', '-']);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return None;
    }
    let whole = whole.trim_start_matches('0').len() as u64;
    let scale = fraction.len() as u64;
    let precision = (whole + scale).max(1);
    (precision <= 38).then_some((precision, scale as i64))
}

/// `_pg_cast_named(cast, 'type')`: DataFusion names a cast as its operand, so `avg(x)` and
/// `avg(x::float8)` had the same name and the query failed ("duplicate field name"), aliases
/// or not. Returns whether it changed `expr`.
fn named_casts(expr: &mut Expr) -> bool {
    let Expr::Function(f) = expr else {
        return false;
    };
    let aggregate = f.over.is_some()
        || f.filter.is_some()
        || !f.within_group.is_empty()
        || crate::sql::last_name(&f.name)
            .is_some_and(|n| AGGREGATES.contains(&n.to_ascii_lowercase().as_str()));
    let FunctionArguments::List(list) = &mut f.args else {
        return false;
    };
    if !aggregate {
        return false;
    }
    let mut changed = false;
    for arg in &mut list.args {
        let (FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
        | FunctionArg::Named {
            arg: FunctionArgExpr::Expr(e),
            ..
        }) = arg
        else {
            continue;
        };
        let Expr::Cast {
            expr: inner,
            data_type,
            ..
        } = e
        else {
            continue;
        };
        if matches!(inner.as_ref(), Expr::Value(_)) {
            continue;
        }
        let label = Expr::value(Value::SingleQuotedString(data_type.to_string()));
        *e = call_with("_pg_cast_named", vec![e.clone(), label]);
        changed = true;
    }
    changed
}

/// A text literal of an interval in PostgreSQL's forms written in units Arrow reads
/// (`super::interval_input`); returns whether it changed `value`.
fn interval_text(value: &mut Expr) -> bool {
    let Expr::Value(v) = value else {
        return false;
    };
    let Value::SingleQuotedString(text) = &mut v.value else {
        return false;
    };
    match super::interval_input::arrow_interval_text(text) {
        Some(units) => {
            *text = units;
            true
        }
        None => false,
    }
}

/// A number literal in the form DataFusion reads as PostgreSQL does; returns whether it
/// changed `expr`. See [`NumberForm`].
fn number_literal(expr: &mut Expr) -> bool {
    let Expr::Value(v) = expr else {
        return false;
    };
    let Value::Number(text, _) = &v.value else {
        return false;
    };
    let sql = match number_form(text) {
        NumberForm::Kept => return false,
        NumberForm::Whole(digits) => format!("CAST({digits} AS NUMERIC({}, 0))", digits.len()),
        NumberForm::Double => format!("CAST('{text}' AS DOUBLE PRECISION)"),
    };
    match crate::sql::parse_expr(&sql) {
        Some(cast) => {
            *expr = cast;
            true
        }
        None => false,
    }
}

/// How a number literal is read: DataFusion reads a fraction or an exponent as a decimal of
/// the literal's digits and scale.
#[derive(Debug, PartialEq)]
enum NumberForm {
    /// As it is written.
    Kept,
    /// Written out in whole digits (`1e5` as `100000`, a numeric of scale 0): an exponent
    /// beyond the fraction gives a negative scale, which the wire protocol's numeric cannot
    /// send.
    Whole(String),
    /// As a double: more than 38 digits, or a scale beyond ±38, is more than a 128-bit
    /// decimal holds (DataFusion refused `1e308`).
    Double,
}

fn number_form(text: &str) -> NumberForm {
    let lower = text.to_ascii_lowercase().replace('_', "");
    let (mantissa, exponent) = match lower.split_once('e') {
        Some((m, e)) => match e.parse::<i64>() {
            Ok(e) => (m, e),
            Err(_) => return NumberForm::Kept,
        },
        None => (lower.as_str(), 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let significant = digits.trim_start_matches('0');
    let scale = fraction.len() as i64 - exponent;
    let precision = (significant.len().max(1) as i64).max(scale);
    if precision > 38 || !(-38..=38).contains(&scale) {
        return NumberForm::Double;
    }
    if scale >= 0 {
        return NumberForm::Kept;
    }
    if significant.is_empty() {
        return NumberForm::Whole("0".into());
    }
    let zeros = "0".repeat(scale.unsigned_abs() as usize);
    if significant.len() + zeros.len() > 38 {
        return NumberForm::Double;
    }
    NumberForm::Whole(format!("{significant}{zeros}"))
}

/// `i * x`, `x * i` or `i / x` of an interval `i` as `_pg_interval_mul(i, x)`.
fn interval_times_number(expr: &mut Expr) -> bool {
    let Expr::BinaryOp { left, op, right } = expr else {
        return false;
    };
    let sql = match op {
        BinaryOperator::Multiply if is_interval(left) && !is_interval(right) => {
            format!("_pg_interval_mul({left}, CAST({right} AS DOUBLE PRECISION))")
        }
        BinaryOperator::Multiply if is_interval(right) && !is_interval(left) => {
            format!("_pg_interval_mul({right}, CAST({left} AS DOUBLE PRECISION))")
        }
        BinaryOperator::Divide if is_interval(left) && !is_interval(right) => {
            format!("_pg_interval_mul({left}, 1.0 / CAST({right} AS DOUBLE PRECISION))")
        }
        _ => return false,
    };
    match crate::sql::parse_expr(&sql) {
        Some(call) => {
            *expr = call;
            true
        }
        None => false,
    }
}

/// `table TABLESAMPLE method (p)` as `(SELECT * FROM table WHERE random() * 100 < p) AS
/// alias`, the alias being the table's own or its name.
fn sampled(table: &mut TableFactor) -> Result<bool> {
    use datafusion::sql::sqlparser::ast::{TableSampleKind, TableSampleMethod, TableSampleUnit};
    let TableFactor::Table {
        name,
        alias,
        sample: Some(kind),
        args: None,
        ..
    } = table
    else {
        return Ok(false);
    };
    let sample = match kind {
        TableSampleKind::BeforeTableAlias(s) | TableSampleKind::AfterTableAlias(s) => s,
    };
    let unsupported = |what: &str| {
        Err(
            Error::not_supported(format!("TABLESAMPLE {what} is not supported")).with_hint(
                "Use TABLESAMPLE BERNOULLI (percent) or SYSTEM (percent), without REPEATABLE.",
            ),
        )
    };
    if sample.seed.is_some() {
        return unsupported("REPEATABLE");
    }
    if sample.bucket.is_some() || sample.offset.is_some() {
        return unsupported("with buckets or offsets");
    }
    if !matches!(
        sample.name,
        None | Some(TableSampleMethod::Bernoulli | TableSampleMethod::System)
    ) {
        let method = sample.name.as_ref().map(|m| m.to_string());
        return unsupported(&method.unwrap_or_default());
    }
    let Some(quantity) = &sample.quantity else {
        return unsupported("without a percentage");
    };
    if !matches!(quantity.unit, None | Some(TableSampleUnit::Percent)) {
        return unsupported("of a number of rows");
    }
    let alias = match alias {
        Some(a) => a.to_string(),
        None => name
            .0
            .last()
            .map_or_else(|| name.to_string(), |part| part.to_string()),
    };
    let sql = format!(
        "SELECT * FROM (SELECT * FROM {name} WHERE random() * 100 < ({})) AS {alias}",
        quantity.value
    );
    let parsed = datafusion::sql::sqlparser::parser::Parser::parse_sql(
        &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
        &sql,
    )
    .ok()
    .and_then(|mut statements| statements.pop());
    let Some(datafusion::sql::sqlparser::ast::Statement::Query(query)) = parsed else {
        return Ok(false);
    };
    let SetExpr::Select(select) = *query.body else {
        return Ok(false);
    };
    match select.from.into_iter().next() {
        Some(from) => {
            *table = from.relation;
            Ok(true)
        }
        None => Ok(false),
    }
}

fn is_function(expr: &Expr, wanted: &str) -> bool {
    matches!(expr, Expr::Function(f) if matches!(f.args, FunctionArguments::List(_))
        && crate::sql::last_name(&f.name).is_some_and(|n| n == wanted))
}

fn call(name: &str, arg: Expr) -> Expr {
    call_with(name, vec![arg])
}

/// The call `name(args...)`.
pub(super) fn call_with(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// A SIMILAR TO pattern as an anchored regular expression, as PostgreSQL translates it:
/// `%` is any text, `_` any character, the escape character makes the next one literal,
/// `.`, `^` and `$` are literal, and the regex operators `| * + ? {m,n} ( ) [...]` stay.
fn similar_to_regex(pattern: &str, escape: Option<char>) -> String {
    let mut out = String::from("^(?:");
    let mut chars = pattern.chars();
    let mut in_brackets = false;
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            if let Some(next) = chars.next() {
                push_literal(&mut out, next);
            }
            continue;
        }
        if in_brackets {
            out.push(c);
            if c == ']' {
                in_brackets = false;
            }
            continue;
        }
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '[' => {
                in_brackets = true;
                out.push(c);
            }
            '.' | '^' | '$' | '\\' => push_literal(&mut out, c),
            other => out.push(other),
        }
    }
    out.push_str(")$");
    out
}

fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || c == ' ' || c == '_' {
        out.push(c);
    } else {
        out.push('\\');
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    #[test]
    fn unconstrained_numeric_casts_keep_their_digits() {
        assert_eq!(
            rewritten(
                "SELECT '-12.50'::numeric, '007'::numeric, x::numeric, CAST(x AS DECIMAL(5, 2)), 'a'::numeric FROM t"
            ),
            "SELECT '-12.50'::NUMERIC(4,2), '007'::NUMERIC(1,0), _pg_numeric(x), CAST(x AS DECIMAL(5,2)), 'a'::NUMERIC FROM t"
        );
        assert_eq!(decimal_digits("0.5"), Some((1, 1)));
        assert_eq!(decimal_digits(".5"), Some((1, 1)));
        assert_eq!(decimal_digits("1e5"), None);
        assert_eq!(decimal_digits("."), None);
        assert_eq!(decimal_digits(&"9".repeat(39)), None);
    }

    fn rewritten(sql: &str) -> String {
        let mut q = *Parser::new(&PostgreSqlDialect {})
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_query())
            .expect("parses");
        rewrite(&mut q).unwrap();
        q.to_string()
    }

    #[test]
    fn fetch_first_is_a_limit() {
        assert_eq!(
            rewritten("SELECT a FROM t ORDER BY a OFFSET 2 ROWS FETCH FIRST 3 ROWS ONLY"),
            "SELECT a FROM t ORDER BY a LIMIT 3 OFFSET 2 ROWS"
        );
        assert_eq!(
            rewritten("SELECT a FROM t FETCH NEXT ROW ONLY"),
            "SELECT a FROM t LIMIT 1"
        );
    }

    #[test]
    fn number_literals_are_decimals_that_fit() {
        assert_eq!(number_form("0.1"), NumberForm::Kept);
        assert_eq!(number_form("2e-3"), NumberForm::Kept);
        assert_eq!(number_form("12345678901234567890.123"), NumberForm::Kept);
        assert_eq!(number_form("1e5"), NumberForm::Whole("100000".into()));
        assert_eq!(number_form("1.5E3"), NumberForm::Whole("1500".into()));
        assert_eq!(number_form("0e3"), NumberForm::Whole("0".into()));
        assert_eq!(number_form("1e308"), NumberForm::Double);
        assert_eq!(number_form("1e-400"), NumberForm::Double);
        assert_eq!(
            number_form(&format!("{}.5", "1".repeat(38))),
            NumberForm::Double
        );
        assert_eq!(
            rewritten("SELECT 1e5, 1e308, 0.5"),
            "SELECT CAST(100000 AS NUMERIC(6,0)), CAST('1e308' AS DOUBLE PRECISION), 0.5"
        );
    }

    #[test]
    fn casts_in_aggregates_are_named() {
        assert_eq!(
            rewritten("SELECT avg(x), avg(x::float8), sum(2::int), lower(x::text) FROM t"),
            "SELECT avg(x), avg(_pg_cast_named(x::FLOAT8, 'FLOAT8')), sum(2::INT), \
             lower(x::TEXT) FROM t"
        );
    }

    #[test]
    fn similar_to_is_an_anchored_regex() {
        assert_eq!(similar_to_regex("a%", Some('\\')), "^(?:a.*)$");
        assert_eq!(
            similar_to_regex("%(b|d)_.x", Some('\\')),
            "^(?:.*(b|d).\\.x)$"
        );
        assert_eq!(
            similar_to_regex("100#%[0-9]*", Some('#')),
            "^(?:100\\%[0-9]*)$"
        );
        assert_eq!(
            rewritten("SELECT a NOT SIMILAR TO 'x%' FROM t"),
            "SELECT a !~ '^(?:x.*)$' FROM t"
        );
    }

    #[test]
    fn floats_are_doubles_any_is_in_and_exists_counts_in_select_lists() {
        assert_eq!(
            rewritten("SELECT CAST(a AS float), a::float(10), a::float(53)[] FROM t"),
            "SELECT CAST(a AS DOUBLE PRECISION), a::REAL, a::DOUBLE PRECISION[] FROM t"
        );
        assert_eq!(
            rewritten(
                "SELECT a FROM t WHERE a = ANY (SELECT b FROM u) AND a <> ALL (SELECT c FROM v)"
            ),
            "SELECT a FROM t WHERE a IN (SELECT b FROM u) AND a NOT IN (SELECT c FROM v)"
        );
        assert_eq!(
            rewritten(
                "SELECT EXISTS (SELECT 1 FROM u WHERE u.x = t.x), NOT EXISTS (SELECT y FROM v) FROM t WHERE EXISTS (SELECT 1 FROM w)"
            ),
            "SELECT ((SELECT count(*) FROM u WHERE u.x = t.x) > 0), ((SELECT count(*) FROM v) = 0) FROM t WHERE EXISTS (SELECT 1 FROM w)"
        );
    }

    #[test]
    fn like_any_is_an_or_of_likes() {
        assert_eq!(
            rewritten(
                "SELECT a FROM t WHERE a ILIKE ANY (ARRAY['x%', 'y%']) AND b NOT LIKE ANY ('z', 'w')"
            ),
            "SELECT a FROM t WHERE (a ILIKE 'x%' OR a ILIKE 'y%') AND (b NOT LIKE 'z' OR b NOT LIKE 'w')"
        );
    }

    #[test]
    fn generate_series_gives_rows_named_after_their_alias() {
        assert_eq!(
            rewritten(
                "SELECT generate_series(1, 3) AS g, x, u FROM generate_series(1, 2) s, unnest(ARRAY[1]) u"
            ),
            "SELECT unnest(generate_series(1, 3)) AS g, x, u FROM generate_series(1, 2) s (s), UNNEST(ARRAY[1]) u (u)"
        );
    }

    #[test]
    fn array_text_becomes_an_array_of_its_elements() {
        assert_eq!(
            rewritten(r#"SELECT '{"1", 2, NULL}'::int[], CAST('{"a b",c}' AS TEXT[]) FROM t"#),
            "SELECT ARRAY['1', '2', NULL]::INT[], CAST(ARRAY['a b', 'c'] AS TEXT[]) FROM t"
        );
        assert_eq!(
            rewritten(r#"SELECT a FROM t WHERE a = ANY ('{"x,y",z}') AND b <> ALL ('{}')"#),
            "SELECT a FROM t WHERE a = ANY(ARRAY['x,y', 'z']) AND b <> ALL(ARRAY[])"
        );
        let mut query = *Parser::new(&PostgreSqlDialect {})
            .try_with_sql("SELECT '{1,2'::int[]")
            .and_then(|mut p| p.parse_query())
            .expect("parses");
        let e = rewrite(&mut query).unwrap_err();
        assert_eq!(e.code, "22P02");
        assert_eq!(e.message, r#"malformed array literal: "{1,2""#);
    }
}
