//! Client queries on the system catalogs, rewritten into forms DataFusion plans. Drivers
//! and BI tools browse a database through queries on `pg_catalog` and
//! `information_schema` (pgjdbc's `getPrimaryKeys`, `getIndexInfo`, `getTypeInfo`, ...), written
//! for PostgreSQL. Such a query, one that reads nothing but the system catalogs, gets:
//!
//! * PostgreSQL's folding of unquoted identifiers to lower case. recsql keeps their case
//!   everywhere else (as MindsDB: `userId` names a column `userId`); the catalogs' names are
//!   all lower case, so folding only makes `AS TABLE_NAME ... ORDER BY table_name` agree.
//! * `information_schema._pg_expandarray(a)` as `unnest(_pg_expandarray_list(a))`, the same
//!   rows (`system_catalog` defines the function).
//! * `(row).field` as `(row)['field']`, the field access DataFusion has.
//! * Subscripts of the catalogs' integer arrays, which datafusion-postgres keeps as text,
//!   through `_pg_int_array`, also under an alias the query gives them; `int2vector` and
//!   `oidvector` subscripts count from 0.
//! * A scalar subquery of one plain expression aggregated with `max`, which is its value
//!   when it has at most one row, as PostgreSQL requires of it (DataFusion plans a correlated
//!   one only when it is aggregated).
//! * `'pg_catalog.array_in'::regproc` as the function's name, which is what the catalogs'
//!   regproc columns hold.
//! * `ARRAY(SELECT e FROM ...)` as `(SELECT array_agg(e) FROM ...)`, and psql's
//!   `ARRAY(SELECT 'toast.' || x FROM unnest(a) x)` as `_pg_prefix_elements(a, 'toast.')`.
//! * `unnest` and `generate_subscripts` of the integer arrays, over `_pg_int_array`.
//! * `to_regtype(name)` as a lookup in `pg_type`, and `pg_get_function_result(p.oid)` and
//!   `pg_get_function_arguments(p.oid)` of a `pg_proc p` from the row's own columns.
//! * `CASE WHEN c THEN (SELECT ...) END` as the subquery with `c` added to its WHERE: the
//!   same value, in the place DataFusion plans correlated subqueries.
//! * `LIKE` patterns with an escape character other than the backslash (SQLAlchemy's
//!   `ESCAPE '/'`) written with the backslash, the only one DataFusion takes.
//!
//! Queries that read user tables or models are never touched.

use std::ops::ControlFlow;
use std::sync::OnceLock;

use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, DataType, Expr, Function, FunctionArguments, GroupByExpr, Ident,
    ObjectName, Query, SelectItem, SetExpr, Subscript, TableAlias, TableFactor, Value, Visit,
    VisitMut, Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

/// Schemas whose tables are system catalogs.
const SYSTEM_SCHEMAS: &[&str] = &["pg_catalog", "information_schema"];

/// Aggregate functions a scalar subquery may already use.
const AGGREGATES: &[&str] = &[
    "max",
    "min",
    "count",
    "sum",
    "avg",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
];

/// Rewrites `query` in place when it reads nothing but the system catalogs; returns whether
/// it changed. A query that datafusion-postgres' Postgres parser replaces whole works as it
/// is: the caller checks [`replaced_whole`] before it sends a changed text.
pub fn rewrite(query: &mut Query) -> bool {
    if !reads_only_system_catalogs(query) {
        return false;
    }
    let mut folder = Folder {
        changed: false,
        renamed: renamed_int_arrays(query),
        procs: names_of(query, "pg_proc"),
    };
    let _ = VisitMut::visit(query, &mut folder);
    folder.changed
}

/// Whether datafusion-postgres' parser replaces (part of) `sql` with a query of its own,
/// as it does for some queries of psql, pgcli and Grafana: its result then differs from its
/// rewrite rules alone.
pub fn replaced_whole(sql: &str) -> bool {
    static COMPAT: OnceLock<PostgresCompatibilityParser> = OnceLock::new();
    let compat = COMPAT.get_or_init(PostgresCompatibilityParser::new);
    let (Ok(replaced), Ok(plain)) = (
        compat.parse(sql),
        Parser::parse_sql(&PostgreSqlDialect {}, sql),
    ) else {
        return false;
    };
    let ruled: Vec<_> = plain.into_iter().map(|s| compat.rewrite(s)).collect();
    replaced != ruled
}

