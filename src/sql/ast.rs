//! The typed AST of recsql's dialect: MindsDB's model statements on top of sqlparser's AST.
//!
//! Every statement displays as SQL that parses back to the same value (tests check the round
//! trip). This module only describes statements; it neither parses nor executes them.

use std::fmt;

use datafusion::sql::sqlparser::ast::{ColumnDef, Expr, Ident, ObjectName, Query};

/// One statement of recsql's SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// SQL that is not recsql's own and has no model in it: DataFusion runs its original text.
    Passthrough,
    /// A query without USING; it goes to DataFusion, rewritten if it reads from a model.
    Query(Box<Query>),
    /// `SELECT ... USING k = v, ...`: a query on a model with prediction options.
    SelectUsing {
        query: Box<Query>,
        using: Vec<UsingOption>,
    },
    /// `EXPLAIN [ANALYZE] [VERBOSE] query [USING ...]`: the plan of a query, which may read
    /// from a model.
    Explain {
        analyze: bool,
        verbose: bool,
        query: Box<Query>,
        using: Vec<UsingOption>,
    },
    /// `DECLARE name ... CURSOR FOR query [USING ...]`: a cursor over a query, which may read
    /// from a model. `head` is the text up to and including `FOR`.
    DeclareCursor {
        head: String,
        query: Box<Query>,
        using: Vec<UsingOption>,
    },
    CreateMlEngine {
        name: Ident,
        if_not_exists: bool,
        handler: Ident,
        using: Vec<UsingOption>,
    },
    ShowMlEngines,
    DropMlEngine {
        name: Ident,
        if_exists: bool,
    },
    /// `CREATE PROJECT [IF NOT EXISTS] name`, or `CREATE DATABASE name` without an engine, as
    /// in MindsDB: a namespace of models besides `mindsdb`.
    CreateProject {
        name: Ident,
        if_not_exists: bool,
    },
    DropProject {
        name: Ident,
        if_exists: bool,
    },
    CreateDatabase {
        name: Ident,
        if_not_exists: bool,
        engine: String,
        parameters: Vec<(String, UsingValue)>,
    },
    /// `SHOW [FULL] DATABASES`; FULL adds each one's type (`data` or `project`).
    ShowDatabases {
        full: bool,
    },
    DropDatabase {
        name: Ident,
        if_exists: bool,
    },
    CreateModel {
        name: ModelName,
        or_replace: bool,
        if_not_exists: bool,
        source: Source,
        predict: Ident,
        using: Vec<UsingOption>,
    },
    /// `DESCRIBE [MODEL] name[.attribute]`; without MODEL a table of that name may be meant.
    Describe {
        explicit_model: bool,
        name: ObjectName,
    },
    /// `SHOW MODELS [FROM project] [LIKE 'pattern'] [WHERE condition]`
    ShowModels {
        project: Option<Ident>,
        like: Option<String>,
        filter: Option<Expr>,
    },
    /// `SHOW [FULL] TABLES [FROM database] [LIKE 'pattern'] [WHERE condition]`, MindsDB's (and
    /// MySQL's) listing: a column `Tables_in_<database>`, and `Table_type` with FULL.
    /// `SHOW HANDLERS [LIKE 'pattern'] [WHERE condition]`: the ML and data handlers.
    ShowHandlers {
        like: Option<String>,
        filter: Option<Expr>,
    },
    ShowTables {
        full: bool,
        database: Option<Ident>,
        like: Option<String>,
        filter: Option<Expr>,
    },
    DropModel {
        name: ModelName,
        if_exists: bool,
    },
    /// `DROP TABLE|VIEW [IF EXISTS] name` of one relation: DataFusion's statement, kept so
    /// that the name of a model gets a clear error.
    DropRelation {
        view: bool,
        name: ObjectName,
        if_exists: bool,
    },
    Retrain {
        name: ModelName,
        source: Option<Source>,
        predict: Option<Ident>,
        using: Vec<UsingOption>,
    },
    Finetune {
        name: ModelName,
        source: Source,
        using: Vec<UsingOption>,
    },
    /// `SET model_active = [project.]name.version`
    SetModelActive {
        name: ModelName,
    },
    /// `COPY (query [USING ...]) TO STDOUT` or `COPY table [(columns)] TO STDOUT`, with
    /// PostgreSQL's options; the table form is kept as `SELECT columns FROM table`. USING
    /// applies to the models the query reads, as after a SELECT.
    CopyTo {
        query: Box<Query>,
        using: Vec<UsingOption>,
        options: CopyOptions,
    },
    /// `CREATE [OR REPLACE] VIEW [project.]name AS (query)`: a view kept in its project.
    CreateView(Box<datafusion::sql::sqlparser::ast::Statement>),
    /// `CREATE [UNIQUE] INDEX ... ON table (...)`.
    CreateIndex(Box<datafusion::sql::sqlparser::ast::CreateIndex>),
    /// `CREATE TABLE [IF NOT EXISTS] files.name (column type, ...)`: an empty table.
    CreateTable {
        name: ObjectName,
        if_not_exists: bool,
        columns: Vec<ColumnDef>,
    },
    /// `CREATE TABLE [IF NOT EXISTS] name AS query [USING ...]`; USING applies to the
    /// models the query reads, as after a SELECT.
    CreateTableAs {
        name: ObjectName,
        if_not_exists: bool,
        query: Box<Query>,
        using: Vec<UsingOption>,
    },
    /// `INSERT INTO files.name [(columns)] query [USING ...]`; USING applies to the models
    /// the query reads, as after a SELECT.
    InsertInto {
        table: ObjectName,
        columns: Vec<Ident>,
        query: Box<Query>,
        using: Vec<UsingOption>,
    },
    /// `COPY table [(columns)] FROM STDIN`: the client uploads a new table.
    CopyFrom {
        table: ObjectName,
        columns: Vec<Ident>,
        options: CopyOptions,
    },
}

