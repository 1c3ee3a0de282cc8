//! Executes recsql's own statements against the engine state: the DataFusion context, the
//! catalog and the data dir. One file per statement kind; this file dispatches and describes
//! result schemas. It knows nothing of the wire protocol: results are Arrow batches or
//! command tags.

mod array_text;
mod catalog_query;
mod cold_start;
mod compat_guards;
mod copy_from;
mod copy_to;
mod create_database;
mod create_model;
mod create_table;
mod describe;
pub mod driver_queries;
mod drop_database;
mod drop_model;
mod drop_table;
mod information_tables;
mod insert_into;
mod interval_input;
mod lazy_schema;
mod ml_engine;
mod model_query;
mod model_table;
mod models_table;
pub mod notices;
mod per_session;
mod pg_forms;
mod project;
mod project_schema;
mod retrain;
mod show_databases;
mod show_listing;
mod using_joins;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;

use datafusion::sql::sqlparser::ast::{Ident, ObjectName, ObjectNamePart};

use crate::catalog::{Catalog, ModelVersion};
use crate::datasource;
use crate::error::{Error, Result, sqlstate};
use crate::jobs::{Jobs, key_of};
use crate::settings::Metadata;
use crate::sql::{Statement, model_name_from_parts};

pub use create_model::DEFAULT_PROJECT;
use model_query::ModelRef;
use model_table::{ModelFunction, ModelStore};
use per_session::SessionNames;
use project_schema::ProjectSchema;

pub use lazy_schema::LazySchema;

/// What a statement produced.
#[allow(clippy::large_enum_variant)]
pub enum Output {
    /// Rows, in Arrow batches.
    Rows {
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    },
    /// A command tag such as `CREATE DATABASE`.
    Command(String),
    /// `COPY ... FROM STDIN` is ready for the client's data.
    CopyIn(crate::datasource::file_tables::Upload),
    /// The rows of `COPY ... TO STDOUT`, streamed.
    Copy {
        schema: SchemaRef,
        stream: datafusion::execution::SendableRecordBatchStream,
        options: crate::sql::CopyOptions,
    },
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Rows { schema, batches } => f
                .debug_struct("Rows")
                .field("schema", schema)
                .field("batches", batches)
                .finish(),
            Output::Command(tag) => f.debug_tuple("Command").field(tag).finish(),
            Output::CopyIn(upload) => f.debug_tuple("CopyIn").field(upload).finish(),
            Output::Copy {
                schema, options, ..
            } => f
                .debug_struct("Copy")
                .field("schema", schema)
                .field("options", options)
                .finish_non_exhaustive(),
        }
    }
}

/// Names the models of `stmt` that have no project as models of `project` (the session's,
/// see [`Engine::session_project`]); `is_schema` tells a database's or project's name in
/// DESCRIBE's dotted names, which are then left as they are.
fn in_project(stmt: &mut Statement, project: &str, is_schema: &dyn Fn(&str) -> bool) {
    let ident = || Ident::new(project);
    match stmt {
        Statement::CreateModel { name, .. }
        | Statement::DropModel { name, .. }
        | Statement::Retrain { name, .. }
        | Statement::Finetune { name, .. }
        | Statement::SetModelActive { name }
            if name.project.is_none() =>
        {
            name.project = Some(ident());
        }
        Statement::ShowModels { project: p, .. } if p.is_none() => *p = Some(ident()),
        Statement::DropRelation {
            view: true, name, ..
        } if name.0.len() == 1 => name.0.insert(0, ObjectNamePart::Identifier(ident())),
        Statement::CreateView(view) => {
            if let datafusion::sql::sqlparser::ast::Statement::CreateView(create) = view.as_mut()
                && create.name.0.len() == 1
            {
                create.name.0.insert(0, ObjectNamePart::Identifier(ident()));
            }
        }
        Statement::Describe { name, .. } => {
            let first = name
                .0
                .first()
                .and_then(|p| p.as_ident())
                .map(|i| i.value.clone());
            if first.is_some_and(|f| !is_schema(&f)) {
                name.0.insert(0, ObjectNamePart::Identifier(ident()));
            }
        }
        _ => {}
    }
}

/// Whether recsql runs a statement itself or hands its text to DataFusion.
#[derive(Debug)]
pub enum Plan {
    Ours(Box<Statement>),
    /// A query on a model, rewritten into SQL that DataFusion runs.
    Rewritten(String),
    DataFusion,
}

