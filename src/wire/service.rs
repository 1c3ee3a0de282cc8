//! The query handlers: recsql's statements run on the [`Engine`]; everything else goes to
//! datafusion-postgres' `DfSessionService`, so pg_catalog queries, cursors, SET/SHOW and
//! transactions keep working, except that queries get PostgreSQL's types where they are
//! planned (`datasource::with_postgresql_types`: the simple protocol's through the
//! `typed_queries` hook, the extended protocol's at Parse) and a prepared query runs here, on
//! its plan as parsed. Simple and extended protocol share one classification.
//!
//! The extended protocol stores recsql statements as `(sql, None)`: exactly the statement type
//! of `DfSessionService`, whose cursor hook requires it. This module encodes results and maps
//! errors; it does not interpret SQL itself.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser;
use datafusion_postgres::arrow_pg::datatypes::arrow_schema_to_pg_fields;
use datafusion_postgres::arrow_pg::datatypes::df::{
    deserialize_parameters, deserialize_parameters_with_server_types, encode_dataframe,
};
use datafusion_postgres::{DfSessionService, Parser as DfParser};
use futures::{Sink, StreamExt};
use pgwire::api::DEFAULT_NAME;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{
    ExtendedQueryHandler, SimpleQueryHandler, send_describe_response, send_execution_response,
    send_query_response,
};
use pgwire::api::results::{DescribePortalResponse, FieldInfo, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::Entry;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, ConnectionHandle, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::{NoData, ParameterDescription};
use pgwire::messages::extendedquery::{Describe, TARGET_TYPE_BYTE_STATEMENT};
use pgwire::messages::response::TransactionStatus;
use pgwire::types::format::FormatOptions;
use tokio::sync::Notify;

use super::cancel::{Stops, stoppable, within};
use super::copy_in::Uploads;
use super::copy_out;
use super::cursor;
use super::errors::{classify, to_error_info, to_pgwire};
use super::pg_text::TextForm;
use super::settings_command;
use crate::error::Error;
use crate::session::{Engine, Output, Plan, driver_queries, notices};
use crate::settings::{Command, Metadata};
use crate::sql::{Statement, display_name, is_repeated, parse_statement, split_statements};

/// The statement type datafusion-postgres stores per prepared statement.
pub type DfStatement = (String, Option<(sqlparser::ast::Statement, LogicalPlan)>);

/// Counts statements in flight, so shutdown can wait for them.
#[derive(Debug, Default)]
pub struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

impl InFlight {
    fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.clone())
    }

    /// Waits until no statement is running.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Held while a statement runs, and by the row stream of its result: rows are produced
/// lazily while they are sent, so a statement is over when its stream is dropped.
struct InFlightGuard(Arc<InFlight>);

/// Ties `guard` to the row streams of `responses`, whose errors (raised while rows are
/// computed, such as a division by zero) get their SQLSTATE as errors before the first row
/// do. Their rows also end at a cancel request or the statement's timeout, where the context
/// has them (see `cancel`).
fn hold(
    responses: Vec<Response>,
    guard: &Arc<InFlightGuard>,
    result: &ResultContext,
) -> Vec<Response> {
    responses
        .into_iter()
        .map(|r| hold_one(r, guard, result))
        .collect()
}

/// What the rows of a connection's results depend on: the zone timestamps are shown in and
/// what stops them early.
#[derive(Clone)]
struct ResultContext {
    zone: Option<chrono_tz::Tz>,
    stops: Stops,
}

impl ResultContext {
    /// For a statement that started when `deadline` was set.
    fn of<C: ClientInfo>(client: &C, deadline: Option<tokio::time::Instant>) -> Self {
        ResultContext {
            zone: display_zone(client),
            stops: Stops {
                cancel: client
                    .session_extensions()
                    .get::<Arc<ConnectionHandle>>()
                    .map(|handle| handle.as_ref().clone()),
                deadline,
            },
        }
    }
}

/// When the statement that `client` starts now runs out of its `statement_timeout`.
fn deadline<C: ClientInfo>(client: &C) -> Option<tokio::time::Instant> {
    Stops::deadline_after(crate::settings::statement_timeout(client.metadata()))
}