/// The options of `COPY ... TO STDOUT`, with PostgreSQL's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyOptions {
    pub format: CopyFormat,
    pub header: bool,
    /// One ASCII character: a tab for text, a comma for CSV.
    pub delimiter: char,
    /// How NULL is written: `\N` for text, the empty string for CSV.
    pub null: String,
    /// CSV's quote character (`"`); quotes inside values are doubled.
    pub quote: char,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    Text,
    Csv,
    Binary,
}

impl CopyOptions {
    /// PostgreSQL's defaults for `format`.
    pub fn new(format: CopyFormat) -> Self {
        let csv = format == CopyFormat::Csv;
        CopyOptions {
            format,
            header: false,
            delimiter: if csv { ',' } else { '\t' },
            null: if csv { String::new() } else { "\\N".into() },
            quote: '"',
        }
    }
}

/// A character or string as an SQL literal.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl fmt::Display for CopyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = match self.format {
            CopyFormat::Text => "text",
            CopyFormat::Csv => "csv",
            CopyFormat::Binary => return f.write_str("(FORMAT binary)"),
        };
        write!(
            f,
            "(FORMAT {format}, HEADER {}, DELIMITER {}, NULL {}",
            self.header,
            quoted(&self.delimiter.to_string()),
            quoted(&self.null)
        )?;
        if self.format == CopyFormat::Csv {
            write!(f, ", QUOTE {}", quoted(&self.quote.to_string()))?;
        }
        f.write_str(")")
    }
}

impl Statement {
    /// The queries the statement holds: its own, a COPY's, a CREATE TABLE AS's, an INSERT's, or
    /// the one that reads a model's training data.
    pub fn queries(&self) -> Vec<&Query> {
        match self {
            Statement::Query(query)
            | Statement::SelectUsing { query, .. }
            | Statement::Explain { query, .. }
            | Statement::DeclareCursor { query, .. }
            | Statement::CopyTo { query, .. }
            | Statement::CreateTableAs { query, .. }
            | Statement::InsertInto { query, .. } => vec![query.as_ref()],
            Statement::CreateModel { source, .. } | Statement::Finetune { source, .. } => {
                vec![source.query.as_ref()]
            }
            Statement::Retrain {
                source: Some(source),
                ..
            } => vec![source.query.as_ref()],
            _ => vec![],
        }
    }

