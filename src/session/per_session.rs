//! What a query means in one session, as in PostgreSQL: an unqualified table name resolves in
//! the first schema of the session's search path that has a table of that name, and
//! `current_schema()`, `current_schemas(b)` and `current_setting('name')` answer with the
//! session's values. Names that no schema of the path has (CTEs, models, system catalogs,
//! missing tables) stay as written and resolve as before, in the default schema.
//!
//! It rewrites the query's AST with what it reads of the session's settings and of the
//! catalog; it changes neither.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::catalog::CatalogProvider;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName, ObjectNamePart,
    Query, TableFactor, Value, VisitMut, VisitorMut,
};

use crate::datasource::{DEFAULT_CATALOG, DEFAULT_SCHEMA};
use crate::settings::{self, Metadata};

/// The session's view of names: the schemas of its search path that exist.
pub struct SessionNames<'a> {
    metadata: &'a Metadata,
    catalog: Option<Arc<dyn CatalogProvider>>,
    schemas: Vec<String>,
}

impl<'a> SessionNames<'a> {
    pub fn new(ctx: &SessionContext, metadata: &'a Metadata) -> Self {
        let catalog = ctx.catalog(DEFAULT_CATALOG);
        let schemas = settings::search_path(metadata)
            .into_iter()
            .filter(|s| catalog.as_ref().is_some_and(|c| c.schema(s).is_some()))
            .collect();
        SessionNames {
            metadata,
            catalog,
            schemas,
        }
    }

    /// `current_schema()`: the first schema of the path that exists, else the default.
    fn current_schema(&self) -> &str {
        self.schemas.first().map_or(DEFAULT_SCHEMA, String::as_str)
    }

    /// Whether unqualified names need resolving along the path: not when it leads to the
    /// default schema alone, where they resolve anyway.
    fn qualifies(&self) -> bool {
        !self.schemas.is_empty() && self.schemas != [DEFAULT_SCHEMA]
    }

    /// The schema a table name without one resolves in, if the path has it.
    fn schema_of(&self, table: &str) -> Option<&str> {
        let catalog = self.catalog.as_ref()?;
        // System catalogs come first in PostgreSQL's search too.
        if catalog
            .schema("pg_catalog")
            .is_some_and(|s| s.table_exist(table))
        {
            return None;
        }
        self.schemas
            .iter()
            .find(|s| catalog.schema(s).is_some_and(|s| s.table_exist(table)))
            .map(String::as_str)
    }

    /// Rewrites `query` for this session; returns whether anything changed. `text`, the
    /// statement as sent when known, spares the walk of queries that call none of the
    /// functions when names need no resolving.
    pub fn rewrite(&self, query: &mut Query, text: Option<&str>) -> bool {
        let calls = text.is_none_or(|t| {
            t.as_bytes()
                .windows(9)
                .any(|w| w.eq_ignore_ascii_case(b"current_s"))
        });
        if !calls && !self.qualifies() {
            return false;
        }
        let mut visitor = Rewriter {
            names: self,
            ctes: HashSet::new(),
            changed: false,
        };
        let _ = VisitMut::visit(query, &mut visitor);
        visitor.changed
    }

    /// The expression that answers `expr` in this session, if it is one of the functions.
    fn answer(&self, expr: &Expr) -> Option<Expr> {
        let function = match expr {
            // `current_schema` without parentheses, as PostgreSQL allows.
            Expr::Identifier(i) if i.quote_style.is_none() => {
                return i
                    .value
                    .eq_ignore_ascii_case("current_schema")
                    .then(|| text(self.current_schema()));
            }
            Expr::Function(f) => f,
            _ => return None,
        };
        let name = crate::sql::last_name(&function.name)?;
        let args: Vec<&Expr> = match &function.args {
            FunctionArguments::None => vec![],
            FunctionArguments::List(list) => list
                .args
                .iter()
                .map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                    _ => None,
                })
                .collect::<Option<_>>()?,
            FunctionArguments::Subquery(_) => return None,
        };
        match (name.as_str(), args.as_slice()) {
            ("current_schema", []) => Some(text(self.current_schema())),
            ("current_schemas", [implicit]) => {
                let path: Vec<&str> = if self.schemas.is_empty() {
                    vec![DEFAULT_SCHEMA]
                } else {
                    self.schemas.iter().map(String::as_str).collect()
                };
                let array = |with_catalog: bool| {
                    let names = with_catalog
                        .then_some("pg_catalog")
                        .into_iter()
                        .chain(path.iter().copied())
                        .map(|s| format!("'{}'", s.replace('\'', "''")))
                        .collect::<Vec<_>>();
                    format!("ARRAY[{}]", names.join(", "))
                };
                let sql = match implicit {
                    Expr::Value(v) if matches!(v.value, Value::Boolean(_)) => {
                        array(v.value == Value::Boolean(true))
                    }
                    other => format!(
                        "CASE WHEN {other} THEN {} ELSE {} END",
                        array(true),
                        array(false)
                    ),
                };
                crate::sql::parse_expr(&sql)
            }
            ("current_setting", [Expr::Value(v), ..]) => {
                let name = match &v.value {
                    Value::SingleQuotedString(s) => s,
                    _ => return None,
                };
                settings::value(self.metadata, name).map(|(_, v)| text(&v))
            }
            _ => None,
        }
    }
}

fn text(s: &str) -> Expr {
    Expr::value(Value::SingleQuotedString(s.to_string()))
}

struct Rewriter<'s, 'a> {
    names: &'s SessionNames<'a>,
    /// The names of the query's common table expressions, which no schema qualifies.
    ctes: HashSet<String>,
    changed: bool,
}

impl VisitorMut for Rewriter<'_, '_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.insert(normalized(&cte.alias.name));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, table: &mut TableFactor) -> ControlFlow<()> {
        if !self.names.qualifies() {
            return ControlFlow::Continue(());
        }
        if let TableFactor::Table {
            name, args: None, ..
        } = table
            && let [ObjectNamePart::Identifier(ident)] = name.0.as_slice()
        {
            let table = normalized(ident);
            if !self.ctes.contains(&table)
                && let Some(schema) = self.names.schema_of(&table)
            {
                // Quoted, so that the name resolves as the catalog spells it.
                let schema = Ident::with_quote('"', schema);
                *name = ObjectName::from(vec![schema, ident.clone()]);
                self.changed = true;
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Some(answer) = self.names.answer(expr) {
            *expr = answer;
            self.changed = true;
        }
        ControlFlow::Continue(())
    }
}

/// An identifier as DataFusion resolves it: unquoted ones in lower case.
fn normalized(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_ascii_lowercase(),
    }
}
