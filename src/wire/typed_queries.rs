//! The simple protocol's queries, planned with the types PostgreSQL gives their literals and
//! result columns (`datasource::with_postgresql_types`) before their columns are described: a
//! query hook of datafusion-postgres' handler, after its own (SET and SHOW, transactions,
//! cursors), where the handler would run `SessionContext::sql`, whose plan describes
//! `SELECT 1` as a bigint. The extended protocol types them when it parses
//! (`RecsqlParser::parse_datafusion`).
//!
//! It plans and runs DataFusion's queries exactly as the handler did otherwise; it does not
//! route statements or run recsql's own, and other statements go on to the handler.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::QueryHook;
use datafusion_postgres::arrow_pg::datatypes::df::encode_dataframe;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use pgwire::api::ClientInfo;
use pgwire::api::portal::Format;
use pgwire::api::results::Response;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::types::format::FormatOptions;

/// datafusion-postgres' own hooks, then [`TypedQueries`].
pub fn hooks() -> Vec<Arc<dyn QueryHook>> {
    vec![
        Arc::new(CursorStatementHook),
        Arc::new(SetShowHook),
        Arc::new(TransactionStatementHook),
        Arc::new(TypedQueries),
    ]
}

/// The hook.
pub struct TypedQueries;

#[async_trait]
impl QueryHook for TypedQueries {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if !matches!(statement, Statement::Query(_)) {
            return None;
        }
        let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
        Some(run(statement, ctx, options).await)
    }

    async fn handle_extended_parse_query(
        &self,
        _statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        None
    }

    async fn handle_extended_query(
        &self,
        _statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        None
    }
}

/// Plans `statement` from its text, as `SessionContext::sql` does, gives it PostgreSQL's types and
/// streams its rows in text.
async fn run(
    statement: &Statement,
    ctx: &SessionContext,
    options: Arc<FormatOptions>,
) -> PgWireResult<Response> {
    let api = |e: DataFusionError| PgWireError::ApiError(Box::new(e));
    let plan = ctx
        .state()
        .create_logical_plan(&statement.to_string())
        .await
        .map_err(api)?;
    let plan = crate::datasource::with_postgresql_types(plan).map_err(api)?;
    let rows = ctx.execute_logical_plan(plan).await.map_err(api)?;
    Ok(Response::Query(
        encode_dataframe(rows, &Format::UnifiedText, Some(options)).await?,
    ))
}