/// The state every connection shares.
pub struct Engine {
    ctx: Arc<SessionContext>,
    catalog: Arc<Catalog>,
    jobs: Arc<Jobs>,
    store: Arc<ModelStore>,
    data_dir: PathBuf,
}

impl Engine {
    /// Opens the data dir: the catalog, the built-in databases and every created database
    /// (connected lazily, so a remote that is down does not stop the server from starting).
    /// `memory_limit`: see [`crate::server::Config`].
    pub fn open(data_dir: &Path, memory_limit: Option<usize>) -> Result<Arc<Self>> {
        let catalog = Arc::new(Catalog::open(data_dir)?);
        let interrupted = catalog.fail_unfinished("interrupted by restart: training had not finished when the server stopped; RETRAIN the model")?;
        if interrupted > 0 {
            tracing::warn!(
                "{interrupted} model version(s) were training when the server stopped; marked as error"
            );
        }
        let ctx = datasource::new_context(data_dir, memory_limit)?;
        let jobs = Arc::new(Jobs::new()?);
        let store = Arc::new(ModelStore::default());
        ctx.register_udtf(
            model_table::FUNCTION_NAME,
            Arc::new(ModelFunction {
                catalog: catalog.clone(),
                store: store.clone(),
                data_dir: data_dir.to_path_buf(),
            }),
        );
        for def in catalog.databases() {
            let lazy = Arc::new(LazySchema::new(
                def.clone(),
                data_dir.to_path_buf(),
                ctx.state(),
            ));
            datasource::register(&ctx, &def.name, lazy.clone())?;
            lazy.warm_up();
        }
        let engine = Engine {
            ctx,
            catalog,
            jobs,
            store,
            data_dir: data_dir.to_path_buf(),
        };
        for project in std::iter::once(DEFAULT_PROJECT.to_string()).chain(engine.catalog.projects())
        {
            datasource::register(&engine.ctx, &project, engine.project_schema(&project))?;
        }
        Ok(Arc::new(engine))
    }