    /// The name of the statement kind, for command tags and "not implemented" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Statement::Passthrough | Statement::Query(_) => "SELECT",
            Statement::SelectUsing { .. } => "SELECT ... USING",
            Statement::Explain { .. } => "EXPLAIN",
            Statement::DeclareCursor { .. } => "DECLARE CURSOR",
            Statement::CreateMlEngine { .. } => "CREATE ML_ENGINE",
            Statement::ShowMlEngines => "SHOW ML_ENGINES",
            Statement::DropMlEngine { .. } => "DROP ML_ENGINE",
            Statement::CreateDatabase { .. } => "CREATE DATABASE",
            Statement::CreateProject { .. } => "CREATE PROJECT",
            Statement::DropProject { .. } => "DROP PROJECT",
            Statement::ShowDatabases { .. } => "SHOW DATABASES",
            Statement::DropDatabase { .. } => "DROP DATABASE",
            Statement::CreateModel { .. } => "CREATE MODEL",
            Statement::Describe { .. } => "DESCRIBE",
            Statement::ShowModels { .. } => "SHOW MODELS",
            Statement::ShowTables { .. } => "SHOW TABLES",
            Statement::ShowHandlers { .. } => "SHOW HANDLERS",
            Statement::DropModel { .. } => "DROP MODEL",
            Statement::DropRelation { view: true, .. } => "DROP VIEW",
            Statement::DropRelation { view: false, .. } => "DROP TABLE",
            Statement::Retrain { .. } => "RETRAIN",
            Statement::Finetune { .. } => "FINETUNE",
            Statement::SetModelActive { .. } => "SET",
            Statement::CopyTo { .. } | Statement::CopyFrom { .. } => "COPY",
            Statement::CreateTable { .. } => "CREATE TABLE",
            Statement::CreateIndex(_) => "CREATE INDEX",
            Statement::CreateView(_) => "CREATE VIEW",
            Statement::CreateTableAs { .. } => "CREATE TABLE AS",
            Statement::InsertInto { .. } => "INSERT",
        }
    }
}

/// `[project.]name[.version]`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelName {
    pub project: Option<Ident>,
    pub name: Ident,
    pub version: Option<u32>,
}

/// `FROM db (query)`: where training data comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub database: Ident,
    pub query: Box<Query>,
}

/// `key = value` in a USING clause. Keys are lower-cased, as MindsDB does.
#[derive(Debug, Clone, PartialEq)]
pub struct UsingOption {
    pub key: String,
    pub value: UsingValue,
}

/// A USING list as a JSON object, for storage in the catalog.
pub fn using_to_json(using: &[UsingOption]) -> serde_json::Map<String, serde_json::Value> {
    using
        .iter()
        .map(|o| (o.key.clone(), o.value.to_json()))
        .collect()
}

/// A value in USING or PARAMETERS: a string, a number (kept as written), a boolean, NULL, a
/// list or a JSON-like object.
#[derive(Debug, Clone, PartialEq)]
pub enum UsingValue {
    Str(String),
    Number(String),
    Bool(bool),
    Null,
    List(Vec<UsingValue>),
    Object(Vec<(String, UsingValue)>),
}

