//! Whole queries that drivers send about types, answered by a query of recsql's own. asyncpg
//! learns how to read every type it has no built-in codec for (any array but `text[]` and
//! `oid[]`: `int8[]`, `float8[]`, ...) with one introspection query, a recursive CTE over
//! `pg_type` with correlated subqueries that DataFusion cannot run, which takes `$1::oid[]`.
//! recsql announced that parameter as `int4[]`, for which asyncpg had no codec either, so it
//! introspected again, without end (`RecursionError` for `SELECT array_agg(x)` or `x =
//! ANY($1::int8[])`). The replacement reads the same columns from recsql's `pg_type`: each
//! asked type and, one level down, the element type of an array (recsql has no domains,
//! ranges or composite types, the other levels of asyncpg's query). [`announced`] gives the
//! wire types that the replacement's `oid[]` parameter and column must be announced with.
//! This module only recognises and replaces text.

use pgwire::api::Type;

/// asyncpg's type introspection (`asyncpg/introspection.py`, `INTRO_LOOKUP_TYPES` and its
/// PostgreSQL 13 form), told by words that only it has.
fn is_asyncpg_introspection(sql: &str) -> bool {
    sql.contains("typeinfo_tree") && sql.contains("$1::oid[]") && sql.contains("attrtypoids")
}

/// The name that marks the replacement of asyncpg's introspection in its planned text.
const ASYNCPG_MARK: &str = "recsql_asyncpg_types";

/// What answers asyncpg's introspection: its columns, in its order, for the types in `$1`.
const ASYNCPG_TYPES: &str = "SELECT * FROM (\
SELECT t.oid AS oid, n.nspname AS ns, t.typname AS name, t.typtype AS kind, \
CAST(NULL AS oid) AS basetype, t.typelem AS elemtype, e.typdelim AS elemdelim, \
CAST(NULL AS oid) AS range_subtype, CAST(NULL AS oid[]) AS attrtypoids, \
CAST(NULL AS text[]) AS attrnames, 0 AS depth, CAST(NULL AS text) AS basetype_name, \
e.typname AS elemtype_name, CAST(NULL AS text) AS range_subtype_name \
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
LEFT JOIN pg_catalog.pg_type e ON t.typelem <> 0 AND e.oid = t.typelem \
WHERE t.oid = ANY($1) \
UNION ALL \
SELECT e.oid, n.nspname, e.typname, e.typtype, NULL, e.typelem, NULL, NULL, NULL, NULL, 1, \
NULL, NULL, NULL \
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_type e ON t.typelem <> 0 AND e.oid = t.typelem \
JOIN pg_catalog.pg_namespace n ON n.oid = e.typnamespace \
WHERE t.oid = ANY($1)) AS recsql_asyncpg_types \
ORDER BY depth DESC";

/// The query that answers `sql` in its place, if `sql` is a driver's query recsql replaces.
pub fn replacement(sql: &str) -> Option<&'static str> {
    is_asyncpg_introspection(sql).then_some(ASYNCPG_TYPES)
}

/// Wire types a replacement's parameters and columns are announced with where they differ
/// from what their Arrow types give (`oid[]` is planned as `int4[]`).
pub struct Announced {
    pub parameters: &'static [Type],
    pub columns: &'static [(&'static str, Type)],
}

/// The announced types of `statement`, the text of a planned statement (as DataFusion prints
/// it), if it is one of the replacements.
pub fn announced(statement: &str) -> Option<Announced> {
    // The planned text is the replacement as the SQL parser prints it back, with its mark.
    statement.contains(ASYNCPG_MARK).then_some(Announced {
        parameters: &[Type::OID_ARRAY],
        columns: &[("attrtypoids", Type::OID_ARRAY)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asyncpg_introspection_is_replaced_and_announced() {
        let asyncpg = "WITH RECURSIVE typeinfo_tree(oid, ns, name, kind, basetype, elemtype, \
            elemdelim, range_subtype, attrtypoids, attrnames, depth) AS (SELECT ... WHERE \
            ti.oid = any($1::oid[]) UNION ALL ...) SELECT DISTINCT * FROM typeinfo_tree";
        let replaced = replacement(asyncpg).expect("replaced");
        assert!(announced(replaced).is_some());
        assert!(replacement("SELECT oid FROM pg_type WHERE oid = any($1::oid[])").is_none());
        assert!(announced("SELECT attrtypoids FROM t").is_none());
    }
}