pub fn reads_only_system_catalogs(query: &Query) -> bool {
    /// Counts the tables a query reads, and those that are not system catalogs. Table
    /// functions (`generate_series(...) s(r)`, `unnest(...)`) read no table.
    struct Tables {
        ctes: Vec<String>,
        system: usize,
        others: usize,
    }
    impl Visitor for Tables {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
            if let TableFactor::Table {
                name, args: None, ..
            } = factor
            {
                if is_system(name, &self.ctes) {
                    self.system += 1;
                } else {
                    self.others += 1;
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut tables = Tables {
        ctes: Vec::new(),
        system: 0,
        others: 0,
    };
    tables.ctes = super::model_query::cte_names(query)
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    let _ = Visit::visit(query, &mut tables);
    tables.system > 0 && tables.others == 0
}

/// Whether `name` is a system catalog table (`pg_catalog.x`, `information_schema.x`,
/// `catalog.pg_catalog.x`, or an unqualified `pg_x`) or a CTE.
fn is_system(name: &ObjectName, ctes: &[String]) -> bool {
    match lower_parts(name).as_slice() {
        [table] => table.starts_with("pg_") || ctes.contains(table),
        [.., schema, _] => SYSTEM_SCHEMAS.contains(&schema.as_str()),
        [] => false,
    }
}

/// Catalog columns of integer arrays: `int2[]` and `oid[]`, subscripted from 1.
const INT_ARRAY_COLUMNS: &[&str] = &[
    "conkey",
    "confkey",
    "conpfeqop",
    "conppeqop",
    "conffeqop",
    "conexclop",
];

/// Catalog columns of `int2vector` and `oidvector`, which PostgreSQL subscripts from 0.
const INT_VECTOR_COLUMNS: &[&str] = &[
    "indkey",
    "indoption",
    "indclass",
    "indcollation",
    "partattrs",
    "stxkeys",
    "proargtypes",
];

/// Whether `column` (lower case) is a catalog integer array: Some(true) for an `int2vector`
/// or `oidvector`, which count from 0, Some(false) for an `int2[]` or `oid[]`.
fn int_array_column(column: &str) -> Option<bool> {
    if INT_VECTOR_COLUMNS.contains(&column) {
        Some(true)
    } else if INT_ARRAY_COLUMNS.contains(&column) {
        Some(false)
    } else {
        None
    }
}

/// Applies the rewrites; `changed` says whether any applied.
struct Folder {
    changed: bool,
    /// Aliases of integer-array columns in the query (`i.indoption AS I_INDOPTION`), lower
    /// case, with whether they count from 0.
    renamed: Vec<(String, bool)>,
    /// The names the query reads `pg_proc` under, lower case.
    procs: Vec<String>,
}

/// The names under which `query` reads catalog table `table`: its aliases, or its name.
fn names_of(query: &Query, table: &str) -> Vec<String> {
    struct Names<'a>(&'a str, Vec<String>);
    impl Visitor for Names<'_> {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
            if let TableFactor::Table { name, alias, .. } = factor
                && crate::sql::last_name(name).is_some_and(|n| n == self.0)
            {
                self.1.push(match alias {
                    Some(a) => a.name.value.to_ascii_lowercase(),
                    None => self.0.to_string(),
                });
            }
            ControlFlow::Continue(())
        }
    }
    let mut names = Names(table, Vec::new());
    let _ = Visit::visit(query, &mut names);
    names.1
}

