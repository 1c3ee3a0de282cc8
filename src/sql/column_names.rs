//! PostgreSQL's names for result columns. A select item without an alias is named as
//! PostgreSQL names it (`count(*)` is `count`, `1 + 2` is `?column?`, `x::text` is `x`,
//! `'1'::int` is `int4`), where DataFusion would name it after the expression's text
//! (`count(*)`, `Int64(1) + Int64(2)`); clients see these names as column headers and keys.
//!
//! DataFusion refuses two result columns of one name, which PostgreSQL allows (`SELECT 1, 2`
//! has two `?column?`). A repeated name is therefore given as an alias with a private mark
//! and a number after it, and [`display_name`] drops the mark where names reach the client.
//! This module only rewrites the AST; it does not plan or run anything.

use std::collections::HashMap;

use datafusion::sql::sqlparser::ast::{
    AccessExpr, ArrayElemTypeDef, DataType, Expr, Ident, Query, Select, SelectItem, SetExpr,
    TableFactor, TimezoneInfo, TrimWhereField,
};

/// Separates a column's name from the number that keeps it unique in DataFusion. A control
/// character: no name a user writes has it.
const MARK: char = '\u{1f}';

/// The name a client sees for a result column named `name` in DataFusion.
pub fn display_name(name: &str) -> &str {
    name.split(MARK).next().unwrap_or(name)
}

/// Whether `name` is a repeated column name kept unique by a mark (see [`display_name`]).
pub fn is_repeated(name: &str) -> bool {
    name.contains(MARK)
}

/// Gives every unaliased select item of `query`, of its CTEs and of its derived tables the
/// name PostgreSQL gives it, and repeated names a mark. Returns whether anything changed.
pub fn name_columns(query: &mut Query) -> bool {
    let mut changed = false;
    if let Some(with) = &mut query.with {
        for cte in &mut with.cte_tables {
            changed |= name_columns(&mut cte.query);
        }
    }
    name_set_expr(&mut query.body) | changed
}

fn name_set_expr(body: &mut SetExpr) -> bool {
    match body {
        SetExpr::Select(select) => {
            let mut changed = false;
            for table in &mut select.from {
                changed |= name_table(&mut table.relation);
                for join in &mut table.joins {
                    changed |= name_table(&mut join.relation);
                }
            }
            name_select(select) | changed
        }
        SetExpr::Query(q) => name_columns(q),
        SetExpr::SetOperation { left, right, .. } => name_set_expr(left) | name_set_expr(right),
        _ => false,
    }
}

fn name_table(table: &mut TableFactor) -> bool {
    match table {
        TableFactor::Derived { subquery, .. } => name_columns(subquery),
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => {
            let mut changed = name_table(&mut table_with_joins.relation);
            for join in &mut table_with_joins.joins {
                changed |= name_table(&mut join.relation);
            }
            changed
        }
        _ => false,
    }
}

fn name_select(select: &mut Select) -> bool {
    let wildcard = select.projection.iter().any(|item| {
        matches!(
            item,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        )
    });
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut changed = false;
    for item in &mut select.projection {
        match item {
            SelectItem::UnnamedExpr(expr) => {
                let column = is_column(expr);
                let name = column_name(expr).0;
                let count = seen.entry(name.clone()).or_default();
                *count += 1;
                // A column keeps DataFusion's name, which is PostgreSQL's, unless it repeats
                // one; beside a wildcard it may repeat one of the wildcard's columns.
                let alias = if *count > 1 || (column && wildcard) {
                    format!("{name}{MARK}{count}")
                } else if column {
                    continue;
                } else {
                    name
                };
                *item = SelectItem::ExprWithAlias {
                    expr: expr.clone(),
                    alias: Ident::with_quote('"', alias),
                };
                changed = true;
            }
            SelectItem::ExprWithAlias { alias, .. } => {
                let count = seen.entry(alias.value.clone()).or_default();
                *count += 1;
                if *count > 1 {
                    *alias = Ident::with_quote('"', format!("{}{MARK}{count}", alias.value));
                    changed = true;
                }
            }
            _ => {}
        }
    }
    changed
}

/// A reference to a column, which DataFusion names as PostgreSQL does. The bare words that
/// PostgreSQL reads as functions (`current_schema`) are not.
fn is_column(expr: &Expr) -> bool {
    match expr {
        Expr::Identifier(ident) => {
            ident.quote_style.is_some() || !ident.value.eq_ignore_ascii_case("current_schema")
        }
        Expr::CompoundIdentifier(_) => true,
        _ => false,
    }
}

/// How sure PostgreSQL is of a name: a weak one (a cast's type, `case`) gives way to a
/// strong one found inside.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Strength {
    None,
    Weak,
    Strong,
}