fn hold_one(response: Response, guard: &Arc<InFlightGuard>, result: &ResultContext) -> Response {
    match response {
        Response::Query(mut q) => {
            let rows = std::mem::replace(&mut q.data_rows, Box::pin(futures::stream::empty()));
            let guard = guard.clone();
            let forms = TextForm::of_all(&q.row_schema, result.zone);
            let mut buffer = bytes::BytesMut::new();
            let rows = Box::pin(rows.map(move |row| {
                let _held = &guard;
                let row = row.map_err(classify)?;
                match &forms {
                    Some(forms) => super::pg_text::rewrite_row(forms, row, &mut buffer),
                    None => Ok(row),
                }
            }));
            q.data_rows = stoppable(rows, &result.stops);
            if let Some(fields) = displayed(&q.row_schema) {
                q.row_schema = Arc::new(fields);
            }
            Response::Query(q)
        }
        other => other,
    }
}

/// `field` with another name and wire type, and all else it has.
fn remade(field: &FieldInfo, name: &str, datatype: Type) -> FieldInfo {
    FieldInfo::new(
        name.to_string(),
        field.table_id(),
        field.column_id(),
        datatype,
        field.format(),
    )
    .with_format_options(field.format_options().clone())
    .with_type_size(field.type_size())
    .with_type_modifier(field.type_modifier())
}

/// `fields` with the wire types of `columns` (by name) in place of those their Arrow types gave.
fn announce(fields: &mut [FieldInfo], columns: &[(&str, Type)]) {
    for field in fields.iter_mut() {
        if let Some((_, ty)) = columns.iter().find(|(name, _)| field.name() == *name) {
            *field = remade(field, field.name(), ty.clone());
        }
    }
}