/// The aliases a query gives catalog integer-array columns, lower case, with whether they
/// count from 0 (`int2vector`, `oidvector`).
fn renamed_int_arrays(query: &Query) -> Vec<(String, bool)> {
    struct Aliases(Vec<(String, bool)>);
    impl Visitor for Aliases {
        type Break = ();
        fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
            if let SetExpr::Select(select) = q.body.as_ref() {
                for item in &select.projection {
                    let SelectItem::ExprWithAlias { expr, alias } = item else {
                        continue;
                    };
                    let column = match expr {
                        Expr::Identifier(i) => i.value.to_ascii_lowercase(),
                        Expr::CompoundIdentifier(ids) => ids
                            .last()
                            .map(|i| i.value.to_ascii_lowercase())
                            .unwrap_or_default(),
                        _ => continue,
                    };
                    if let Some(from_zero) = int_array_column(&column) {
                        self.0.push((alias.value.to_ascii_lowercase(), from_zero));
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut aliases = Aliases(Vec::new());
    let _ = Visit::visit(query, &mut aliases);
    aliases.0
}

impl Folder {
    /// Whether `column` (lower case) is a catalog integer array, also under an alias the
    /// query gives one: Some(true) when it counts from 0.
    fn int_array(&self, column: &str) -> Option<bool> {
        int_array_column(column).or_else(|| {
            self.renamed
                .iter()
                .find(|(alias, _)| alias == column)
                .map(|(_, from_zero)| *from_zero)
        })
    }

    /// `unnest(a)` or `generate_subscripts(a, dim)` of a catalog integer array `a`, rewritten
    /// over the list `_pg_int_array` makes of it; `int2vector` and `oidvector` subscripts count
    /// from 0.
    fn int_array_function(&self, f: &Function) -> Option<String> {
        let name = crate::sql::last_name(&f.name)?;
        let FunctionArguments::List(list) = &f.args else {
            return None;
        };
        let args: Vec<String> = list.args.iter().map(ToString::to_string).collect();
        let column = args
            .first()?
            .rsplit('.')
            .next()?
            .trim_matches('"')
            .to_ascii_lowercase();
        let from_zero = self.int_array(&column)?;
        let list = format!("_pg_int_array({})", args[0]);
        match (name.as_str(), args.len()) {
            ("unnest", 1) => Some(format!("unnest({list})")),
            ("generate_subscripts", 2) => {
                let first = if from_zero { 0 } else { 1 };
                let end = format!("CAST(cardinality({list}) AS BIGINT) + {first}");
                // The arrays have one dimension: another gives no subscripts. A dimension
                // given as a parameter (`$1::INTEGER`, from psycopg 3) stays in the query.
                let end = match args[1].as_str() {
                    "1" => end,
                    dim => format!("CASE WHEN {dim} = 1 THEN {end} ELSE {first} END"),
                };
                Some(format!("unnest(range({first}, {end}))"))
            }
            _ => None,
        }
    }

    fn fold(&mut self, ident: &mut Ident) {
        if ident.quote_style.is_none() && ident.value.chars().any(|c| c.is_ascii_uppercase()) {
            ident.value = ident.value.to_ascii_lowercase();
            self.changed = true;
        }
    }

    fn fold_alias(&mut self, alias: &mut Option<TableAlias>) {
        if let Some(a) = alias {
            self.fold(&mut a.name);
            for c in &mut a.columns {
                self.fold(&mut c.name);
            }
        }
    }

    /// Replaces `expr` by `sql`; returns whether it did (`sql` parsed).
    fn replace(&mut self, expr: &mut Expr, sql: &str) -> bool {
        // Built from the Display of parsed expressions, so it parses back.
        match crate::sql::parse_expr(sql) {
            Some(new) => {
                *expr = new;
                self.changed = true;
                true
            }
            None => false,
        }
    }
}

/// Subquery `q`, already aggregated, with `condition` of the outer query added to its
/// WHERE, or None when `q` is not a plain aggregated SELECT or `condition` names a column
/// that the subquery's own tables might take (an unqualified one, or one qualified by a
/// name the subquery also uses).
fn condition_into(q: &Query, condition: &Expr) -> Option<Query> {
    struct Names<'a> {
        inner: &'a [String],
        clash: bool,
    }
    impl Visitor for Names<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            match e {
                Expr::Identifier(_) => self.clash = true,
                Expr::CompoundIdentifier(parts) => {
                    let qualifier = parts[..parts.len().saturating_sub(1)]
                        .iter()
                        .map(|p| p.value.to_ascii_lowercase())
                        .collect::<Vec<_>>();
                    if qualifier.last().is_none_or(|q| self.inner.contains(q)) {
                        self.clash = true;
                    }
                }
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    if q.limit_clause.is_some() || q.fetch.is_some() || q.with.is_some() {
        return None;
    }
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    let aggregated = matches!(
        select.projection.as_slice(),
        [SelectItem::UnnamedExpr(Expr::Function(f)) | SelectItem::ExprWithAlias { expr: Expr::Function(f), .. }]
            if crate::sql::last_name(&f.name).is_some_and(|n| AGGREGATES.contains(&n.as_str()))
    );
    let grouped = match &select.group_by {
        GroupByExpr::Expressions(e, _) => !e.is_empty(),
        GroupByExpr::All(_) => true,
    };
    if !aggregated || grouped || select.having.is_some() {
        return None;
    }
    // The names the subquery's FROM gives its tables: aliases and the tables' last parts.
    let mut inner = Vec::new();
    for t in &select.from {
        for factor in std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)) {
            match factor {
                TableFactor::Table { name, alias, .. } => {
                    inner.extend(crate::sql::last_name(name));
                    inner.extend(alias.iter().map(|a| a.name.value.to_ascii_lowercase()));
                }
                _ => return None,
            }
        }
    }
    let mut names = Names {
        inner: &inner,
        clash: false,
    };
    let _ = Visit::visit(condition, &mut names);
    if names.clash {
        return None;
    }
    let mut moved = q.clone();
    let SetExpr::Select(select) = moved.body.as_mut() else {
        return None;
    };
    let condition = Expr::Nested(Box::new(condition.clone()));
    select.selection = Some(match select.selection.take() {
        Some(w) => Expr::BinaryOp {
            left: Box::new(Expr::Nested(Box::new(w))),
            op: BinaryOperator::And,
            right: Box::new(condition),
        },
        None => condition,
    });
    Some(moved)
}

/// The SQL of the one argument of `f`, a call of function `name`.
fn only_argument(f: &Function, name: &str) -> Option<String> {
    if crate::sql::last_name(&f.name).is_none_or(|n| n != name) {
        return None;
    }
    match &f.args {
        FunctionArguments::List(list) if list.args.len() == 1 => Some(list.args[0].to_string()),
        _ => None,
    }
}

/// A LIKE pattern that is not all literals (a parameter, from psycopg 3) with escape
/// character `escape`, rewritten to escape with a backslash when the query runs: an escaped
/// character gets a backslash before it instead, and a backslash is doubled, in one pass.
fn backslash_pattern_at_run_time(pattern: &Expr, escape: &Value) -> Option<String> {
    let Value::SingleQuotedString(escape) = escape else {
        return None;
    };
    let mut chars = escape.chars();
    let (Some(esc), None) = (chars.next(), chars.next()) else {
        return None;
    };
    if esc == '\\' || esc == '\'' {
        return None;
    }
    let esc = if esc.is_ascii_alphanumeric() {
        esc.to_string()
    } else {
        format!("\\{esc}")
    };
    Some(format!(
        "regexp_replace({pattern}, '(?s){esc}(.)|(\\\\)', '\\${{1}}${{2}}', 'g')"
    ))
}

/// A LIKE pattern of string literals (joined with `||`, as SQLAlchemy writes them) with
/// escape character `escape`, rewritten to escape with a backslash.
fn backslash_pattern(pattern: &Expr, escape: &Value) -> Option<String> {
    fn literal(e: &Expr, out: &mut String) -> Option<()> {
        match e {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) => {
                    out.push_str(s);
                    Some(())
                }
                _ => None,
            },
            Expr::BinaryOp {
                left,
                op: BinaryOperator::StringConcat,
                right,
            } => {
                literal(left, out)?;
                literal(right, out)
            }
            Expr::Nested(inner) => literal(inner, out),
            _ => None,
        }
    }
    let Value::SingleQuotedString(escape) = escape else {
        return None;
    };
    let mut escape = escape.chars();
    let (Some(esc), None) = (escape.next(), escape.next()) else {
        return None;
    };
    let mut text = String::new();
    literal(pattern, &mut text)?;
    let mut out = String::with_capacity(text.len() + 4);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == esc {
            out.push('\\');
            out.push(chars.next()?);
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// The parts of a name, lower-cased.
fn lower_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|p| {
            p.as_ident()
                .map(|i| i.value.to_ascii_lowercase())
                .unwrap_or_default()
        })
        .collect()
}