impl UsingValue {
    /// The value as JSON, for storage in the catalog.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            UsingValue::Str(s) => Value::String(s.clone()),
            UsingValue::Number(n) => serde_json::from_str::<serde_json::Number>(n)
                .map(Value::Number)
                .unwrap_or_else(|_| Value::String(n.clone())),
            UsingValue::Bool(b) => Value::Bool(*b),
            UsingValue::Null => Value::Null,
            UsingValue::List(items) => Value::Array(items.iter().map(Self::to_json).collect()),
            UsingValue::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The value of a JSON document (the inverse of `to_json`).
    pub fn from_json(v: &serde_json::Value) -> UsingValue {
        use serde_json::Value;
        match v {
            Value::Null => UsingValue::Null,
            Value::Bool(b) => UsingValue::Bool(*b),
            Value::Number(n) => UsingValue::Number(n.to_string()),
            Value::String(s) => UsingValue::Str(s.clone()),
            Value::Array(a) => UsingValue::List(a.iter().map(Self::from_json).collect()),
            Value::Object(o) => UsingValue::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), Self::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            UsingValue::Str(_) => "a string",
            UsingValue::Number(_) => "a number",
            UsingValue::Bool(_) => "a boolean",
            UsingValue::Null => "NULL",
            UsingValue::List(_) => "a list",
            UsingValue::Object(_) => "an object",
        }
    }

    /// The value as plain text: strings unquoted, everything else as written.
    pub fn as_text(&self) -> String {
        match self {
            UsingValue::Str(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    write!(f, "'{}'", s.replace('\'', "''"))
}

impl fmt::Display for UsingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsingValue::Str(s) => write_quoted(f, s),
            UsingValue::Number(n) => f.write_str(n),
            UsingValue::Bool(b) => f.write_str(if *b { "true" } else { "false" }),
            UsingValue::Null => f.write_str("NULL"),
            UsingValue::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            UsingValue::Object(fields) => {
                f.write_str("{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_quoted(f, k)?;
                    write!(f, ": {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

impl fmt::Display for UsingOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.key, self.value)
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.project {
            write!(f, "{p}.")?;
        }
        write!(f, "{}", self.name)?;
        if let Some(v) = self.version {
            write!(f, ".{v}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FROM {} ({})", self.database, self.query)
    }
}

fn write_using(f: &mut fmt::Formatter<'_>, using: &[UsingOption]) -> fmt::Result {
    if using.is_empty() {
        return Ok(());
    }
    f.write_str(" USING ")?;
    for (i, o) in using.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{o}")?;
    }
    Ok(())
}

/// `EXPLAIN`, with `ANALYZE` and `VERBOSE` as given.
pub fn explain_prefix(analyze: bool, verbose: bool) -> String {
    let mut s = String::from("EXPLAIN");
    if analyze {
        s.push_str(" ANALYZE");
    }
    if verbose {
        s.push_str(" VERBOSE");
    }
    s
}

/// The ` FROM x LIKE '...' WHERE ...` of a SHOW statement.
fn write_listing(
    f: &mut fmt::Formatter<'_>,
    from: Option<&Ident>,
    like: Option<&str>,
    filter: Option<&Expr>,
) -> fmt::Result {
    if let Some(p) = from {
        write!(f, " FROM {p}")?;
    }
    if let Some(l) = like {
        f.write_str(" LIKE ")?;
        write_quoted(f, l)?;
    }
    if let Some(e) = filter {
        write!(f, " WHERE {e}")?;
    }
    Ok(())
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Statement::Passthrough => f.write_str("-- passthrough"),
            Statement::Query(q) => write!(f, "{q}"),
            Statement::SelectUsing { query, using } => {
                write!(f, "{query}")?;
                write_using(f, using)
            }
            Statement::Explain {
                analyze,
                verbose,
                query,
                using,
            } => {
                write!(f, "{} {query}", explain_prefix(*analyze, *verbose))?;
                write_using(f, using)
            }
            Statement::DeclareCursor { head, query, using } => {
                write!(f, "{head} {query}")?;
                write_using(f, using)
            }
            Statement::CreateMlEngine {
                name,
                if_not_exists,
                handler,
                using,
            } => {
                f.write_str("CREATE ML_ENGINE ")?;
                if *if_not_exists {
                    f.write_str("IF NOT EXISTS ")?;
                }
                write!(f, "{name} FROM {handler}")?;
                write_using(f, using)
            }
            Statement::ShowMlEngines => f.write_str("SHOW ML_ENGINES"),
            Statement::DropMlEngine { name, if_exists } => {
                f.write_str("DROP ML_ENGINE ")?;
                if *if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                write!(f, "{name}")
            }
            Statement::CreateDatabase {
                name,
                if_not_exists,
                engine,
                parameters,
            } => {
                f.write_str("CREATE DATABASE ")?;
                if *if_not_exists {
                    f.write_str("IF NOT EXISTS ")?;
                }
                write!(f, "{name} WITH ENGINE = ")?;
                write_quoted(f, engine)?;
                if !parameters.is_empty() {
                    write!(
                        f,
                        ", PARAMETERS = {}",
                        UsingValue::Object(parameters.clone())
                    )?;
                }
                Ok(())
            }
            Statement::CreateProject {
                name,
                if_not_exists,
            } => {
                f.write_str("CREATE PROJECT ")?;
                if *if_not_exists {
                    f.write_str("IF NOT EXISTS ")?;
                }
                write!(f, "{name}")
            }
            Statement::DropProject { name, if_exists } => {
                f.write_str("DROP PROJECT ")?;
                if *if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                write!(f, "{name}")
            }
            Statement::ShowDatabases { full } => f.write_str(if *full {
                "SHOW FULL DATABASES"
            } else {
                "SHOW DATABASES"
            }),
            Statement::DropDatabase { name, if_exists } => {
                f.write_str("DROP DATABASE ")?;
                if *if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                write!(f, "{name}")
            }
            Statement::CreateModel {
                name,
                or_replace,
                if_not_exists,
                source,
                predict,
                using,
            } => {
                f.write_str("CREATE ")?;
                if *or_replace {
                    f.write_str("OR REPLACE ")?;
                }
                f.write_str("MODEL ")?;
                if *if_not_exists {
                    f.write_str("IF NOT EXISTS ")?;
                }
                write!(f, "{name} {source} PREDICT {predict}")?;
                write_using(f, using)
            }
            Statement::Describe {
                explicit_model,
                name,
            } => {
                f.write_str("DESCRIBE ")?;
                if *explicit_model {
                    f.write_str("MODEL ")?;
                }
                write!(f, "{name}")
            }
            Statement::ShowModels {
                project,
                like,
                filter,
            } => {
                f.write_str("SHOW MODELS")?;
                write_listing(f, project.as_ref(), like.as_deref(), filter.as_ref())
            }
            Statement::ShowHandlers { like, filter } => {
                f.write_str("SHOW HANDLERS")?;
                write_listing(f, None, like.as_deref(), filter.as_ref())
            }
            Statement::ShowTables {
                full,
                database,
                like,
                filter,
            } => {
                f.write_str(if *full {
                    "SHOW FULL TABLES"
                } else {
                    "SHOW TABLES"
                })?;
                write_listing(f, database.as_ref(), like.as_deref(), filter.as_ref())
            }
            Statement::DropModel { name, if_exists } => {
                f.write_str("DROP MODEL ")?;
                if *if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                write!(f, "{name}")
            }
            Statement::DropRelation {
                view,
                name,
                if_exists,
            } => {
                f.write_str(if *view { "DROP VIEW " } else { "DROP TABLE " })?;
                if *if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                write!(f, "{name}")
            }
            Statement::Retrain {
                name,
                source,
                predict,
                using,
            } => {
                write!(f, "RETRAIN {name}")?;
                if let Some(s) = source {
                    write!(f, " {s}")?;
                }
                if let Some(p) = predict {
                    write!(f, " PREDICT {p}")?;
                }
                write_using(f, using)
            }
            Statement::Finetune {
                name,
                source,
                using,
            } => {
                write!(f, "FINETUNE {name} {source}")?;
                write_using(f, using)
            }
            Statement::SetModelActive { name } => write!(f, "SET model_active = {name}"),
            Statement::CopyTo {
                query,
                using,
                options,
            } => {
                write!(f, "COPY ({query}")?;
                write_using(f, using)?;
                write!(f, ") TO STDOUT WITH {options}")
            }
            Statement::CreateIndex(index) => write!(f, "{index}"),
            Statement::CreateView(view) => write!(f, "{view}"),
            Statement::CreateTable {
                name,
                if_not_exists,
                columns,
            } => {
                f.write_str("CREATE TABLE ")?;
                if *if_not_exists {
                    f.write_str("IF NOT EXISTS ")?;
                }
                let columns: Vec<String> = columns.iter().map(ToString::to_string).collect();
                write!(f, "{name} ({})", columns.join(", "))
            }
            Statement::CreateTableAs {
                name,
                if_not_exists,
                query,
                using,
            } => {
                f.write_str("CREATE TABLE ")?;
                if *if_not_exists {
                    f.write_str("IF NOT EXISTS ")?;
                }
                write!(f, "{name} AS {query}")?;
                write_using(f, using)
            }
            Statement::InsertInto {
                table,
                columns,
                query,
                using,
            } => {
                write!(f, "INSERT INTO {table} ")?;
                if !columns.is_empty() {
                    let names: Vec<String> = columns.iter().map(ToString::to_string).collect();
                    write!(f, "({}) ", names.join(", "))?;
                }
                write!(f, "{query}")?;
                write_using(f, using)
            }
            Statement::CopyFrom {
                table,
                columns,
                options,
            } => {
                write!(f, "COPY {table} ")?;
                if !columns.is_empty() {
                    let names: Vec<String> = columns.iter().map(ToString::to_string).collect();
                    write!(f, "({}) ", names.join(", "))?;
                }
                write!(f, "FROM STDIN WITH {options}")
            }
        }
    }
}