/// `fields` with the names clients see, when one differs: a repeated column name without the
/// mark that kept it apart in DataFusion (see [`crate::sql::display_name`]).
fn displayed(fields: &[FieldInfo]) -> Option<Vec<FieldInfo>> {
    if !fields.iter().any(|f| is_repeated(f.name())) {
        return None;
    }
    let shown = fields
        .iter()
        .map(|f| remade(f, display_name(f.name()), f.datatype().clone()))
        .collect();
    Some(shown)
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// How one statement is handled.
enum Route {
    Ours(Box<Statement>),
    /// `DEALLOCATE [PREPARE] name|ALL`: forgets prepared statements of this connection.
    Deallocate(Option<String>),
    /// `DISCARD ALL`: the reset query of connection poolers.
    DiscardAll,
    /// `SAVEPOINT name`, `RELEASE [SAVEPOINT] name` or `ROLLBACK TO [SAVEPOINT] name`
    /// (`rollback`), answered with `tag`: drivers set savepoints around their own queries
    /// (psycopg's nested transactions).
    Savepoint {
        tag: &'static str,
        rollback: bool,
    },
    /// SET, SHOW or RESET of a run-time parameter, on the connection's own settings.
    Setting(Command),
    /// A model query, rewritten into SQL for DataFusion.
    Rewritten(String),
    DataFusion,
}

pub struct RecsqlService {
    engine: Arc<Engine>,
    uploads: Arc<Uploads>,
    df: Arc<DfSessionService>,
    parser: Arc<RecsqlParser>,
    in_flight: Arc<InFlight>,
}

impl RecsqlService {
    pub fn new(engine: Arc<Engine>, in_flight: Arc<InFlight>, uploads: Arc<Uploads>) -> Self {
        let df = Arc::new(DfSessionService::new_with_hooks(
            engine.context().clone(),
            super::typed_queries::hooks(),
        ));
        let inner = <DfSessionService as ExtendedQueryHandler>::query_parser(&df);
        let parser = Arc::new(RecsqlParser {
            engine: engine.clone(),
            inner,
        });
        RecsqlService {
            engine,
            uploads,
            df,
            parser,
            in_flight,
        }
    }

    /// Runs one of recsql's statements and encodes its result.
    async fn respond(
        &self,
        client: SocketAddr,
        stmt: Box<Statement>,
        format: &Format,
        options: Arc<FormatOptions>,
    ) -> PgWireResult<Response> {
        match self.engine.execute(*stmt).await.map_err(to_pgwire)? {
            Output::Command(tag) => Ok(Response::Execution(Tag::new(&tag))),
            Output::CopyIn(upload) => Ok(self.uploads.begin(client, upload)),
            Output::Copy {
                schema,
                stream,
                options,
            } => Ok(Response::CopyOut(copy_out::response(
                schema, stream, &options,
            )?)),
            Output::Rows { schema, batches } => {
                let df = self
                    .engine
                    .context()
                    .read_batches(batches)
                    .map_err(|e| to_pgwire(e.into()))?;
                // read_batches of no batches has an empty schema; keep the declared one.
                let df = if df.schema().fields().is_empty() && !schema.fields().is_empty() {
                    self.engine
                        .context()
                        .read_batch(datafusion::arrow::record_batch::RecordBatch::new_empty(
                            schema,
                        ))
                        .map_err(|e| to_pgwire(e.into()))?
                } else {
                    df
                };
                Ok(Response::Query(
                    encode_dataframe(df, format, Some(options)).await?,
                ))
            }
        }
    }
}

async fn route(engine: &Engine, sql: &str, session: &Metadata) -> Result<Route, Error> {
    if let Some(replacement) = driver_queries::replacement(sql) {
        return Ok(Route::Rewritten(replacement.to_string()));
    }
    if let Some(route) = command_route(sql) {
        return Ok(route);
    }
    if let Some(route) = use_route(engine, sql)? {
        return Ok(route);
    }
    let stmt = parse_statement(sql)?;
    if let Some(route) = setting_route(&stmt, sql) {
        return Ok(route);
    }
    Ok(engine.plan(stmt, sql, session).await?.into())
}

/// MindsDB's `USE name`: the database or project where the session's unqualified names
/// resolve, as `SET search_path TO name` (models that statements name without a project then
/// belong to a project used so). None for other statements.
fn use_route(engine: &Engine, sql: &str) -> Result<Option<Route>, Error> {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    // Told by its first word before any statement is tokenized for it.
    let mut words = sql.split_whitespace();
    let starts_with_use = words.next().is_some_and(|w| w.eq_ignore_ascii_case("use"));
    if !starts_with_use {
        return Ok(None);
    }
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        return Ok(None);
    };
    let words: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon))
        .collect();
    let [Token::Word(keyword), Token::Word(name)] = words.as_slice() else {
        return Ok(None);
    };
    if keyword.quote_style.is_some() || !keyword.value.eq_ignore_ascii_case("use") {
        return Ok(None);
    }
    let schemas = engine
        .context()
        .catalog(crate::datasource::DEFAULT_CATALOG)
        .map(|c| c.schema_names())
        .unwrap_or_default();
    // Names keep their case, as in MindsDB; an unquoted one also finds its lower case.
    let mut spellings = vec![name.value.clone()];
    if name.quote_style.is_none() {
        spellings.push(name.value.to_ascii_lowercase());
    }
    let Some(schema) = spellings.into_iter().find(|s| schemas.contains(s)) else {
        let schema = &name.value;
        return Err(Error::new(
            "3D000",
            format!("database or project \"{schema}\" does not exist"),
        )
        .with_hint("SHOW DATABASES lists the databases and projects"));
    };
    Ok(Some(Route::Setting(Command::Set {
        name: "search_path".into(),
        values: Some(vec![if schema == schema.to_ascii_lowercase() {
            crate::settings::Value::Word(schema)
        } else {
            crate::settings::Value::Quoted(schema)
        }]),
    })))
}

/// The route of a statement that only recsql's own statements and settings have a result
/// schema for, decided without planning a query (`get_result_schema` cannot wait); None for
/// queries and for what does not parse.
fn described_route(engine: &Engine, sql: &str) -> Option<Route> {
    if let Some(route) = command_route(sql) {
        return Some(route);
    }
    let stmt = parse_statement(sql).ok()?;
    if let Some(route) = setting_route(&stmt, sql) {
        return Some(route);
    }
    engine
        .plan_statement(stmt, sql, &Metadata::new())
        .ok()
        .map(Route::from)
}

impl From<Plan> for Route {
    fn from(plan: Plan) -> Self {
        match plan {
            Plan::Ours(stmt) => Route::Ours(stmt),
            Plan::Rewritten(sql) => Route::Rewritten(sql),
            Plan::DataFusion => Route::DataFusion,
        }
    }
}