/// The single plain expression a scalar subquery selects, if it is not aggregated yet.
/// The array and the prefix of `SELECT 'prefix' || x FROM unnest(array) x`.
fn prefixed_elements(q: &Query) -> Option<(String, String)> {
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    let ([from], [item], None) = (
        select.from.as_slice(),
        select.projection.as_slice(),
        &select.selection,
    ) else {
        return None;
    };
    let TableFactor::Table {
        name,
        args: Some(args),
        alias: Some(alias),
        ..
    } = &from.relation
    else {
        return None;
    };
    let (SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) = item else {
        return None;
    };
    let Expr::BinaryOp {
        left,
        op: BinaryOperator::StringConcat,
        right,
    } = e
    else {
        return None;
    };
    let unnest = crate::sql::last_name(name).is_some_and(|n| n == "unnest");
    let element = matches!(right.as_ref(), Expr::Identifier(i) if i.value == alias.name.value);
    let literal =
        matches!(left.as_ref(), Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)));
    match (
        unnest && element && literal && from.joins.is_empty(),
        args.args.as_slice(),
    ) {
        (true, [array]) => Some((array.to_string(), left.to_string())),
        _ => None,
    }
}

fn unaggregated_item(q: &mut Query) -> Option<&mut Expr> {
    if q.limit_clause.is_some() || q.fetch.is_some() {
        return None;
    }
    let SetExpr::Select(select) = q.body.as_mut() else {
        return None;
    };
    let no_grouping = match &select.group_by {
        GroupByExpr::Expressions(e, _) => e.is_empty(),
        GroupByExpr::All(_) => false,
    };
    if !no_grouping || select.having.is_some() || select.distinct.is_some() {
        return None;
    }
    let [item] = select.projection.as_mut_slice() else {
        return None;
    };
    let expr = match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
        _ => return None,
    };
    if let Expr::Function(f) = expr
        && crate::sql::last_name(&f.name).is_some_and(|n| AGGREGATES.contains(&n.as_str()))
    {
        return None;
    }
    Some(expr)
}