/// PostgreSQL's name for an unaliased select item, and how sure it is of it.
fn column_name(expr: &Expr) -> (String, Strength) {
    let strong = |name: &str| (name.to_string(), Strength::Strong);
    match expr {
        Expr::Identifier(ident) => (ident.value.clone(), Strength::Strong),
        Expr::CompoundIdentifier(parts) => match parts.last() {
            Some(last) => (last.value.clone(), Strength::Strong),
            None => unnamed(),
        },
        Expr::CompoundFieldAccess { root, access_chain } => {
            let field = access_chain.iter().rev().find_map(|access| match access {
                AccessExpr::Dot(Expr::Identifier(ident)) => Some(ident.value.clone()),
                _ => None,
            });
            match field {
                Some(name) => (name, Strength::Strong),
                None => column_name(root),
            }
        }
        // A call, or a parenthesis-less keyword such as current_user.
        Expr::Function(f) => match f.name.0.last().and_then(|part| part.as_ident()) {
            Some(ident) => (folded(ident), Strength::Strong),
            None => unnamed(),
        },
        Expr::Cast {
            expr, data_type, ..
        } => {
            let inner = column_name(expr);
            if inner.1 == Strength::Strong {
                inner
            } else {
                (type_name(data_type), Strength::Weak)
            }
        }
        Expr::TypedString(typed) => (type_name(&typed.data_type), Strength::Weak),
        Expr::Interval(_) => ("interval".to_string(), Strength::Weak),
        Expr::Nested(inner) | Expr::Collate { expr: inner, .. } => column_name(inner),
        Expr::Case { else_result, .. } => match else_result.as_deref().map(column_name) {
            Some(named) if named.1 == Strength::Strong => named,
            _ => ("case".to_string(), Strength::Weak),
        },
        Expr::Exists { .. } => strong("exists"),
        Expr::Subquery(q) => match first_item_name(q) {
            Some(name) => (name, Strength::Strong),
            None => unnamed(),
        },
        Expr::Array(_) => strong("array"),
        Expr::Tuple(_) => strong("row"),
        Expr::Extract { .. } => strong("extract"),
        Expr::Substring { shorthand, .. } => {
            strong(if *shorthand { "substr" } else { "substring" })
        }
        Expr::Position { .. } => strong("position"),
        Expr::Overlay { .. } => strong("overlay"),
        Expr::Ceil { .. } => strong("ceil"),
        Expr::Floor { .. } => strong("floor"),
        Expr::AtTimeZone { .. } => strong("timezone"),
        Expr::Trim { trim_where, .. } => strong(match trim_where {
            Some(TrimWhereField::Leading) => "ltrim",
            Some(TrimWhereField::Trailing) => "rtrim",
            _ => "btrim",
        }),
        _ => unnamed(),
    }
}

fn unnamed() -> (String, Strength) {
    ("?column?".to_string(), Strength::None)
}