/// DEALLOCATE, DISCARD ALL and savepoints, told by their first words.
fn command_route(sql: &str) -> Option<Route> {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(3)
        .map(|w| w.trim_end_matches(';').to_ascii_uppercase())
        .collect();
    match words
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["DEALLOCATE", "PREPARE", name] | ["DEALLOCATE", name, ..] => {
            let name = name.trim_matches('"');
            if name.eq_ignore_ascii_case("ALL") {
                return Some(Route::Deallocate(None));
            }
            let original = sql
                .split_whitespace()
                .last()
                .unwrap_or_default()
                .trim_end_matches(';')
                .trim_matches('"');
            return Some(Route::Deallocate(Some(original.to_string())));
        }
        ["DISCARD", "ALL"] => return Some(Route::DiscardAll),
        ["SAVEPOINT", _] => {
            return Some(Route::Savepoint {
                tag: "SAVEPOINT",
                rollback: false,
            });
        }
        ["RELEASE", ..] => {
            return Some(Route::Savepoint {
                tag: "RELEASE",
                rollback: false,
            });
        }
        ["ROLLBACK", "TO", ..] => {
            return Some(Route::Savepoint {
                tag: "ROLLBACK",
                rollback: true,
            });
        }
        _ => {}
    }
    None
}

/// SET, SHOW and RESET of a run-time parameter.
fn setting_route(stmt: &Statement, sql: &str) -> Option<Route> {
    let first = sql
        .split_whitespace()
        .next()?
        .trim_end_matches(';')
        .to_ascii_uppercase();
    if matches!(first.as_str(), "SET" | "SHOW" | "RESET") && matches!(stmt, Statement::Passthrough)
    {
        return Command::parse(sql).map(Route::Setting);
    }
    None
}

/// The answer to a savepoint command. recsql runs each statement on its own (BEGIN, COMMIT
/// and ROLLBACK are accepted for drivers but group nothing), so a savepoint marks nothing
/// either; as in PostgreSQL it belongs in a transaction block. Rolling back to one cannot
/// leave a failed block, which only ROLLBACK ends.
fn savepoint(
    status: TransactionStatus,
    tag: &'static str,
    rollback: bool,
) -> PgWireResult<Response> {
    match status {
        TransactionStatus::Idle => Err(to_pgwire(Error::new(
            "25P01",
            format!("{tag} can only be used in transaction blocks"),
        ))),
        TransactionStatus::Error if rollback => Err(to_pgwire(
            Error::new(
                "25P02",
                "current transaction is aborted: recsql cannot roll back to a savepoint",
            )
            .with_hint("ROLLBACK ends the transaction block"),
        )),
        _ => Ok(Response::Execution(Tag::new(tag))),
    }
}

fn forget_statements<S: PortalStore>(store: &S, name: Option<&str>) {
    match name {
        Some(n) => store.rm_statement(n),
        None => {
            // pgwire has no "remove all"; the unnamed and client-named statements are
            // replaced on their next Parse, which is what DEALLOCATE ALL promises.
        }
    }
}

#[async_trait]
impl SimpleQueryHandler for RecsqlService {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let guard = Arc::new(self.in_flight.enter());
        let deadline = deadline(client);
        within(deadline, async {
            let (result, notices) = notices::collect(self.simple(client, query)).await;
            send_notices(client, notices).await?;
            let mut responses = result?;
            let context = ResultContext::of(client, deadline);
            if let Some(sent) = sent_here(&responses) {
                let rest = responses.split_off(sent);
                // Sent while the handler runs, where pgwire heeds cancel requests itself
                // and `within` the deadline.
                let direct = ResultContext {
                    stops: Stops::default(),
                    ..context.clone()
                };
                for response in hold(responses, &guard, &direct) {
                    send_here(client, response).await?;
                }
                responses = rest;
            }
            Ok(hold(responses, &guard, &context))
        })
        .await
    }
}

/// How many of `responses` the handler sends itself: those up to the last COPY TO STDOUT,
/// whose errors pgwire would send as a CopyFail (see [`copy_out::send`]). None where there is
/// no COPY, or where one of them changes the transaction status, which only pgwire's loop
/// records (that COPY goes through pgwire's sender).
fn sent_here(responses: &[Response]) -> Option<usize> {
    let last = responses
        .iter()
        .rposition(|r| matches!(r, Response::CopyOut(_)))?;
    responses[..=last]
        .iter()
        .all(|r| {
            matches!(
                r,
                Response::Query(_) | Response::Execution(_) | Response::CopyOut(_)
            )
        })
        .then_some(last + 1)
}