impl VisitorMut for Folder {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let Some(with) = &mut query.with {
            for cte in &mut with.cte_tables {
                self.fold(&mut cte.alias.name);
                for c in &mut cte.alias.columns {
                    self.fold(&mut c.name);
                }
            }
        }
        if let SetExpr::Select(select) = query.body.as_mut() {
            for item in &mut select.projection {
                if let SelectItem::ExprWithAlias { alias, .. } = item {
                    self.fold(alias);
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        match factor {
            TableFactor::Table { alias, .. }
            | TableFactor::Derived { alias, .. }
            | TableFactor::Function { alias, .. }
            | TableFactor::UNNEST { alias, .. } => self.fold_alias(alias),
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Identifier(ident) => self.fold(ident),
            Expr::CompoundIdentifier(idents) => {
                for i in idents {
                    self.fold(i);
                }
            }
            // `(row).field`; `t.a[1]` and `t.a.b` are column references.
            Expr::CompoundFieldAccess { root, access_chain }
                if matches!(**root, Expr::Nested(_)) =>
            {
                for access in access_chain {
                    if let AccessExpr::Dot(Expr::Identifier(field)) = access {
                        let name = if field.quote_style.is_none() {
                            field.value.to_ascii_lowercase()
                        } else {
                            field.value.clone()
                        };
                        *access = AccessExpr::Subscript(Subscript::Index {
                            index: Expr::value(Value::SingleQuotedString(name)),
                        });
                        self.changed = true;
                    }
                }
            }
            // A subscript of a catalog integer array, which is stored as text.
            Expr::CompoundFieldAccess { root, access_chain } => {
                // `t.col[i]` parses as `t` with the chain `.col`, `[i]`.
                let dots = access_chain
                    .iter()
                    .take_while(|a| matches!(a, AccessExpr::Dot(Expr::Identifier(_))))
                    .count();
                let mut parts = match root.as_ref() {
                    Expr::Identifier(i) => vec![i.clone()],
                    Expr::CompoundIdentifier(ids) => ids.clone(),
                    _ => return ControlFlow::Continue(()),
                };
                parts.extend(access_chain[..dots].iter().filter_map(|a| match a {
                    AccessExpr::Dot(Expr::Identifier(i)) => Some(i.clone()),
                    _ => None,
                }));
                let Some(AccessExpr::Subscript(Subscript::Index { index })) =
                    access_chain.get_mut(dots)
                else {
                    return ControlFlow::Continue(());
                };
                let column = parts
                    .last()
                    .map(|i| i.value.to_ascii_lowercase())
                    .unwrap_or_default();
                if let Some(from_zero) = self.int_array(&column) {
                    if from_zero {
                        // The list the function returns is subscripted from 1.
                        let shifted = format!("({index}) + 1");
                        self.replace(index, &shifted);
                    }
                    let column = Expr::CompoundIdentifier(parts);
                    self.replace(root, &format!("_pg_int_array({column})"));
                    access_chain.drain(..dots);
                }
            }
            Expr::Function(f)
                if matches!(
                    lower_parts(&f.name).as_slice(),
                    [schema, name] if schema == "information_schema" && name == "_pg_expandarray"
                ) =>
            {
                if let FunctionArguments::List(args) = &f.args {
                    let inner = args
                        .args
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.replace(expr, &format!("unnest(_pg_expandarray_list({inner}))"));
                }
            }
            // `unnest(indkey)`, `generate_subscripts(indkey, 1)` of a catalog integer array.
            Expr::Function(f) if self.int_array_function(f).is_some() => {
                if let Some(sql) = self.int_array_function(f) {
                    self.replace(expr, &sql);
                }
            }
            // `pg_get_function_result(p.oid)` of a `pg_proc p` the query reads: its result
            // type, `SETOF` for set-returning functions (PostgreSQL writes `TABLE(...)` for
            // those with output columns), from the row's own columns.
            Expr::Function(f) if only_argument(f, "pg_get_function_result").is_some() => {
                if let Some(proc) = only_argument(f, "pg_get_function_result")
                    .and_then(|arg| arg.strip_suffix(".oid").map(str::to_string))
                    .filter(|p| self.procs.contains(&p.to_ascii_lowercase()))
                {
                    let sql = format!(
                        "(CASE WHEN {proc}.proretset THEN 'SETOF ' ELSE '' END || \
                         format_type({proc}.prorettype, NULL))"
                    );
                    self.replace(expr, &sql);
                }
            }
            // `pg_get_function_arguments(p.oid)` of a `pg_proc p` the query reads, from the
            // row's own argument types and names.
            Expr::Function(f)
                if [
                    "pg_get_function_arguments",
                    "pg_get_function_identity_arguments",
                ]
                .iter()
                .any(|name| only_argument(f, name).is_some()) =>
            {
                if let Some(proc) = [
                    "pg_get_function_arguments",
                    "pg_get_function_identity_arguments",
                ]
                .iter()
                .find_map(|name| only_argument(f, name))
                .and_then(|arg| arg.strip_suffix(".oid").map(str::to_string))
                .filter(|p| self.procs.contains(&p.to_ascii_lowercase()))
                {
                    let sql =
                        format!("_pg_function_arguments({proc}.proargtypes, {proc}.proargnames)");
                    self.replace(expr, &sql);
                }
            }
            // `to_regtype(name)`: the type's oid, or NULL when there is no such type.
            Expr::Function(f) if only_argument(f, "to_regtype").is_some() => {
                if let Some(arg) = only_argument(f, "to_regtype") {
                    let sql = format!(
                        "(SELECT max(regtype_.oid) FROM pg_catalog.pg_type regtype_ \
                         WHERE regtype_.typname = ({arg}))"
                    );
                    self.replace(expr, &sql);
                }
            }
            // `LIKE 'pg/_%' ESCAPE '/'`: DataFusion escapes with a backslash only.
            Expr::Like {
                pattern,
                escape_char: escape @ Some(_),
                ..
            }
            | Expr::ILike {
                pattern,
                escape_char: escape @ Some(_),
                ..
            } => {
                if let Some(sql) = escape
                    .as_ref()
                    .and_then(|e| backslash_pattern(pattern, &e.value))
                {
                    **pattern = Expr::value(Value::SingleQuotedString(sql));
                    *escape = None;
                    self.changed = true;
                } else if let Some(sql) = escape
                    .as_ref()
                    .and_then(|e| backslash_pattern_at_run_time(pattern, &e.value))
                    && self.replace(pattern, &sql)
                {
                    *escape = None;
                }
            }
            // The catalogs keep regproc columns (`typinput`, ...) as function names.
            Expr::Cast {
                expr: inner,
                data_type: DataType::Custom(type_name, _),
                ..
            } if crate::sql::last_name(type_name).is_some_and(|t| t == "regproc") => {
                if let Expr::Value(v) = inner.as_ref()
                    && let Value::SingleQuotedString(name) = &v.value
                {
                    let name = name.strip_prefix("pg_catalog.").unwrap_or(name);
                    *expr = Expr::value(Value::SingleQuotedString(name.to_string()));
                    self.changed = true;
                }
            }
            // `ARRAY(SELECT e FROM ...)` as `(SELECT array_agg(e) FROM ...)`, and psql's
            // `ARRAY(SELECT 'p' || x FROM unnest(a) x)` (of an outer `a`, which DataFusion
            // cannot unnest in a subquery) as `_pg_prefix_elements(a, 'p')`.
            Expr::Function(f)
                if crate::sql::last_name(&f.name).is_some_and(|n| n == "array")
                    && matches!(f.args, FunctionArguments::Subquery(_)) =>
            {
                if let FunctionArguments::Subquery(q) = &f.args
                    && let Some((array, prefix)) = prefixed_elements(q)
                {
                    let sql = format!("_pg_prefix_elements({array}, {prefix})");
                    self.replace(expr, &sql);
                } else if let FunctionArguments::Subquery(q) = &f.args {
                    let mut q = q.clone();
                    if let Some(item) = unaggregated_item(&mut q) {
                        let sql = format!("array_agg({item})");
                        self.replace(item, &sql);
                        *expr = Expr::Subquery(q);
                        self.changed = true;
                    }
                }
            }
            // `CASE WHEN c THEN (SELECT ...) [ELSE NULL] END`: DataFusion plans correlated
            // subqueries only outside CASE, so the condition joins the subquery's WHERE.
            Expr::Case {
                operand: None,
                conditions,
                else_result,
                ..
            } if conditions.len() == 1
                && else_result
                    .as_deref()
                    .is_none_or(|e| matches!(e, Expr::Value(v) if v.value == Value::Null)) =>
            {
                if let Expr::Subquery(q) = &conditions[0].result
                    && let Some(moved) = condition_into(q, &conditions[0].condition)
                {
                    *expr = Expr::Subquery(Box::new(moved));
                    self.changed = true;
                }
            }
            Expr::Subquery(q) => {
                if let Some(item) = unaggregated_item(q) {
                    let sql = format!("max({item})");
                    self.replace(item, &sql);
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(sql: &str) -> Query {
        let mut p = Parser::new(&PostgreSqlDialect {})
            .try_with_sql(sql)
            .expect("tokenizes");
        *p.parse_query().expect("parses")
    }

    /// The query's text after [`rewrite`], or None when it did not change.
    fn rewritten(q: &Query) -> Option<String> {
        let mut q = q.clone();
        rewrite(&mut q).then(|| q.to_string())
    }

    #[test]
    fn folds_identifiers_of_catalog_queries_only() {
        let q =
            query("SELECT c.relname AS TABLE_NAME FROM pg_catalog.pg_class c ORDER BY table_name");
        assert_eq!(
            rewritten(&q).as_deref(),
            Some("SELECT c.relname AS table_name FROM pg_catalog.pg_class c ORDER BY table_name")
        );
        // A user table keeps its case.
        let q = query("SELECT userId AS U FROM demo.ratings");
        assert_eq!(rewritten(&q), None);
        // A catalog query that needs nothing is left as sent.
        let q = query("SELECT relname FROM pg_class");
        assert_eq!(rewritten(&q), None);
        // Quoted identifiers keep their case.
        let q = query("SELECT \"Rel\" FROM (SELECT relname AS \"Rel\" FROM pg_class) AS T");
        assert_eq!(
            rewritten(&q).as_deref(),
            Some("SELECT \"Rel\" FROM (SELECT relname AS \"Rel\" FROM pg_class) AS t")
        );
    }

    #[test]
    fn expandarray_and_field_access() {
        let q = query(
            "SELECT (information_schema._pg_expandarray(i.indkey)).n AS KEY_SEQ, \
             information_schema._pg_expandarray(i.indkey) AS KEYS FROM pg_catalog.pg_index i",
        );
        assert_eq!(
            rewritten(&q).as_deref(),
            Some(
                "SELECT (unnest(_pg_expandarray_list(i.indkey)))['n'] AS key_seq, \
                 unnest(_pg_expandarray_list(i.indkey)) AS keys FROM pg_catalog.pg_index i"
            )
        );
    }

    #[test]
    fn aggregates_correlated_scalar_subqueries() {
        let q = query(
            "SELECT t.typname FROM pg_catalog.pg_type t WHERE t.typrelid = 0 OR \
             (SELECT c.relkind = 'c' FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid)",
        );
        assert_eq!(
            rewritten(&q).as_deref(),
            Some(
                "SELECT t.typname FROM pg_catalog.pg_type t WHERE t.typrelid = 0 OR \
                 (SELECT max(c.relkind = 'c') FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid)"
            )
        );
        let q = query("SELECT (SELECT count(*) FROM pg_class) FROM pg_namespace");
        assert_eq!(rewritten(&q), None);
    }

    #[test]
    fn like_escapes_become_backslashes() {
        // `//` is an escaped `/` and `/_` a literal `_`, both now escaped with a backslash;
        // a backslash becomes an escaped one.
        let q = query(
            "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname NOT LIKE 'a//' || '/_\\%' ESCAPE '/'",
        );
        assert_eq!(
            rewritten(&q).as_deref(),
            Some(
                "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname NOT LIKE 'a\\/\\_\\\\%'"
            )
        );
    }

    #[test]
    fn like_escapes_of_parameters_become_backslashes_when_the_query_runs() {
        let q = query(
            "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname NOT LIKE $1::VARCHAR || '%' ESCAPE '/'",
        );
        assert_eq!(
            rewritten(&q).as_deref(),
            Some(
                "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname NOT LIKE \
                 regexp_replace($1::VARCHAR || '%', '(?s)\\/(.)|(\\\\)', '\\${1}${2}', 'g')"
            )
        );
    }

    #[test]
    fn case_conditions_join_their_subquery() {
        let q = query(
            "SELECT CASE WHEN a.atthasdef THEN (SELECT d.adbin FROM pg_catalog.pg_attrdef d \
             WHERE d.adnum = a.attnum) END FROM pg_catalog.pg_attribute a",
        );
        assert_eq!(
            rewritten(&q).as_deref(),
            Some(
                "SELECT (SELECT max(d.adbin) FROM pg_catalog.pg_attrdef d \
                 WHERE (d.adnum = a.attnum) AND (a.atthasdef)) FROM pg_catalog.pg_attribute a"
            )
        );
        // An unqualified column in the condition might be the subquery's: left alone.
        let q = query(
            "SELECT CASE WHEN atthasdef THEN (SELECT d.adbin FROM pg_catalog.pg_attrdef d) END \
             FROM pg_catalog.pg_attribute",
        );
        assert_eq!(
            rewritten(&q).as_deref(),
            Some(
                "SELECT CASE WHEN atthasdef THEN (SELECT max(d.adbin) FROM pg_catalog.pg_attrdef d) END \
                 FROM pg_catalog.pg_attribute"
            )
        );
    }

    #[test]
    fn regproc_literals_are_names() {
        let q = query(
            "SELECT typinput = 'pg_catalog.array_in'::regproc AS is_array FROM pg_catalog.pg_type",
        );
        assert_eq!(
            rewritten(&q).as_deref(),
            Some("SELECT typinput = 'array_in' AS is_array FROM pg_catalog.pg_type")
        );
    }
}