    pub fn context(&self) -> &Arc<SessionContext> {
        &self.ctx
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn jobs(&self) -> &Arc<Jobs> {
        &self.jobs
    }

    /// The schema of project `name`: its models and its `models` table.
    pub fn project_schema(&self, name: &str) -> Arc<ProjectSchema> {
        Arc::new(ProjectSchema {
            project: name.to_string(),
            models: Arc::new(models_table::ModelsTable {
                project: name.to_string(),
                catalog: self.catalog.clone(),
                jobs: self.jobs.clone(),
            }),
            catalog: self.catalog.clone(),
            store: self.store.clone(),
            data_dir: self.data_dir.clone(),
            state: self.ctx.state(),
        })
    }

    /// The project and name of a view that `name` names (`p.v`, or `v` of `mindsdb`).
    fn project_view(&self, name: &ObjectName) -> Option<(String, String)> {
        let parts: Vec<&str> = name
            .0
            .iter()
            .map(|p| p.as_ident().map(|i| i.value.as_str()))
            .collect::<Option<_>>()?;
        let (project, view) = match parts.as_slice() {
            [view] => (DEFAULT_PROJECT, *view),
            [project, view] => (*project, *view),
            _ => return None,
        };
        self.catalog
            .view(project, view)
            .map(|_| (project.to_string(), view.to_string()))
    }

    /// Whether `name` is a project: the built-in one or a created one.
    pub fn is_project(&self, name: &str) -> bool {
        name == DEFAULT_PROJECT || self.catalog.has_project(name)
    }

    /// The project that `USE` made the session's (the first schema of its search path), when
    /// it is a created one: the models that statements name without a project are its.
    fn session_project(&self, session: &Metadata) -> Option<String> {
        let first = crate::settings::search_path(session).into_iter().next()?;
        self.catalog.has_project(&first).then_some(first)
    }

    /// The model a table name in a query refers to, if any.
    fn resolve_model(&self, name: &ObjectName) -> Option<ModelRef> {
        let m = model_name_from_parts(name).ok()?;
        let project = match &m.project {
            None => DEFAULT_PROJECT.to_string(),
            Some(p) if self.is_project(&p.value) => p.value.clone(),
            Some(_) => return None,
        };
        let versions = self.catalog.versions(&project, &m.name.value);
        // A version that does not exist still names the model: the model table then says
        // which versions there are.
        let mv = match m.version {
            Some(v) => versions
                .iter()
                .find(|x| x.version == v)
                .or_else(|| versions.iter().find(|x| x.active))
                .cloned(),
            None => versions.into_iter().find(|x| x.active),
        }?;
        Some(ModelRef {
            project,
            name: mv.name,
            version: m.version,
            user_col: mv.spec.user_col,
            item_col: mv.spec.item_col,
            user_text: mv.user_id_text,
            item_text: mv.item_id_text,
            user_features: mv.spec.user_features.map(|f| f.columns).unwrap_or_default(),
            item_features: mv.spec.item_features.map(|f| f.columns).unwrap_or_default(),
        })
    }

    /// A query that reads from a model is rewritten (after `prefix`, such as EXPLAIN), and so
    /// is a client's catalog query DataFusion cannot plan as written; any other goes to
    /// DataFusion as written. `sent` is the statement's text as the client sent it, when it
    /// goes to DataFusion's Postgres parser (whose own replacements come first).
    async fn plan_query(
        &self,
        query: &datafusion::sql::sqlparser::ast::Query,
        using: &[crate::sql::UsingOption],
        prefix: String,
        sent: Option<&str>,
        session: &Metadata,
    ) -> Result<Plan> {
        // Result columns get PostgreSQL's names (`count`, `?column?`) first, so that the
        // rewrites below name them as PostgreSQL would name what the client wrote; then
        // PostgreSQL's forms become DataFusion's, and names and session functions get the
        // session's meaning (before models are looked up, as a table of the search path
        // comes before a model of the same name).
        let mut query = query.clone();
        let postgres = crate::sql::name_columns(&mut query)
            | pg_forms::rewrite(&mut query)?
            | SessionNames::new(&self.ctx, session).rewrite(&mut query, sent);
        let mut columns = std::collections::HashMap::new();
        for name in using_joins::tables(&query) {
            if let Some(c) = self.table_columns(&name).await {
                columns.insert(name.to_string(), c);
            }
        }
        let postgres =
            using_joins::rewrite(&mut query, &|name| columns.get(&name.to_string()).cloned())
                | postgres;
        let listed = || information_tables::Listed {
            projects: std::iter::once(DEFAULT_PROJECT.to_string())
                .chain(self.catalog.projects())
                .collect(),
            engines: self.catalog.engines(),
        };
        let postgres = information_tables::rewrite(&mut query, &listed)? | postgres;
        let catalogs = catalog_query::reads_only_system_catalogs(&query);
        let shielded = !catalogs && compat_guards::shield(&mut query);
        if let Some(sql) = model_query::rewrite(&query, using, &|n| self.resolve_model(n))? {
            return Ok(Plan::Rewritten(prefix + &sql));
        }
        let changed = postgres | shielded | catalog_query::rewrite(&mut query);
        let changed = (catalogs && compat_guards::keep_parameters(&mut query)) | changed;
        // Checked last, as it parses the text twice: a query that datafusion-postgres'
        // parser replaces whole (some of psql's, pgcli's and DBeaver's, all of which read
        // pg_catalog's tables) works as it was sent.
        let replaced = |sent: &str| sent.contains("pg_") && catalog_query::replaced_whole(sent);
        Ok(if changed && !sent.is_some_and(replaced) {
            Plan::Rewritten(prefix + &query.to_string())
        } else {
            Plan::DataFusion
        })
    }

    /// The column names of table `schema.table` (or `catalog.schema.table`); None for a
    /// table that is missing or fails to open, and for names in the models' schema.
    async fn table_columns(&self, name: &ObjectName) -> Option<Vec<String>> {
        let parts = name
            .0
            .iter()
            .map(|p| p.as_ident().map(|i| i.value.as_str()))
            .collect::<Option<Vec<_>>>()?;
        let (schema, table) = match parts.as_slice() {
            [schema, table] | [_, schema, table] => (*schema, *table),
            _ => return None,
        };
        if schema == datasource::DEFAULT_SCHEMA {
            return None;
        }
        let schema = self
            .ctx
            .catalog(datasource::DEFAULT_CATALOG)?
            .schema(schema)?;
        let provider = schema.table(table).await.ok()??;
        Some(
            provider
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
        )
    }

    /// A query (which may read models) as a DataFrame, for statements that consume its rows
    /// themselves (COPY TO, CREATE TABLE AS, INSERT).
    async fn dataframe(
        &self,
        query: &datafusion::sql::sqlparser::ast::Query,
        using: &[crate::sql::UsingOption],
    ) -> Result<datafusion::dataframe::DataFrame> {
        Ok(self
            .context()
            .sql(&self.query_sql(query, using).await?)
            .await?)
    }

    /// The SQL DataFusion runs for `query`: a query on models rewritten (with the options of
    /// its USING), others as they are.
    async fn query_sql(
        &self,
        query: &datafusion::sql::sqlparser::ast::Query,
        using: &[crate::sql::UsingOption],
    ) -> Result<String> {
        Ok(
            match self
                .plan_query(query, using, String::new(), None, &Metadata::new())
                .await?
            {
                Plan::Rewritten(sql) => sql,
                _ => query.to_string(),
            },
        )
    }

    /// For one of recsql's statements with `$n` parameters (an INSERT prepared through the
    /// extended protocol), DataFusion's plan of it, whose parameter types are the ones to
    /// announce and decode; None for a statement without parameters.
    pub async fn parameter_plan(&self, stmt: &Statement) -> Result<Option<LogicalPlan>> {
        if !crate::sql::has_parameters(stmt) {
            return Ok(None);
        }
        match stmt {
            Statement::InsertInto {
                table,
                columns,
                query,
                using,
            } => insert_into::parameter_plan(self, table, columns, query, using)
                .await
                .map(Some),
            _ => Ok(None),
        }
    }

    /// Decides who runs a parsed statement; `sent` is its text as the client sent it.
    /// `session` is the connection's settings (its search path).
    pub async fn plan(&self, stmt: Statement, sent: &str, session: &Metadata) -> Result<Plan> {
        Ok(match stmt {
            Statement::Query(q) => {
                self.plan_query(&q, &[], String::new(), Some(sent), session)
                    .await?
            }
            Statement::SelectUsing { query, using } => {
                self.plan_query(&query, &using, String::new(), Some(sent), session)
                    .await?
            }
            Statement::Explain {
                analyze,
                verbose,
                query,
                using,
            } => {
                let prefix = format!("{} ", crate::sql::explain_prefix(analyze, verbose));
                self.plan_query(&query, &using, prefix, Some(sent), session)
                    .await?
            }
            Statement::DeclareCursor { head, query, using } => {
                self.plan_query(&query, &using, format!("{head} "), None, session)
                    .await?
            }
            // A view's query is read as a query is (models, PostgreSQL's forms, the path),
            // and kept as DataFusion plans it.
            Statement::CreateView(mut view) => {
                // A view named without a project is the used project's, as a model is.
                if let Some(project) = self.session_project(session) {
                    let mut stmt = Statement::CreateView(view);
                    in_project(&mut stmt, &project, &|_| false);
                    let Statement::CreateView(qualified) = stmt else {
                        return Err(Error::internal("a CREATE VIEW changed kind"));
                    };
                    view = qualified;
                }
                if let datafusion::sql::sqlparser::ast::Statement::CreateView(create) =
                    view.as_mut()
                    && let Plan::Rewritten(sql) = self
                        .plan_query(&create.query, &[], String::new(), None, session)
                        .await?
                {
                    create.query = crate::sql::parse_query(&sql)?;
                }
                Plan::Ours(Box::new(Statement::CreateView(view)))
            }
            other => self.plan_statement(other, sent, session)?,
        })
    }

    /// `plan` of a statement that is not a query (queries may need the columns of tables,
    /// which takes waiting). A query here goes to DataFusion as written.
    pub fn plan_statement(&self, stmt: Statement, sent: &str, session: &Metadata) -> Result<Plan> {
        let mut stmt = stmt;
        if let Some(project) = self.session_project(session) {
            let schemas = self
                .ctx
                .catalog(datasource::DEFAULT_CATALOG)
                .map(|c| c.schema_names())
                .unwrap_or_default();
            in_project(&mut stmt, &project, &|p| schemas.iter().any(|s| s == p));
        }
        Ok(match stmt {
            Statement::Passthrough
            | Statement::Query(_)
            | Statement::SelectUsing { .. }
            | Statement::Explain { .. }
            | Statement::DeclareCursor { .. } => Plan::DataFusion,
            Statement::ShowModels {
                project,
                like,
                filter,
            } => {
                if let Some(p) = &project
                    && !self.is_project(&p.value)
                {
                    return Err(project::missing(&p.value));
                }
                Plan::Rewritten(show_listing::models_sql(
                    project.as_ref(),
                    like.as_deref(),
                    filter.as_ref(),
                ))
            }
            Statement::ShowHandlers { like, filter } => {
                Plan::Rewritten(show_listing::handlers_sql(like.as_deref(), filter.as_ref()))
            }
            Statement::ShowTables {
                full,
                database,
                like,
                filter,
            } => Plan::Rewritten(show_listing::tables_sql(
                self,
                full,
                database.as_ref(),
                like.as_deref(),
                filter.as_ref(),
            )?),
            Statement::DropRelation { view, ref name, .. } => {
                if self.resolve_model(name).is_some() {
                    let kind = if view { "view" } else { "table" };
                    return Err(Error::new(
                        sqlstate::WRONG_OBJECT_TYPE,
                        format!("{name} is a model, not a {kind}"),
                    )
                    .with_hint(format!("Use DROP MODEL {name}.")));
                }
                // Tables of the files database are recsql's to drop, and so are views (kept
                // in projects), also one that can no longer be planned.
                if view || crate::sql::files_table_name(name).is_some() {
                    Plan::Ours(Box::new(stmt))
                } else {
                    Plan::DataFusion
                }
            }
            // A bare DESCRIBE of something that is not a model describes a table.
            Statement::Describe {
                explicit_model: false,
                ref name,
            } if describe::resolve(self, name).is_none() => Plan::DataFusion,
            mut other => {
                // The queries of COPY TO, CREATE TABLE AS and INSERT read along the path.
                if let Statement::CopyTo { query, .. }
                | Statement::CreateTableAs { query, .. }
                | Statement::InsertInto { query, .. } = &mut other
                {
                    SessionNames::new(&self.ctx, session).rewrite(query, Some(sent));
                }
                Plan::Ours(Box::new(other))
            }
        })
    }

    /// The schema of the rows a statement returns, or `None` for commands.
    pub fn result_schema(&self, stmt: &Statement) -> Option<SchemaRef> {
        match stmt {
            Statement::ShowDatabases { full } => Some(show_databases::schema(*full)),
            Statement::ShowMlEngines => Some(ml_engine::schema()),
            Statement::CreateModel { .. } => Some(models_table::schema()),
            Statement::Describe { name, .. } => describe::schema(
                describe::resolve(self, name)
                    .and_then(|(_, a)| a)
                    .as_deref(),
            ),
            _ => None,
        }
    }

    /// Starts training a recorded version in the background; with `activate` it becomes the
    /// active version when it completes.
    fn start_training(
        &self,
        version: ModelVersion,
        rows: crate::source_rows::SourceRows,
        features: crate::side_features::SideRows,
        base: Option<Arc<crate::recommender::Artifact>>,
        activate: bool,
    ) -> tokio::sync::oneshot::Receiver<Result<()>> {
        let store = self.store.clone();
        let catalog = self.catalog.clone();
        self.jobs.start(
            self.catalog.clone(),
            self.data_dir.clone(),
            crate::jobs::Job {
                version,
                rows,
                features,
                base,
            },
            move |mv, artifact| {
                store.insert(key_of(mv), artifact);
                if activate && let Err(e) = catalog.set_active(&mv.project, &mv.name, mv.version) {
                    tracing::warn!(
                        "cannot activate {}.{} version {}: {e}",
                        mv.project,
                        mv.name,
                        mv.version
                    );
                }
            },
        )
    }

    /// The artifact of a complete version, loaded off the async threads.
    async fn load_artifact(&self, mv: &ModelVersion) -> Result<Arc<crate::recommender::Artifact>> {
        let store = self.store.clone();
        let dir = self.data_dir.clone();
        let mv = mv.clone();
        tokio::task::spawn_blocking(move || store.get(&dir, &mv))
            .await
            .map_err(|e| Error::internal(e.to_string()))?
    }

    /// Cancels training of, unloads and deletes the file of a version that is being removed.
    fn forget_version(&self, m: &ModelVersion) {
        let key = key_of(m);
        self.jobs.cancel(&key);
        self.store.remove(&key);
        let path = self.data_dir.join(m.file());
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove {}: {e}", path.display());
        }
    }