/// Sends one response of a simple query as pgwire's loop would (see [`sent_here`]).
async fn send_here<C>(client: &mut C, response: Response) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    match response {
        Response::Query(q) => send_query_response(client, q, true).await,
        Response::Execution(tag) => send_execution_response(client, tag).await,
        Response::CopyOut(copy) => {
            let tag = copy_out::send(client, copy).await?;
            send_execution_response(client, tag).await
        }
        _ => Err(PgWireError::ApiError(
            "a response of this kind is sent by pgwire".into(),
        )),
    }
}

impl RecsqlService {
    async fn simple<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let pieces = split_statements(query).map_err(to_pgwire)?;
        if pieces.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        let mut routes = Vec::with_capacity(pieces.len());
        for piece in &pieces {
            routes.push(route(&self.engine, piece, client.metadata()).await);
        }
        // Without any statement of ours, DataFusion gets the text exactly as sent.
        if routes.iter().all(|r| matches!(r, Ok(Route::DataFusion))) {
            return <DfSessionService as SimpleQueryHandler>::do_query(&self.df, client, query)
                .await
                .map_err(classify);
        }
        let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
        let mut responses = Vec::with_capacity(pieces.len());
        // The transaction status as the statements so far leave it (pgwire records it once
        // the whole string has run), for savepoints after a BEGIN in the same string.
        let mut status = client.transaction_status();
        // A statement after a SET or USE in the same string is routed again, as the setting
        // (the search path, the project in use) may change what it names.
        let mut set = false;
        for (piece, routed) in pieces.iter().zip(routes) {
            let route = if set {
                route(&self.engine, piece, client.metadata()).await
            } else {
                routed
            };
            set |= matches!(route, Ok(Route::Setting(_)));
            let result: PgWireResult<Vec<Response>> = match route {
                Err(e) => Err(to_pgwire(e)),
                Ok(Route::Ours(stmt)) => self
                    .respond(
                        client.socket_addr(),
                        stmt,
                        &Format::UnifiedText,
                        options.clone(),
                    )
                    .await
                    .map(|r| vec![r]),
                Ok(Route::Deallocate(name)) => {
                    forget_statements(client.portal_store(), name.as_deref());
                    Ok(vec![Response::Execution(Tag::new("DEALLOCATE"))])
                }
                Ok(Route::DiscardAll) => Ok(vec![Response::Execution(Tag::new("DISCARD ALL"))]),
                Ok(Route::Savepoint { tag, rollback }) => {
                    savepoint(status, tag, rollback).map(|r| vec![r])
                }
                Ok(Route::Setting(command)) => settings_command::run(
                    client,
                    &command,
                    &Format::UnifiedText,
                    self.engine.context().state().config_options(),
                )
                .await
                .map(|r| vec![r]),
                Ok(Route::DataFusion) => {
                    <DfSessionService as SimpleQueryHandler>::do_query(&self.df, client, piece)
                        .await
                        .map_err(classify)
                }
                Ok(Route::Rewritten(sql)) => {
                    <DfSessionService as SimpleQueryHandler>::do_query(&self.df, client, &sql)
                        .await
                        .map_err(classify)
                }
            };
            match result {
                Ok(r) => {
                    for response in &r {
                        status = match response {
                            Response::TransactionStart(_) => status.to_in_transaction_state(),
                            Response::TransactionEnd(_) => status.to_idle_state(),
                            _ => status,
                        };
                    }
                    responses.extend(r)
                }
                Err(e) => {
                    // Like PostgreSQL: earlier results stand, the failing statement reports
                    // its error and the rest of the string is not run.
                    responses.push(Response::Error(Box::new(error_info(e))));
                    break;
                }
            }
        }
        Ok(responses)
    }
}

fn error_info(e: PgWireError) -> pgwire::error::ErrorInfo {
    match e {
        PgWireError::UserError(info) => *info,
        other => to_error_info(Error::internal(other.to_string())),
    }
}

/// Parses extended-protocol statements: recsql's own are kept as text, the rest are planned
/// by DataFusion at Parse time so that Describe reports parameter and result types.
pub struct RecsqlParser {
    engine: Arc<Engine>,
    inner: Arc<DfParser>,
}

