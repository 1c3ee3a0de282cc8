//! Cursors that datafusion-postgres' cursor statements do not cover: a `DECLARE` whose query
//! takes parameters through the extended protocol (psycopg 3's server-side cursors send
//! `DECLARE "c" CURSOR FOR SELECT ... WHERE id = $1`; DataFusion's cursor ran the query
//! without its values), and the description of an open cursor and of a FETCH from one.
//! `FETCH` and `CLOSE` stay with datafusion-postgres, which reads the same portal store. This
//! module binds and describes; the query's SQL meaning was settled when it was parsed.

use std::sync::Arc;

use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::{Declare, Statement as SqlStatement};
use datafusion_postgres::arrow_pg::datatypes::df::encode_dataframe;
use pgwire::api::ClientPortalStore;
use pgwire::api::portal::{Format, Portal, PortalExecutionState};
use pgwire::api::results::{FieldInfo, Response, Tag};
use pgwire::api::stmt::StoredStatement;
use pgwire::api::store::{Entry, PortalStore};
use pgwire::error::PgWireResult;
use pgwire::types::format::FormatOptions;

use super::errors::to_pgwire;
use super::service::{DfStatement, parameter_values};
use crate::error::Error;

/// The columns that Describe of the portal called `name` announces, where it is an open
/// cursor (a portal that DECLARE started) or a FETCH from one. Without them psycopg 3's
/// server-side cursors had no loaders for the rows they fetched (an IndexError, or a crash
/// of its C module).
pub async fn portal_fields<C>(client: &C, name: Option<&str>) -> Option<Vec<FieldInfo>>
where
    C: ClientPortalStore,
    C::PortalStore: PortalStore<Statement = DfStatement>,
{
    let portal = open_portal(client, name.unwrap_or(pgwire::api::DEFAULT_NAME))?;
    match suspended_fields(&portal).await {
        Some(fields) => Some(fields),
        None => fetch_fields(client, &portal.statement.statement).await,
    }
}

/// The columns of a `FETCH` statement: those of the cursor it reads, while it is open.
/// DataFusion's plan of a FETCH has none, so drivers that describe the statement first
/// (tokio-postgres, JDBC) refused its rows ("DataRow field count does not match").
pub async fn fetch_fields<C>(client: &C, stmt: &DfStatement) -> Option<Vec<FieldInfo>>
where
    C: ClientPortalStore,
    C::PortalStore: PortalStore<Statement = DfStatement>,
{
    let (_, Some((SqlStatement::Fetch { name, .. }, _))) = stmt else {
        return None;
    };
    let cursor = open_portal(client, &name.value)?;
    suspended_fields(&cursor).await
}

fn open_portal<C>(client: &C, name: &str) -> Option<Arc<Portal<DfStatement>>>
where
    C: ClientPortalStore,
    C::PortalStore: PortalStore<Statement = DfStatement>,
{
    match client.portal_store().get_portal(name) {
        Some(Entry::Value(portal)) => Some(portal),
        _ => None,
    }
}

/// The columns of a portal whose rows are being read.
async fn suspended_fields(portal: &Portal<DfStatement>) -> Option<Vec<FieldInfo>> {
    let state = portal.state();
    let state = state.lock().await;
    match &*state {
        PortalExecutionState::Suspended(rows) => Some(rows.row_schema.as_ref().clone()),
        _ => None,
    }
}

/// Whether a parsed `DECLARE` keeps `query_plan`, its query's plan: where that takes
/// parameters (so that they are announced, and bound at Execute by [`declare`]); otherwise
/// datafusion-postgres' own cursor statement runs it.
pub fn query_with_parameters(ast: &SqlStatement, query_plan: &LogicalPlan) -> bool {
    matches!(ast, SqlStatement::Declare { .. })
        && query_plan
            .get_parameter_types()
            .is_ok_and(|types| !types.is_empty())
}

/// The query of a `DECLARE` statement, as SQL.
pub fn declared_query(ast: &SqlStatement) -> Option<String> {
    match ast {
        SqlStatement::Declare { stmts } => Some(stmts.first()?.for_query.as_ref()?.to_string()),
        _ => None,
    }
}

/// Whether `stmt` is a `DECLARE` kept with its query's plan (see [`query_with_parameters`]).
pub fn is_declare_with_parameters(stmt: &DfStatement) -> bool {
    matches!(stmt, (_, Some((ast, plan))) if query_with_parameters(ast, plan))
}

/// Opens the cursor of `portal`'s `DECLARE`, its query run with the portal's parameters.
pub async fn declare<C>(
    client: &C,
    ctx: &datafusion::prelude::SessionContext,
    portal: &Portal<DfStatement>,
    options: Arc<FormatOptions>,
) -> PgWireResult<Response>
where
    C: ClientPortalStore,
    C::PortalStore: PortalStore<Statement = DfStatement>,
{
    let (sql, Some((SqlStatement::Declare { stmts }, plan))) = &portal.statement.statement else {
        return Err(to_pgwire(Error::internal("a cursor without a DECLARE")));
    };
    let name = match stmts.as_slice() {
        [Declare { names, .. }] => names.first().map(|n| n.value.clone()),
        _ => None,
    }
    .ok_or_else(|| to_pgwire(Error::syntax("DECLARE names one cursor")))?;
    let values = parameter_values(portal, plan)?;
    let bound = plan
        .clone()
        .with_param_values(values)
        .map_err(|e| to_pgwire(e.into()))?;
    let rows = ctx
        .execute_logical_plan(bound)
        .await
        .map_err(|e| to_pgwire(e.into()))?;
    let response = encode_dataframe(rows, &Format::UnifiedText, Some(options)).await?;
    let statement = Arc::new(StoredStatement::new(
        name.clone(),
        (sql.clone(), None),
        vec![],
    ));
    let cursor = Portal::new_cursor(name, statement);
    cursor.start(response).await;
    client.portal_store().put_portal(Arc::new(cursor));
    Ok(Response::Execution(Tag::new("DECLARE CURSOR")))
}
