//! MindsDB's tables in `information_schema`: `information_schema.models` (the models of every
//! project, the columns of a project's `models` table) and `information_schema.ml_engines`
//! (the rows of `SHOW ML_ENGINES`). MindsDB's documentation and its own error messages point
//! users at them (`select error from information_schema.models where name = 'm'`), but
//! DataFusion's `information_schema` has a fixed set of tables, so a query's reference to one
//! of them becomes a subquery over what recsql has: a `UNION ALL` of the projects' `models`
//! tables, and the engines' rows as `VALUES`. This module rewrites ASTs only.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Ident, Query, TableAlias, TableFactor, VisitMut, VisitorMut,
};

use super::ml_engine::connection_data;
use super::model_query::{literal, quote};
use crate::catalog::EngineDef;
use crate::error::{Error, Result};

/// What the tables list: the projects (each has a `models` table) and the ML engines.
#[derive(Clone)]
pub struct Listed {
    pub projects: Vec<String>,
    pub engines: Vec<EngineDef>,
}

/// `query` with each `information_schema.models` and `information_schema.ml_engines` read
/// from what `listed` gives (asked only for a query that reads one of them, as it reads the
/// catalog); returns whether it changed.
pub fn rewrite(query: &mut Query, listed: &dyn Fn() -> Listed) -> Result<bool> {
    let mut tables = Tables {
        listed,
        read: None,
        changed: false,
    };
    match VisitMut::visit(query, &mut tables) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(tables.changed),
    }
}

struct Tables<'a> {
    listed: &'a dyn Fn() -> Listed,
    read: Option<Listed>,
    changed: bool,
}

impl VisitorMut for Tables<'_> {
    type Break = Error;

    fn pre_visit_table_factor(&mut self, table: &mut TableFactor) -> ControlFlow<Error> {
        let TableFactor::Table {
            name,
            alias,
            args: None,
            sample,
            ..
        } = table
        else {
            return ControlFlow::Continue(());
        };
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|p| p.as_ident().map(|i| i.value.to_lowercase()))
            .collect();
        let table_name = match parts.as_slice() {
            [schema, t] | [_, schema, t] if schema == "information_schema" => t.as_str(),
            _ => return ControlFlow::Continue(()),
        };
        let sql = match table_name {
            "models" => models_sql(&self.read.get_or_insert_with(self.listed).projects),
            "ml_engines" => ml_engines_sql(&self.read.get_or_insert_with(self.listed).engines),
            _ => return ControlFlow::Continue(()),
        };
        let subquery = match crate::sql::parse_query(&sql) {
            Ok(q) => q,
            Err(e) => return ControlFlow::Break(e),
        };
        let alias = alias.take().unwrap_or(TableAlias {
            explicit: true,
            name: Ident::new(table_name),
            columns: vec![],
            at: None,
        });
        *table = TableFactor::Derived {
            lateral: false,
            subquery,
            alias: Some(alias),
            sample: sample.take(),
        };
        self.changed = true;
        ControlFlow::Continue(())
    }
}

fn models_sql(projects: &[String]) -> String {
    projects
        .iter()
        .map(|p| format!("SELECT * FROM {}.models", quote(p)))
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

fn ml_engines_sql(engines: &[EngineDef]) -> String {
    if engines.is_empty() {
        return "SELECT CAST(NULL AS TEXT) AS name, CAST(NULL AS TEXT) AS handler, \
                CAST(NULL AS TEXT) AS connection_data WHERE false"
            .to_string();
    }
    let rows = engines
        .iter()
        .map(|e| {
            format!(
                "({}, {}, {})",
                literal(&e.name),
                literal(&e.handler),
                literal(&connection_data(e))
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("SELECT * FROM (VALUES {rows}) AS e (name, handler, connection_data)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str, listed: &Listed) -> String {
        let mut q = crate::sql::parse_query(sql).expect("parses");
        rewrite(&mut q, &|| listed.clone()).expect("rewrites");
        q.to_string()
    }

    #[test]
    fn information_tables_read_what_recsql_has() {
        let listed = Listed {
            projects: vec!["mindsdb".into(), "shop".into()],
            engines: vec![EngineDef {
                name: "it's".into(),
                handler: "lightfm".into(),
                options: Default::default(),
            }],
        };
        assert_eq!(
            rewritten(
                "SELECT error FROM information_schema.models WHERE name = 'm'",
                &listed
            ),
            "SELECT error FROM (SELECT * FROM \"mindsdb\".models UNION ALL SELECT * FROM \"shop\".models) AS models WHERE name = 'm'"
        );
        assert_eq!(
            rewritten("SELECT * FROM INFORMATION_SCHEMA.ML_ENGINES e", &listed),
            "SELECT * FROM (SELECT * FROM (VALUES ('it''s', 'lightfm', '{}')) AS e (name, handler, connection_data)) e"
        );
        assert_eq!(
            rewritten("SELECT * FROM information_schema.tables", &listed),
            "SELECT * FROM information_schema.tables"
        );
    }
}