impl RecsqlParser {
    /// DataFusion's statement for `sql`; a `DECLARE` whose query takes parameters keeps its
    /// query's plan (see [`cursor::declare`]).
    async fn parse_datafusion<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<DfStatement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let parsed = self
            .inner
            .parse_sql(client, sql, types)
            .await
            .map_err(classify)?;
        let Some((text, Some((ast, plan)))) = parsed else {
            return Ok(parsed);
        };
        let plan = crate::datasource::type_any_parameters(plan)
            .and_then(crate::datasource::with_postgresql_types)
            .map_err(|e| to_pgwire(e.into()))?;
        if let Some(query) = cursor::declared_query(&ast)
            && query.contains('$')
            && let Some((_, Some((_, query_plan)))) = self
                .inner
                .parse_sql(client, &query, types)
                .await
                .map_err(classify)?
            && cursor::query_with_parameters(&ast, &query_plan)
        {
            return Ok(Some((text, Some((ast, query_plan)))));
        }
        Ok(Some((text, Some((ast, plan)))))
    }
}

#[async_trait]
impl QueryParser for RecsqlParser {
    type Statement = DfStatement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let pieces = split_statements(sql).map_err(to_pgwire)?;
        if pieces.len() > 1 {
            return Err(to_pgwire(Error::syntax(
                "cannot insert multiple commands into a prepared statement",
            )));
        }
        match route(&self.engine, sql, client.metadata())
            .await
            .map_err(to_pgwire)?
        {
            Route::DataFusion => self.parse_datafusion(client, sql, types).await,
            Route::Rewritten(rewritten) => self.parse_datafusion(client, &rewritten, types).await,
            // With `$n` parameters, DataFusion's plan of the statement types them; it is
            // kept for that only (`extended` runs the statement as recsql's).
            Route::Ours(mut stmt) => match self.engine.parameter_plan(&stmt).await {
                Ok(Some(plan)) => {
                    // sqlparser reads the statement without its USING (recsql's).
                    if let crate::sql::Statement::InsertInto { using, .. } = stmt.as_mut() {
                        using.clear();
                    }
                    let parsed = sqlparser::parser::Parser::parse_sql(
                        &sqlparser::dialect::PostgreSqlDialect {},
                        &stmt.to_string(),
                    )
                    .map_err(|e| to_pgwire(Error::syntax(e.to_string())))?;
                    match parsed.into_iter().next() {
                        Some(ast) => Ok(Some((sql.to_string(), Some((ast, plan))))),
                        None => Ok(Some((sql.to_string(), None))),
                    }
                }
                Ok(None) => Ok(Some((sql.to_string(), None))),
                Err(e) => Err(to_pgwire(e)),
            },
            _ => Ok(Some((sql.to_string(), None))),
        }
    }

    fn get_parameter_types(&self, stmt: &Self::Statement) -> PgWireResult<Vec<Type>> {
        match stmt {
            (_, None) => Ok(vec![]),
            (sql, _) if let Some(announced) = driver_queries::announced(sql) => {
                Ok(announced.parameters.to_vec())
            }
            other => self.inner.get_parameter_types(other),
        }
    }

    fn get_result_schema(
        &self,
        stmt: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        match stmt {
            (sql, None) => {
                let format = column_format.unwrap_or(&Format::UnifiedText);
                let schema = match described_route(&self.engine, sql) {
                    Some(Route::Ours(s)) => self.engine.result_schema(s.as_ref()),
                    Some(Route::Setting(command)) => {
                        return Ok(settings_command::fields(&command, format));
                    }
                    _ => None,
                };
                match schema {
                    Some(schema) => Ok(arrow_schema_to_pg_fields(&schema, format, None)?),
                    None => Ok(vec![]),
                }
            }
            // A DECLARE sends no rows (FETCH does).
            other if cursor::is_declare_with_parameters(other) => Ok(vec![]),
            other => {
                let mut fields = self.inner.get_result_schema(other, column_format)?;
                if let Some(announced) = driver_queries::announced(&other.0) {
                    announce(&mut fields, announced.columns);
                }
                Ok(displayed(&fields).unwrap_or(fields))
            }
        }
    }
}