    /// Runs one of recsql's own statements.
    pub async fn execute(&self, stmt: Statement) -> Result<Output> {
        match stmt {
            Statement::CreateDatabase {
                name,
                if_not_exists,
                engine,
                parameters,
            } => {
                create_database::execute(self, &name.value, if_not_exists, &engine, &parameters)
                    .await
            }
            Statement::DropDatabase { name, if_exists } => {
                drop_database::execute(self, &name.value, if_exists)
            }
            Statement::ShowDatabases { full } => show_databases::execute(self, full),
            Statement::CreateProject {
                name,
                if_not_exists,
            } => project::create(self, &name.value, if_not_exists),
            Statement::DropProject { name, if_exists } => {
                project::drop(self, &name.value, if_exists)
            }
            Statement::CreateMlEngine {
                name,
                if_not_exists,
                handler,
                using,
            } => ml_engine::create(self, &name.value, if_not_exists, &handler.value, &using),
            Statement::ShowMlEngines => ml_engine::show(self),
            Statement::DropMlEngine { name, if_exists } => {
                ml_engine::drop(self, &name.value, if_exists)
            }
            Statement::CreateModel {
                name,
                or_replace,
                if_not_exists,
                source,
                predict,
                using,
            } => {
                create_model::execute(
                    self,
                    &name,
                    or_replace,
                    if_not_exists,
                    &source,
                    &predict,
                    &using,
                )
                .await
            }
            Statement::Describe { name, .. } => describe::execute(self, &name),
            Statement::DropModel { name, if_exists } => drop_model::execute(self, &name, if_exists),
            Statement::Retrain {
                name,
                source,
                predict,
                using,
            } => {
                retrain::execute(
                    self,
                    &name,
                    source.as_ref(),
                    predict.as_ref(),
                    &using,
                    false,
                )
                .await
            }
            Statement::Finetune {
                name,
                source,
                using,
            } => retrain::execute(self, &name, Some(&source), None, &using, true).await,
            Statement::SetModelActive { name } => retrain::set_active(self, &name),
            Statement::CopyTo {
                query,
                using,
                options,
            } => copy_to::execute(self, &query, &using, options).await,
            Statement::CopyFrom {
                table,
                columns,
                options,
            } => copy_from::start(self, &table, &columns, options).await,
            Statement::CreateIndex(index) => create_table::execute_index(self, &index),
            // DataFusion plans the view and hands it to the project's schema, which keeps it.
            Statement::CreateView(view) => {
                self.ctx.sql(&view.to_string()).await?.collect().await?;
                Ok(Output::Command("CREATE VIEW".into()))
            }
            Statement::CreateTable {
                name,
                if_not_exists,
                columns,
            } => create_table::execute_empty(self, &name, if_not_exists, &columns).await,
            Statement::CreateTableAs {
                name,
                if_not_exists,
                query,
                using,
            } => create_table::execute(self, &name, if_not_exists, &query, &using).await,
            Statement::DropRelation {
                view: true,
                name,
                if_exists,
            } => match self.project_view(&name) {
                Some((project, view)) => {
                    let schema = self
                        .ctx
                        .catalog(datasource::DEFAULT_CATALOG)
                        .and_then(|c| c.schema(&project))
                        .ok_or_else(|| project::missing(&project))?;
                    schema.deregister_table(&view)?;
                    Ok(Output::Command("DROP VIEW".into()))
                }
                None if if_exists => {
                    notices::notice(format!("view \"{name}\" does not exist, skipping"));
                    Ok(Output::Command("DROP VIEW".into()))
                }
                None => Err(Error::new(
                    sqlstate::UNDEFINED_TABLE,
                    format!("view \"{name}\" does not exist"),
                )
                .with_hint("SHOW FULL TABLES FROM project lists its views")),
            },
            Statement::DropRelation {
                name, if_exists, ..
            } => drop_table::execute(self, &name, if_exists),
            Statement::InsertInto {
                table,
                columns,
                query,
                using,
            } => insert_into::execute(self, &table, &columns, &query, &using).await,
            other => Err(
                Error::not_supported(format!("{} is not implemented yet", other.kind()))
                    .with_hint("recsql parses this statement; its execution is on the roadmap"),
            ),
        }
    }
}