/// A function's or type's name as PostgreSQL keeps it: unquoted ones folded to lower case.
/// (Column names keep their case, as everywhere in recsql: `userId` names `userId`.)
fn folded(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// The name of a scalar subquery's column: its first select item's.
fn first_item_name(query: &Query) -> Option<String> {
    let mut body = query.body.as_ref();
    loop {
        match body {
            SetExpr::Select(select) => {
                return match select.projection.first()? {
                    SelectItem::UnnamedExpr(expr) => Some(column_name(expr).0),
                    SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
                    _ => None,
                };
            }
            SetExpr::Query(q) => body = q.body.as_ref(),
            SetExpr::SetOperation { left, .. } => body = left.as_ref(),
            _ => return None,
        }
    }
}

/// PostgreSQL's name of a type written in a cast (`integer` is `int4`).
fn type_name(data_type: &DataType) -> String {
    let name = match data_type {
        DataType::Int(_) | DataType::Integer(_) | DataType::Int4(_) => "int4",
        DataType::BigInt(_) | DataType::Int8(_) => "int8",
        DataType::SmallInt(_) | DataType::Int2(_) => "int2",
        DataType::Real | DataType::Float4 => "float4",
        DataType::Double(_) | DataType::DoublePrecision | DataType::Float8 => "float8",
        DataType::Float(info) => match info {
            datafusion::sql::sqlparser::ast::ExactNumberInfo::Precision(p)
            | datafusion::sql::sqlparser::ast::ExactNumberInfo::PrecisionAndScale(p, _)
                if *p <= 24 =>
            {
                "float4"
            }
            _ => "float8",
        },
        DataType::Bool | DataType::Boolean => "bool",
        DataType::Text => "text",
        DataType::Varchar(_) | DataType::CharacterVarying(_) | DataType::CharVarying(_) => {
            "varchar"
        }
        DataType::Char(_) | DataType::Character(_) => "bpchar",
        DataType::Numeric(_) | DataType::Decimal(_) | DataType::Dec(_) => "numeric",
        DataType::Date => "date",
        DataType::Time(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => "timetz",
        DataType::Time(..) => "time",
        DataType::Timestamp(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => "timestamptz",
        DataType::Timestamp(..) => "timestamp",
        DataType::Interval { .. } => "interval",
        DataType::JSON => "json",
        DataType::JSONB => "jsonb",
        DataType::Uuid => "uuid",
        DataType::Bytea => "bytea",
        DataType::Regclass => "regclass",
        DataType::Array(
            ArrayElemTypeDef::SquareBracket(inner, _)
            | ArrayElemTypeDef::AngleBracket(inner)
            | ArrayElemTypeDef::Parenthesis(inner),
        ) => return type_name(inner),
        DataType::Custom(name, _) => {
            return match name.0.last().and_then(|part| part.as_ident()) {
                Some(ident) => folded(ident),
                None => name.to_string().to_lowercase(),
            };
        }
        other => {
            let text = other.to_string().to_lowercase();
            return text.split('(').next().unwrap_or(&text).trim().to_string();
        }
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::ast::Statement;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    /// The names a client sees for `sql`'s select items, after naming.
    fn names(sql: &str) -> Vec<String> {
        let mut parsed = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        let Some(Statement::Query(query)) = parsed.first_mut() else {
            panic!("not a query: {sql}");
        };
        name_columns(query);
        let SetExpr::Select(select) = query.body.as_ref() else {
            panic!("not a select: {sql}");
        };
        select
            .projection
            .iter()
            .map(|item| match item {
                SelectItem::UnnamedExpr(expr) => expr.to_string(),
                SelectItem::ExprWithAlias { alias, .. } => {
                    display_name(&alias.value).to_string()
                        + if is_repeated(&alias.value) { "'" } else { "" }
                }
                other => other.to_string(),
            })
            .collect()
    }

    #[test]
    fn items_are_named_as_postgresql_names_them() {
        assert_eq!(
            names(
                "SELECT count(*), MAX(a), pg_catalog.upper(b), now(), current_user, current_date"
            ),
            [
                "count",
                "max",
                "upper",
                "now",
                "current_user",
                "current_date"
            ]
        );
        assert_eq!(
            names("SELECT 1 + 2, -a, a IS NULL, 'x', a = ANY(b), CASE WHEN a THEN 1 END"),
            [
                "?column?",
                "?column?'",
                "?column?'",
                "?column?'",
                "?column?'",
                "case"
            ]
        );
        assert_eq!(
            names(
                "SELECT a::text, CAST(1 AS integer), '1'::bigint, 2::double precision, 'x'::varchar(3), '{}'::int[], 'a'::regclass, 1::oid"
            ),
            [
                "a", "int4", "int8", "float8", "varchar", "int4'", "regclass", "oid"
            ]
        );
        assert_eq!(
            names(
                "SELECT DATE '2024-01-01', INTERVAL '1 day', (count(*)), CASE WHEN x THEN 1 ELSE y END, (SELECT max(v) FROM t), EXISTS (SELECT 1), ARRAY[1], trim(a), extract(year FROM d), coalesce(a, b)"
            ),
            [
                "date", "interval", "count", "y", "max", "exists", "array", "btrim", "extract",
                "coalesce"
            ]
        );
        // Columns keep their case, as everywhere in recsql; function names fold unless quoted.
        assert_eq!(
            names(r#"SELECT "Mixed"(a), Upper(b), t."userId", movieId::text, a, t.b"#),
            ["Mixed", "upper", r#"t."userId""#, "movieId", "a", "t.b"]
        );
    }

    #[test]
    fn repeated_names_are_marked_and_display_as_the_name() {
        assert_eq!(
            names("SELECT 1, 2, a, a, count(*) AS n, count(*) AS n"),
            ["?column?", "?column?'", "a", "a'", "n", "n'"]
        );
        // Beside a wildcard a column may repeat one of the wildcard's.
        assert_eq!(names("SELECT *, a, t.b FROM t"), ["*", "a'", "b'"]);
        assert_eq!(display_name("count"), "count");
    }

    #[test]
    fn derived_tables_ctes_and_set_operations_are_named() {
        let mut parsed = Parser::parse_sql(
            &PostgreSqlDialect {},
            "WITH c AS (SELECT count(*) FROM t) SELECT * FROM (SELECT max(a) FROM t) s JOIN c ON true UNION ALL SELECT min(a), 1",
        )
        .unwrap();
        let Some(Statement::Query(query)) = parsed.first_mut() else {
            panic!()
        };
        assert!(name_columns(query));
        let text = query.to_string();
        assert!(text.contains(r#"count(*) AS "count""#), "{text}");
        assert!(text.contains(r#"max(a) AS "max""#), "{text}");
        assert!(
            text.contains(r#"min(a) AS "min", 1 AS "?column?""#),
            "{text}"
        );
        // Nothing to name: unchanged.
        let mut plain =
            Parser::parse_sql(&PostgreSqlDialect {}, "SELECT a, b AS c FROM t").unwrap();
        let Some(Statement::Query(query)) = plain.first_mut() else {
            panic!()
        };
        assert!(!name_columns(query));
    }
}