#[async_trait]
impl ExtendedQueryHandler for RecsqlService {
    type Statement = DfStatement;
    type QueryParser = RecsqlParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    /// As pgwire's, except that a statement with parameters and no result rows (a prepared
    /// INSERT) is described as PostgreSQL describes it, with NoData: pgwire sent an empty
    /// RowDescription, from which pgjdbc took the INSERT for a query and counted 0 rows in
    /// `executeBatch`.
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        use futures::SinkExt;
        if message.target_type == TARGET_TYPE_BYTE_STATEMENT {
            let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
            if let Some(Entry::Value(stmt)) = client.portal_store().get_statement(name) {
                let mut described = self.do_describe_statement(client, &stmt).await?;
                if let Some(fields) = cursor::fetch_fields(client, &stmt.statement).await {
                    described.fields = displayed(&fields).unwrap_or(fields);
                }
                // A query of no columns (`SELECT FROM t`) still has rows to describe.
                let query = matches!(&stmt.statement, (_, Some((_, plan)))
                    if !matches!(plan, LogicalPlan::Dml(_) | LogicalPlan::Ddl(_) | LogicalPlan::Statement(_)));
                if described.fields.is_empty() && !query {
                    let types = described.parameters.iter().map(|t| t.oid()).collect();
                    client
                        .feed(PgWireBackendMessage::ParameterDescription(
                            ParameterDescription::new(types),
                        ))
                        .await?;
                    client
                        .send(PgWireBackendMessage::NoData(NoData::new()))
                        .await?;
                    return Ok(());
                }
                return send_describe_response(client, &described).await;
            }
        } else if let Some(fields) = cursor::portal_fields(client, message.name.as_deref()).await {
            let fields = displayed(&fields).unwrap_or(fields);
            let described = DescribePortalResponse::new(fields);
            return send_describe_response(client, &described).await;
        }
        self._on_describe(client, message).await
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let guard = Arc::new(self.in_flight.enter());
        let deadline = deadline(client);
        within(deadline, async {
            let (response, notices) =
                notices::collect(self.extended(client, portal, max_rows)).await;
            send_notices(client, notices).await?;
            match response? {
                // See `copy_out::send`.
                Response::CopyOut(copy) => {
                    Ok(Response::Execution(copy_out::send(client, copy).await?))
                }
                response => Ok(hold_one(
                    response,
                    &guard,
                    &ResultContext::of(client, deadline),
                )),
            }
        })
        .await
    }
}

/// The session's `TimeZone`, where timestamps with time zone are shown in another than UTC.
fn display_zone<C: ClientInfo>(client: &C) -> Option<chrono_tz::Tz> {
    crate::settings::value(client.metadata(), "TimeZone")
        .and_then(|(_, zone)| super::pg_text::session_zone(&zone))
}

impl RecsqlService {
    async fn extended<C>(
        &self,
        client: &mut C,
        portal: &Portal<DfStatement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = DfStatement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let stmt = match &portal.statement.statement {
            (sql, None) => match route(&self.engine, sql, client.metadata())
                .await
                .map_err(to_pgwire)?
            {
                Route::Ours(stmt) => stmt,
                Route::Setting(command) => {
                    return settings_command::run(
                        client,
                        &command,
                        &portal.result_column_format,
                        self.engine.context().state().config_options(),
                    )
                    .await;
                }
                Route::Deallocate(name) => {
                    forget_statements(client.portal_store(), name.as_deref());
                    return Ok(Response::Execution(Tag::new("DEALLOCATE")));
                }
                Route::DiscardAll => return Ok(Response::Execution(Tag::new("DISCARD ALL"))),
                Route::Savepoint { tag, rollback } => {
                    return savepoint(client.transaction_status(), tag, rollback);
                }
                Route::DataFusion | Route::Rewritten(_) => {
                    return Err(to_pgwire(Error::internal(
                        "a statement stored for recsql was routed to DataFusion",
                    )));
                }
            },
            // One of recsql's statements with parameters (see `parse_sql`).
            (sql, Some((_, plan @ LogicalPlan::Dml(_)))) => {
                match route(&self.engine, sql, client.metadata()).await {
                    Ok(Route::Ours(mut stmt)) => {
                        let values = parameter_values(portal, plan)?;
                        crate::sql::bind_parameters(&mut stmt, &values).map_err(to_pgwire)?;
                        stmt
                    }
                    _ => return self.datafusion(client, portal, max_rows).await,
                }
            }
            stmt if cursor::is_declare_with_parameters(stmt) => {
                let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
                return cursor::declare(client, self.engine.context(), portal, options).await;
            }
            _ => return self.datafusion(client, portal, max_rows).await,
        };
        let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
        self.respond(
            client.socket_addr(),
            stmt,
            &portal.result_column_format,
            options,
        )
        .await
    }

    /// Runs a portal on DataFusion's service; a query runs here, on the plan it was parsed to,
    /// with the portal's parameters bound. datafusion-postgres' handler optimised that plan
    /// before running it, and running a plan optimises it again: analysed twice, `sum` of an
    /// `integer` became a numeric after it was described as a bigint (psycopg read 1682 as
    /// 281474976710656 in binary), and the constants optimisation folds were typed again.
    async fn datafusion<C>(
        &self,
        client: &mut C,
        portal: &Portal<DfStatement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = DfStatement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (_, Some((sqlparser::ast::Statement::Query(_), plan))) = &portal.statement.statement
        else {
            return <DfSessionService as ExtendedQueryHandler>::do_query(
                &self.df, client, portal, max_rows,
            )
            .await
            .map_err(classify);
        };
        // Decoded as datafusion-postgres decodes them: with the type the client gave a value,
        // else the type its parser announces for it, else the plan's.
        let announced = self
            .parser
            .inner
            .get_parameter_types(&portal.statement.statement)?;
        let announced: Vec<Option<&Type>> = announced.iter().map(Some).collect();
        let inferred = ordered_parameter_types(plan)?;
        let inferred: Vec<_> = inferred.iter().map(Option::as_ref).collect();
        let values = deserialize_parameters_with_server_types(portal, &inferred, &announced)?;
        let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
        let api = |e| PgWireError::ApiError(Box::new(e));
        let run = async {
            let bound = plan
                .clone()
                .replace_params_with_values(&values)
                .map_err(api)?;
            let rows = self
                .engine
                .context()
                .execute_logical_plan(bound)
                .await
                .map_err(api)?;
            encode_dataframe(rows, &portal.result_column_format, Some(options)).await
        };
        run.await.map(Response::Query).map_err(classify)
    }
}

/// The values bound to a portal's parameters, in the order `$1, $2, ...`, decoded with the
/// types the client gave them or else those `plan` gives them (the ones announced when the
/// statement was described).
pub(super) fn parameter_values(
    portal: &Portal<DfStatement>,
    plan: &LogicalPlan,
) -> PgWireResult<Vec<datafusion::common::ScalarValue>> {
    let ordered = ordered_parameter_types(plan)?;
    // A value the client typed is decoded as that type (the row's column then takes it as
    // PostgreSQL's assignment would); the announced type decodes the others.
    let hinted = &portal.statement.parameter_types;
    let refs: Vec<_> = ordered
        .iter()
        .enumerate()
        .map(|(i, t)| match hinted.get(i) {
            Some(Some(_)) => None,
            _ => t.as_ref(),
        })
        .collect();
    match deserialize_parameters(portal, &refs)? {
        datafusion::common::ParamValues::List(values) => {
            Ok(values.into_iter().map(|v| v.value).collect())
        }
        datafusion::common::ParamValues::Map(_) => Err(to_pgwire(Error::not_supported(
            "named parameters are not supported; use $1, $2, ...",
        ))),
    }
}

/// The types `plan` gives its parameters, in the order `$1, $2, ...`.
fn ordered_parameter_types(
    plan: &LogicalPlan,
) -> PgWireResult<Vec<Option<datafusion::arrow::datatypes::DataType>>> {
    let types = plan
        .get_parameter_types()
        .map_err(|e| to_pgwire(e.into()))?;
    let mut ordered: Vec<(usize, Option<datafusion::arrow::datatypes::DataType>)> = types
        .into_iter()
        .filter_map(|(name, t)| Some((name.strip_prefix('$')?.parse().ok()?, t)))
        .collect();
    ordered.sort_by_key(|(i, _)| *i);
    Ok(ordered.into_iter().map(|(_, t)| t).collect())
}

/// Sends collected notices ahead of the statement's results.
async fn send_notices<C>(client: &mut C, notices: Vec<String>) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    use futures::SinkExt;
    for n in notices {
        let info = pgwire::error::ErrorInfo::new("NOTICE".into(), "00000".into(), n);
        client
            .feed(PgWireBackendMessage::NoticeResponse(info.into()))
            .await?;
    }
    Ok(())
}
