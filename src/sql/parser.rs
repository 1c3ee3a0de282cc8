//! Parses one statement of recsql's dialect into [`Statement`], wrapping sqlparser's parser.
//!
//! recsql's own statements (ML_ENGINE, MODEL, DATABASE, DESCRIBE, RETRAIN, FINETUNE,
//! `SELECT ... USING`, `SET model_active`, `COPY ... TO STDOUT | FROM STDIN`) are recognised by their leading words and parsed
//! here; queries are parsed by sqlparser; everything else is left for DataFusion as
//! [`Statement::Passthrough`]. It never executes anything and never panics on any input.

use datafusion::sql::sqlparser::ast::{self, Expr, Ident, ObjectName, ObjectNamePart};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

use super::ast::{CopyFormat, CopyOptions, ModelName, Source, Statement, UsingOption, UsingValue};
use crate::error::{Error, Result, sqlstate};

/// How deeply sqlparser may recurse; bounds stack use on hostile input.
const RECURSION_LIMIT: usize = 64;

/// Parses one statement (a piece produced by [`super::split_statements`]).
pub fn parse_statement(sql: &str) -> Result<Statement> {
    let sql = &*super::split::quote_version_suffixes(sql);
    let dialect = PostgreSqlDialect {};
    let tokens = datafusion::sql::sqlparser::tokenizer::Tokenizer::new(&dialect, sql)
        .with_unescape(true)
        .tokenize_with_location()
        .map_err(|e| Error::syntax(e.to_string()))?;
    super::nesting::check_tokens(&tokens)?;
    let parser = Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .with_tokens_with_locations(tokens);
    let mut p = DialectParser { parser };
    let stmt = p.statement()?;
    // Text left for DataFusion is not ours to check to its end.
    if stmt != Statement::Passthrough {
        p.expect_end()?;
    }
    super::nesting::check(&stmt)?;
    Ok(stmt)
}

struct DialectParser<'a> {
    parser: Parser<'a>,
}

/// The upper-cased text of a word token (quoted words never count as keywords).
fn word_upper(token: &Token) -> Option<String> {
    match token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    }
}

impl<'a> DialectParser<'a> {
    fn peek_word(&self, n: usize) -> Option<String> {
        word_upper(&self.parser.peek_nth_token(n).token)
    }

    /// Consumes the next token if it is the (non-reserved) word `word`.
    fn parse_word(&mut self, word: &str) -> bool {
        if self.peek_word(0).as_deref() == Some(word) {
            self.parser.next_token();
            true
        } else {
            false
        }
    }

    fn expect_word(&mut self, word: &str) -> Result<()> {
        if self.parse_word(word) {
            Ok(())
        } else {
            Err(self.expected(word))
        }
    }

    fn expected(&self, what: &str) -> Error {
        let found = self.parser.peek_token();
        Error::syntax(format!(
            "expected {what}, found {}{}",
            describe_token(&found.token),
            found.span.start
        ))
    }

    /// Leaves the rest of the statement to DataFusion, which gets its text as sent.
    fn rest_to_datafusion(&mut self) -> Result<Statement> {
        while self.parser.next_token().token != Token::EOF {}
        Ok(Statement::Passthrough)
    }

    fn expect_end(&mut self) -> Result<()> {
        while self.parser.consume_token(&Token::SemiColon) {}
        match self.parser.peek_token().token {
            Token::EOF => Ok(()),
            _ => Err(self.expected("end of statement")),
        }
    }

    fn statement(&mut self) -> Result<Statement> {
        let first = self.peek_word(0);
        let second = self.peek_word(1);
        match (first.as_deref(), second.as_deref()) {
            (Some("CREATE"), Some("ML_ENGINE")) => self.create_ml_engine(),
            (Some("CREATE"), Some("DATABASE")) => self.create_database(),
            (Some("CREATE"), Some("PROJECT")) => {
                let (name, if_not_exists) = self.created_name()?;
                Ok(Statement::CreateProject {
                    name,
                    if_not_exists,
                })
            }
            (Some("DROP"), Some("PROJECT")) => {
                let (name, if_exists) = self.dropped_name()?;
                Ok(Statement::DropProject { name, if_exists })
            }
            (Some("CREATE"), Some("VIEW")) => self.create_view(),
            (Some("CREATE"), Some("OR")) if self.peek_word(3).as_deref() == Some("VIEW") => {
                self.create_view()
            }
            (Some("CREATE"), Some("MODEL" | "PREDICTOR" | "OR")) => self.create_model(),
            (Some("SHOW"), Some("ML_ENGINES")) => {
                self.parser.next_token();
                self.parser.next_token();
                Ok(Statement::ShowMlEngines)
            }
            (Some("SHOW"), Some("DATABASES")) => {
                self.parser.next_token();
                self.parser.next_token();
                Ok(Statement::ShowDatabases { full: false })
            }
            (Some("SHOW"), Some("MODELS" | "PREDICTORS")) => self.show_models(),
            (Some("SHOW"), Some("TABLES" | "FULL")) => self.show_tables(),
            (Some("SHOW"), Some("HANDLERS")) => {
                self.parser.next_token();
                self.parser.next_token();
                let (from, like, filter) = self.listing()?;
                if from.is_some() {
                    return Err(Error::syntax("SHOW HANDLERS takes no FROM"));
                }
                Ok(Statement::ShowHandlers { like, filter })
            }
            (Some("DROP"), Some("ML_ENGINE")) => {
                let (name, if_exists) = self.dropped_name()?;
                Ok(Statement::DropMlEngine { name, if_exists })
            }
            (Some("DROP"), Some("DATABASE")) => {
                let (name, if_exists) = self.dropped_name()?;
                Ok(Statement::DropDatabase { name, if_exists })
            }
            (Some("DROP"), Some("MODEL" | "PREDICTOR")) => {
                self.parser.next_token();
                self.parser.next_token();
                let if_exists = self.parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
                let name = self.model_name()?;
                Ok(Statement::DropModel { name, if_exists })
            }
            (Some("DROP"), Some("TABLE" | "VIEW")) => self.drop_relation(),
            (Some("COPY"), _) => self.copy(),
            (Some("CREATE"), Some("TABLE")) => self.create_table(),
            (Some("CREATE"), Some("INDEX" | "UNIQUE")) => self.create_index(),
            (Some("INSERT"), Some("INTO")) => self.insert_into(),
            (Some("DESCRIBE"), _) => self.describe(),
            (Some("RETRAIN"), _) => self.retrain(),
            (Some("FINETUNE"), _) => self.finetune(),
            (Some("SET"), Some("MODEL_ACTIVE")) => {
                self.parser.next_token();
                self.parser.next_token();
                if !self.parser.consume_token(&Token::Eq) && !self.parser.parse_keyword(Keyword::TO)
                {
                    return Err(self.expected("= after model_active"));
                }
                let name = self.model_name()?;
                if name.version.is_none() {
                    return Err(Error::syntax(format!(
                        "SET model_active needs a version, as in SET model_active = {name}.1"
                    )));
                }
                Ok(Statement::SetModelActive { name })
            }
            (Some("EXPLAIN"), _) => self.explain(),
            (Some("DECLARE"), _) => self.declare_cursor(),
            (Some("SELECT" | "WITH" | "VALUES"), _) => self.query(),
            _ if self.parser.peek_token().token == Token::LParen => self.query(),
            _ => Ok(Statement::Passthrough),
        }
    }

    /// `DROP TABLE|VIEW [IF EXISTS] name`; other forms (several names, CASCADE) are left
    /// to DataFusion as they are.
    fn drop_relation(&mut self) -> Result<Statement> {
        self.parser.next_token();
        let view = self.peek_word(0).as_deref() == Some("VIEW");
        self.parser.next_token();
        let if_exists = self.parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        let name = self.parser.parse_object_name(false);
        while self.parser.consume_token(&Token::SemiColon) {}
        match name {
            Ok(name) if self.parser.peek_token().token == Token::EOF => {
                Ok(Statement::DropRelation {
                    view,
                    name,
                    if_exists,
                })
            }
            _ => self.rest_to_datafusion(),
        }
    }

    /// `CREATE TABLE [IF NOT EXISTS] name AS query [USING ...]` and `CREATE TABLE [IF NOT
    /// EXISTS] files.name (column type, ...)`, which recsql runs; other forms of CREATE TABLE
    /// are left to DataFusion as they are.
    fn create_table(&mut self) -> Result<Statement> {
        let stmt = match self.parser.parse_statement() {
            Ok(ast::Statement::CreateTable(ct))
                if !ct.or_replace && !ct.temporary && !ct.external =>
            {
                ct
            }
            _ => return self.rest_to_datafusion(),
        };
        match stmt.query {
            Some(query) if stmt.columns.is_empty() => Ok(Statement::CreateTableAs {
                name: stmt.name,
                if_not_exists: stmt.if_not_exists,
                query,
                using: self.optional_using()?,
            }),
            None if !stmt.columns.is_empty() && files_table_name(&stmt.name).is_some() => {
                let constrained = stmt.columns.iter().find(|c| {
                    c.options
                        .iter()
                        .any(|o| !matches!(o.option, ast::ColumnOption::Null))
                });
                let refused = match constrained {
                    Some(column) => Some(format!(
                        "column {} of {}: recsql tables have no constraints, defaults or keys",
                        column.name, stmt.name
                    )),
                    None => (!stmt.constraints.is_empty()).then(|| {
                        format!("{}: recsql tables have no constraints or keys", stmt.name)
                    }),
                };
                if let Some(message) = refused {
                    return Err(Error::not_supported(message)
                        .with_hint("declare the columns with their names and types only"));
                }
                Ok(Statement::CreateTable {
                    name: stmt.name,
                    if_not_exists: stmt.if_not_exists,
                    columns: stmt.columns,
                })
            }
            _ => Ok(Statement::Passthrough),
        }
    }

    /// `CREATE [OR REPLACE] VIEW name AS query`, which recsql keeps in the name's project.
    fn create_view(&mut self) -> Result<Statement> {
        match self.parser.parse_statement() {
            Ok(view @ ast::Statement::CreateView(_)) => Ok(Statement::CreateView(Box::new(view))),
            _ => self.rest_to_datafusion(),
        }
    }

    /// `CREATE [UNIQUE] INDEX ... ON table (...)`, which recsql answers (it keeps no indexes).
    fn create_index(&mut self) -> Result<Statement> {
        match self.parser.parse_statement() {
            Ok(ast::Statement::CreateIndex(index)) => Ok(Statement::CreateIndex(Box::new(index))),
            _ => self.rest_to_datafusion(),
        }
    }

    /// `INSERT INTO files.name [(columns)] query`, which recsql runs; inserts into other
    /// databases, and other forms, are left to DataFusion as they are.
    fn insert_into(&mut self) -> Result<Statement> {
        let insert = match self.parser.parse_statement() {
            Ok(ast::Statement::Insert(insert)) => insert,
            _ => return self.rest_to_datafusion(),
        };
        let ast::TableObject::TableName(table) = &insert.table else {
            return Ok(Statement::Passthrough);
        };
        let files = files_table_name(table).is_some();
        let plain = insert.on.is_none()
            && insert.returning.is_none()
            && !insert.overwrite
            && insert.partitioned.is_none()
            && insert.table_alias.is_none()
            && insert.assignments.is_empty();
        let columns: Option<Vec<Ident>> = insert
            .columns
            .iter()
            .map(|c| match c.0.as_slice() {
                [part] => part.as_ident().cloned(),
                _ => None,
            })
            .collect();
        match (insert.source, columns) {
            (Some(query), Some(columns)) if files && plain => Ok(Statement::InsertInto {
                table: table.clone(),
                columns,
                query,
                using: self.optional_using()?,
            }),
            _ => Ok(Statement::Passthrough),
        }
    }

    /// `COPY (query) TO STDOUT`, `COPY table [(columns)] TO STDOUT` and `COPY table
    /// [(columns)] FROM STDIN`, which recsql runs; other forms (server files) are left to
    /// DataFusion as they are.
    fn copy(&mut self) -> Result<Statement> {
        self.parser.next_token();
        if self.parser.peek_token().token == Token::LParen {
            return self.copy_query();
        }
        let stmt = match self.parser.parse_copy() {
            Ok(stmt) => stmt,
            Err(_) => return self.rest_to_datafusion(),
        };
        self.copy_statement(stmt, Vec::new())
    }

    /// `COPY (query [USING ...]) ...`: sqlparser reads no USING inside the parentheses, so
    /// the query is read here, and the tokens that follow it by sqlparser, as the end of a
    /// COPY of a stand-in query.
    fn copy_query(&mut self) -> Result<Statement> {
        self.parser.next_token();
        let (query, using) = match self.query()? {
            Statement::Query(query) => (query, Vec::new()),
            Statement::SelectUsing { query, using } => (query, using),
            // DataFusion gets the statement as it was sent.
            _ => return self.rest_to_datafusion(),
        };
        if !self.parser.consume_token(&Token::RParen) {
            return Err(self.expected(") after the query of COPY (query) TO STDOUT"));
        }
        let dialect = PostgreSqlDialect {};
        let mut tokens =
            datafusion::sql::sqlparser::tokenizer::Tokenizer::new(&dialect, "COPY (SELECT 1)")
                .tokenize_with_location()
                .map_err(|e| Error::internal(e.to_string()))?;
        loop {
            let token = self.parser.next_token();
            if token.token == Token::EOF {
                break;
            }
            tokens.push(token);
        }
        let mut stmt = Parser::new(&dialect)
            .with_tokens_with_locations(tokens)
            .parse_statement();
        match &mut stmt {
            Ok(ast::Statement::Copy { source, .. }) => *source = ast::CopySource::Query(query),
            _ => return Ok(Statement::Passthrough),
        }
        self.copy_statement(stmt?, using)
    }

    /// The COPY statements recsql runs, from sqlparser's reading of them.
    fn copy_statement(
        &mut self,
        stmt: ast::Statement,
        using: Vec<UsingOption>,
    ) -> Result<Statement> {
        let (source, options, legacy_options) = match stmt {
            ast::Statement::Copy {
                source,
                to: true,
                target: ast::CopyTarget::Stdout,
                options,
                legacy_options,
                ..
            } => (source, options, legacy_options),
            ast::Statement::Copy {
                source:
                    ast::CopySource::Table {
                        table_name,
                        columns,
                    },
                to: false,
                target: ast::CopyTarget::Stdin,
                options,
                legacy_options,
                ..
            } => {
                return Ok(Statement::CopyFrom {
                    table: table_name,
                    columns,
                    options: copy_options(&options, &legacy_options)?,
                });
            }
            // DataFusion would write any path the server can: PostgreSQL keeps that to
            // superusers, and recsql to no one.
            ast::Statement::Copy {
                to: true,
                target: ast::CopyTarget::File { filename },
                ..
            } => {
                return Err(Error::new(
                    sqlstate::INSUFFICIENT_PRIVILEGE,
                    format!("COPY TO a server file ({filename}) is not allowed"),
                )
                .with_hint(
                    "COPY ... TO STDOUT (psql's \\copy) sends the rows to the client; CREATE TABLE files.name AS SELECT ... keeps them on the server",
                ));
            }
            _ => return self.rest_to_datafusion(),
        };
        let query = match source {
            ast::CopySource::Query(q) => q,
            ast::CopySource::Table {
                table_name,
                columns,
            } => {
                let list = if columns.is_empty() {
                    "*".to_string()
                } else {
                    columns
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let sql = format!("SELECT {list} FROM {table_name}");
                Parser::new(&PostgreSqlDialect {})
                    .try_with_sql(&sql)?
                    .parse_query()?
            }
        };
        Ok(Statement::CopyTo {
            query,
            using,
            options: copy_options(&options, &legacy_options)?,
        })
    }

    /// `EXPLAIN [ANALYZE] [VERBOSE]` of a query, which may read from a model. Other forms
    /// (Postgres' parenthesised options, EXPLAIN of other statements) are left to DataFusion.
    fn explain(&mut self) -> Result<Statement> {
        self.parser.next_token();
        let analyze = self.parse_word("ANALYZE");
        let verbose = self.parse_word("VERBOSE");
        let starts_query = matches!(
            self.peek_word(0).as_deref(),
            Some("SELECT" | "WITH" | "VALUES")
        ) || self.parser.peek_token().token == Token::LParen;
        let (query, using) = match starts_query.then(|| self.query()).transpose()? {
            Some(Statement::Query(query)) => (query, Vec::new()),
            Some(Statement::SelectUsing { query, using }) => (query, using),
            _ => return self.rest_to_datafusion(),
        };
        Ok(Statement::Explain {
            analyze,
            verbose,
            query,
            using,
        })
    }

    /// `DECLARE name [BINARY] [[NO] SCROLL] CURSOR [WITH[OUT] HOLD] FOR query [USING ...]`, a
    /// cursor over a query that may read from a model (psql's FETCH_COUNT and drivers'
    /// server-side cursors declare one around the client's query). What sqlparser cannot read
    /// is left to DataFusion.
    fn declare_cursor(&mut self) -> Result<Statement> {
        let mut head = Vec::new();
        loop {
            let token = self.parser.next_token().token;
            match &token {
                Token::EOF | Token::SemiColon => return Ok(Statement::Passthrough),
                Token::Word(w) if w.quote_style.is_none() && w.keyword == Keyword::FOR => {
                    head.push(token.to_string());
                    break;
                }
                _ => head.push(token.to_string()),
            }
        }
        let (query, using) = match self.query()? {
            Statement::Query(query) => (query, Vec::new()),
            Statement::SelectUsing { query, using } => (query, using),
            _ => return self.rest_to_datafusion(),
        };
        Ok(Statement::DeclareCursor {
            head: head.join(" "),
            query,
            using,
        })
    }

    /// A query, optionally followed by USING. A query sqlparser cannot parse is left to
    /// DataFusion, whose Postgres-compatibility layer accepts more client queries.
    fn query(&mut self) -> Result<Statement> {
        let query = match self.parser.parse_query() {
            Ok(q) => q,
            Err(ParserError::RecursionLimitExceeded) => {
                return Err(Error::syntax("statement is nested too deeply"));
            }
            Err(_) => return self.rest_to_datafusion(),
        };
        if self.parser.parse_keyword(Keyword::USING) {
            let using = self.using_list()?;
            // MindsDB's order is `... LIMIT n USING ...`; say so rather than "expected end".
            if let Token::Word(w) = &self.parser.peek_token().token
                && matches!(
                    w.keyword,
                    Keyword::LIMIT | Keyword::OFFSET | Keyword::ORDER | Keyword::FETCH
                )
            {
                let clause = w.value.to_ascii_uppercase();
                return Err(self.expected(&format!(
                    "end of statement ({clause} goes before USING: SELECT ... {clause} ... USING ...)"
                )));
            }
            Ok(Statement::SelectUsing { query, using })
        } else {
            Ok(Statement::Query(query))
        }
    }

    /// After the two words of `CREATE <kind>`: `[IF NOT EXISTS] name`.
    fn created_name(&mut self) -> Result<(Ident, bool)> {
        self.parser.next_token();
        self.parser.next_token();
        let if_not_exists =
            self.parser
                .parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
        Ok((self.parser.parse_identifier()?, if_not_exists))
    }

    /// After the two words of `DROP <kind>`: `[IF EXISTS] name`.
    fn dropped_name(&mut self) -> Result<(Ident, bool)> {
        self.parser.next_token();
        self.parser.next_token();
        let if_exists = self.parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        Ok((self.parser.parse_identifier()?, if_exists))
    }

    fn create_ml_engine(&mut self) -> Result<Statement> {
        let (name, if_not_exists) = self.created_name()?;
        self.parser.expect_keyword(Keyword::FROM)?;
        let handler = self.parser.parse_identifier()?;
        let using = self.optional_using()?;
        Ok(Statement::CreateMlEngine {
            name,
            if_not_exists,
            handler,
            using,
        })
    }

    fn create_database(&mut self) -> Result<Statement> {
        let (name, if_not_exists) = self.created_name()?;
        // Without an engine, MindsDB creates a project.
        if matches!(
            self.parser.peek_token().token,
            Token::EOF | Token::SemiColon
        ) {
            return Ok(Statement::CreateProject {
                name,
                if_not_exists,
            });
        }
        let _ = self.parser.parse_keyword(Keyword::WITH);
        self.parser.expect_keyword(Keyword::ENGINE)?;
        let _ = self.parser.consume_token(&Token::Eq);
        let engine = match self.value()? {
            UsingValue::Str(s) => s,
            other => {
                return Err(Error::syntax(format!(
                    "ENGINE must be a string such as 'postgres', 'mysql' or 'files', found {}",
                    other.type_name()
                )));
            }
        };
        let mut parameters = Vec::new();
        let had_separator =
            self.parser.consume_token(&Token::Comma) || self.parser.parse_keyword(Keyword::AND);
        if self.parse_word("PARAMETERS") {
            let _ = self.parser.consume_token(&Token::Eq);
            match self.value()? {
                UsingValue::Object(fields) => parameters = fields,
                other => {
                    return Err(Error::syntax(format!(
                        "PARAMETERS must be an object such as {{\"host\": \"127.0.0.1\"}}, found {}",
                        other.type_name()
                    )));
                }
            }
        } else if had_separator {
            return Err(self.expected("PARAMETERS"));
        }
        Ok(Statement::CreateDatabase {
            name,
            if_not_exists,
            engine,
            parameters,
        })
    }

    fn create_model(&mut self) -> Result<Statement> {
        self.parser.next_token(); // CREATE
        let or_replace = self.parser.parse_keywords(&[Keyword::OR, Keyword::REPLACE]);
        if !self.parse_word("MODEL") && !self.parse_word("PREDICTOR") {
            return Err(self.expected("MODEL"));
        }
        let if_not_exists =
            self.parser
                .parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
        let name = self.model_name()?;
        if name.version.is_some() {
            return Err(Error::syntax(
                "CREATE MODEL takes a name without a version; versions are numbered by recsql",
            ));
        }
        let source = self.source()?;
        self.expect_word("PREDICT")?;
        let predict = self.parser.parse_identifier()?;
        let using = self.optional_using()?;
        Ok(Statement::CreateModel {
            name,
            or_replace,
            if_not_exists,
            source,
            predict,
            using,
        })
    }

    fn source(&mut self) -> Result<Source> {
        self.parser.expect_keyword(Keyword::FROM)?;
        let database = self.parser.parse_identifier()?;
        self.parser.expect_token(&Token::LParen)?;
        let query = self.parser.parse_query()?;
        self.parser.expect_token(&Token::RParen)?;
        Ok(Source { database, query })
    }

    fn show_models(&mut self) -> Result<Statement> {
        self.parser.next_token();
        self.parser.next_token();
        let (project, like, filter) = self.listing()?;
        Ok(Statement::ShowModels {
            project,
            like,
            filter,
        })
    }

    fn show_tables(&mut self) -> Result<Statement> {
        self.parser.next_token();
        let full = self.parse_word("FULL");
        if full && self.parse_word("DATABASES") {
            return Ok(Statement::ShowDatabases { full });
        }
        if !self.parse_word("TABLES") {
            return Err(self.expected("TABLES or DATABASES after SHOW FULL"));
        }
        let (database, like, filter) = self.listing()?;
        Ok(Statement::ShowTables {
            full,
            database,
            like,
            filter,
        })
    }

    /// `[FROM | IN name] [LIKE 'pattern'] [WHERE condition]` of a SHOW statement.
    fn listing(&mut self) -> Result<(Option<Ident>, Option<String>, Option<Expr>)> {
        let from =
            if self.parser.parse_keyword(Keyword::FROM) || self.parser.parse_keyword(Keyword::IN) {
                Some(self.parser.parse_identifier()?)
            } else {
                None
            };
        let like = if self.parser.parse_keyword(Keyword::LIKE) {
            Some(self.parser.parse_literal_string()?)
        } else {
            None
        };
        let filter = if self.parser.parse_keyword(Keyword::WHERE) {
            Some(self.parser.parse_expr()?)
        } else {
            None
        };
        Ok((from, like, filter))
    }

    fn describe(&mut self) -> Result<Statement> {
        self.parser.next_token();
        let explicit_model = self.parse_word("MODEL") || self.parse_word("PREDICTOR");
        let name = self.object_name_with_versions()?;
        Ok(Statement::Describe {
            explicit_model,
            name,
        })
    }

    fn retrain(&mut self) -> Result<Statement> {
        self.parser.next_token();
        let _ = self.parse_word("MODEL");
        let name = self.model_name()?;
        let source = if self.parser.peek_keyword(Keyword::FROM) {
            Some(self.source()?)
        } else {
            None
        };
        let predict = if self.parse_word("PREDICT") {
            Some(self.parser.parse_identifier()?)
        } else {
            None
        };
        let using = self.optional_using()?;
        Ok(Statement::Retrain {
            name,
            source,
            predict,
            using,
        })
    }

    fn finetune(&mut self) -> Result<Statement> {
        self.parser.next_token();
        let _ = self.parse_word("MODEL");
        let name = self.model_name()?;
        let source = self.source()?;
        let using = self.optional_using()?;
        Ok(Statement::Finetune {
            name,
            source,
            using,
        })
    }

    /// An object name whose parts may be numbers (`m.2`), as in `DESCRIBE m.2.info`.
    fn object_name_with_versions(&mut self) -> Result<ObjectName> {
        let mut parts = vec![self.parser.parse_identifier()?];
        loop {
            let token = self.parser.peek_token().token;
            match token {
                Token::Period => {
                    self.parser.next_token();
                    match self.parser.next_token().token {
                        Token::Number(n, _) if is_digits(&n) => parts.push(Ident::new(n)),
                        Token::Word(w) => parts.push(match w.quote_style {
                            Some(q) => Ident::with_quote(q, w.value),
                            None => Ident::new(w.value),
                        }),
                        other => {
                            return Err(Error::syntax(format!(
                                "expected a name after '.', found {}",
                                describe_token(&other)
                            )));
                        }
                    }
                }
                // The tokenizer reads `m.2` as the word `m` and the number `.2`.
                Token::Number(n, _) if n.starts_with('.') && is_digits(&n[1..]) => {
                    self.parser.next_token();
                    parts.push(Ident::new(&n[1..]));
                }
                _ => break,
            }
        }
        Ok(ObjectName(
            parts.into_iter().map(ObjectNamePart::Identifier).collect(),
        ))
    }

    /// `[project.]name[.version]`
    fn model_name(&mut self) -> Result<ModelName> {
        let name = self.object_name_with_versions()?;
        model_name_from_parts(&name)
    }

    fn optional_using(&mut self) -> Result<Vec<UsingOption>> {
        if self.parser.parse_keyword(Keyword::USING) {
            self.using_list()
        } else {
            Ok(Vec::new())
        }
    }

    fn using_list(&mut self) -> Result<Vec<UsingOption>> {
        let mut options = Vec::new();
        loop {
            let key = self.option_key()?;
            if !self.parser.consume_token(&Token::Eq) {
                return Err(self.expected(&format!("= after USING key {key}")));
            }
            let value = self.value()?;
            options.push(UsingOption { key, value });
            if !self.parser.consume_token(&Token::Comma) {
                break;
            }
        }
        Ok(options)
    }

    fn option_key(&mut self) -> Result<String> {
        let token = self.parser.next_token();
        match token.token {
            Token::Word(w) => {
                let mut key = w.value.to_lowercase();
                // dotted keys such as `options.x`
                while self.parser.consume_token(&Token::Period) {
                    match self.parser.next_token().token {
                        Token::Word(w) => {
                            key.push('.');
                            key.push_str(&w.value.to_lowercase());
                        }
                        other => {
                            return Err(Error::syntax(format!(
                                "expected a key after '.', found {}",
                                describe_token(&other)
                            )));
                        }
                    }
                }
                Ok(key)
            }
            Token::SingleQuotedString(s) => Ok(s.to_lowercase()),
            other => Err(Error::syntax(format!(
                "expected a USING key such as user_id, found {}",
                describe_token(&other)
            ))),
        }
    }

    /// A USING/PARAMETERS value: string, number, boolean, NULL, `[list]` or `{object}`.
    fn value(&mut self) -> Result<UsingValue> {
        self.value_at_depth(0)
    }

    fn value_at_depth(&mut self, depth: usize) -> Result<UsingValue> {
        if depth > RECURSION_LIMIT {
            return Err(Error::syntax("value is nested too deeply"));
        }
        let token = self.parser.next_token();
        match token.token {
            Token::SingleQuotedString(s)
            | Token::EscapedStringLiteral(s)
            | Token::NationalStringLiteral(s) => Ok(UsingValue::Str(s)),
            Token::DollarQuotedString(d) => Ok(UsingValue::Str(d.value)),
            // JSON-style "text" arrives as a double-quoted identifier.
            Token::Word(w) if w.quote_style == Some('"') => Ok(UsingValue::Str(w.value)),
            Token::Number(n, _) => Ok(UsingValue::Number(n)),
            Token::Minus => match self.parser.next_token().token {
                Token::Number(n, _) => Ok(UsingValue::Number(format!("-{n}"))),
                other => Err(Error::syntax(format!(
                    "expected a number after '-', found {}",
                    describe_token(&other)
                ))),
            },
            Token::Plus => match self.parser.next_token().token {
                Token::Number(n, _) => Ok(UsingValue::Number(n)),
                other => Err(Error::syntax(format!(
                    "expected a number after '+', found {}",
                    describe_token(&other)
                ))),
            },
            Token::Word(w) if w.keyword == Keyword::TRUE => Ok(UsingValue::Bool(true)),
            Token::Word(w) if w.keyword == Keyword::FALSE => Ok(UsingValue::Bool(false)),
            Token::Word(w) if w.keyword == Keyword::NULL => Ok(UsingValue::Null),
            // A bare word such as `loss = warp` is taken as the string 'warp'.
            Token::Word(w) if w.quote_style.is_none() => Ok(UsingValue::Str(w.value)),
            Token::LBracket => self.list_until(Token::RBracket, "']'", depth),
            // `IN`-style tuples are accepted as lists.
            Token::LParen => self.list_until(Token::RParen, "')'", depth),
            Token::LBrace => {
                let mut fields = Vec::new();
                if !self.parser.consume_token(&Token::RBrace) {
                    loop {
                        let key = match self.parser.next_token().token {
                            Token::SingleQuotedString(s) => s,
                            Token::Word(w) => w.value,
                            other => {
                                return Err(Error::syntax(format!(
                                    "expected an object key such as \"host\", found {}",
                                    describe_token(&other)
                                )));
                            }
                        };
                        if !self.parser.consume_token(&Token::Colon)
                            && !self.parser.consume_token(&Token::Eq)
                        {
                            return Err(self.expected(&format!("':' after key {key}")));
                        }
                        let value = self.value_at_depth(depth + 1)?;
                        fields.push((key, value));
                        if self.parser.consume_token(&Token::RBrace) {
                            break;
                        }
                        if !self.parser.consume_token(&Token::Comma) {
                            return Err(self.expected("',' or '}' in an object"));
                        }
                    }
                }
                Ok(UsingValue::Object(fields))
            }
            other => Err(Error::syntax(format!(
                "expected a value (a string, number, boolean, list or object), found {}",
                describe_token(&other)
            ))),
        }
    }
}

impl DialectParser<'_> {
    /// The rest of a list whose opening bracket was consumed, up to `close`.
    fn list_until(&mut self, close: Token, close_text: &str, depth: usize) -> Result<UsingValue> {
        let mut items = Vec::new();
        if !self.parser.consume_token(&close) {
            loop {
                items.push(self.value_at_depth(depth + 1)?);
                if self.parser.consume_token(&close) {
                    break;
                }
                if !self.parser.consume_token(&Token::Comma) {
                    return Err(self.expected(&format!("',' or {close_text} in a list")));
                }
            }
        }
        Ok(UsingValue::List(items))
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn describe_token(token: &Token) -> String {
    match token {
        Token::EOF => "end of input".to_string(),
        other => format!("'{other}'"),
    }
}

/// One expression in PostgreSQL's dialect, for rewrites that build SQL text from parsed
/// pieces (so it parses back); None when it does not parse.
pub fn parse_expr(text: &str) -> Option<ast::Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .ok()
}

/// One query in PostgreSQL's dialect, for rewrites that build a query as text.
pub fn parse_query(text: &str) -> Result<Box<ast::Query>> {
    Ok(Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)?
        .parse_query()?)
}

/// The last part of a (function or table) name, lower case: `pg_catalog.UNNEST` is `unnest`.
pub fn last_name(name: &ObjectName) -> Option<String> {
    name.0
        .last()
        .and_then(|part| part.as_ident())
        .map(|i| i.value.to_ascii_lowercase())
}

/// The table name of `files.name`, or None for a name elsewhere: the tables recsql writes
/// are those of the built-in `files` database.
pub fn files_table_name(name: &ObjectName) -> Option<String> {
    match name.0.as_slice() {
        [db, table] if db.as_ident().is_some_and(|i| i.value == "files") => {
            table.as_ident().map(|i| i.value.clone())
        }
        _ => None,
    }
}

/// Reads `[project.]name[.version]` from the parts of an object name.
pub fn model_name_from_parts(name: &ObjectName) -> Result<ModelName> {
    let parts: Vec<Ident> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident().cloned())
        .collect();
    let version_of = |ident: &Ident| -> Option<u32> {
        if is_digits(&ident.value) {
            ident.value.parse().ok()
        } else {
            None
        }
    };
    match parts.as_slice() {
        [n] => Ok(ModelName {
            project: None,
            name: n.clone(),
            version: None,
        }),
        [a, b] => match version_of(b) {
            Some(v) => Ok(ModelName {
                project: None,
                name: a.clone(),
                version: Some(v),
            }),
            None => Ok(ModelName {
                project: Some(a.clone()),
                name: b.clone(),
                version: None,
            }),
        },
        [p, n, v] => match version_of(v) {
            Some(v) => Ok(ModelName {
                project: Some(p.clone()),
                name: n.clone(),
                version: Some(v),
            }),
            None => Err(Error::syntax(format!(
                "'{name}' is not a model name: expected [project.]model[.version]"
            ))),
        },
        _ => Err(Error::syntax(format!(
            "'{name}' is not a model name: expected [project.]model[.version]"
        ))),
    }
}

/// The options of `COPY ... TO STDOUT`, checked as PostgreSQL checks them.
fn copy_options(
    options: &[ast::CopyOption],
    legacy: &[ast::CopyLegacyOption],
) -> Result<CopyOptions> {
    use ast::{CopyLegacyCsvOption as Csv, CopyLegacyOption as Legacy, CopyOption as O};
    let unsupported = |what: &str| {
        Error::new(
            sqlstate::FEATURE_NOT_SUPPORTED,
            format!("COPY option {what} is not supported"),
        )
    };
    let mut format = None;
    let (mut header, mut delimiter, mut null, mut quote, mut escape) =
        (None, None, None, None, None);
    for o in options {
        match o {
            O::Format(f) => {
                format = Some(match f.value.to_ascii_lowercase().as_str() {
                    "text" => CopyFormat::Text,
                    "csv" => CopyFormat::Csv,
                    "binary" => CopyFormat::Binary,
                    other => {
                        return Err(Error::new(
                            sqlstate::INVALID_PARAMETER_VALUE,
                            format!(
                                "COPY format \"{other}\" not recognized; use text, csv or binary"
                            ),
                        ));
                    }
                })
            }
            O::Header(h) => header = Some(*h),
            O::Delimiter(c) => delimiter = Some(*c),
            O::Null(n) => null = Some(n.clone()),
            O::Quote(c) => quote = Some(*c),
            O::Escape(c) => escape = Some(*c),
            O::Encoding(e) if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {
            }
            other => return Err(unsupported(&other.to_string())),
        }
    }
    for o in legacy {
        match o {
            Legacy::Binary => format = Some(CopyFormat::Binary),
            Legacy::Header => header = Some(true),
            Legacy::Delimiter(c) => delimiter = Some(*c),
            Legacy::Null(n) => null = Some(n.clone()),
            Legacy::Csv(csv) => {
                format = Some(CopyFormat::Csv);
                for c in csv {
                    match c {
                        Csv::Header => header = Some(true),
                        Csv::Quote(q) => quote = Some(*q),
                        Csv::Escape(e) => escape = Some(*e),
                        other => return Err(unsupported(&other.to_string())),
                    }
                }
            }
            other => return Err(unsupported(&other.to_string())),
        }
    }
    let format = format.unwrap_or(CopyFormat::Text);
    let mut out = CopyOptions::new(format);
    let conflict =
        |what: &str, mode: &str| Error::syntax(format!("cannot specify {what} in {mode} mode"));
    if format == CopyFormat::Binary {
        for (given, what) in [
            (header.is_some(), "HEADER"),
            (delimiter.is_some(), "DELIMITER"),
            (null.is_some(), "NULL"),
        ] {
            if given {
                return Err(conflict(what, "BINARY"));
            }
        }
    }
    if format != CopyFormat::Csv {
        if quote.is_some() {
            return Err(Error::syntax("COPY QUOTE requires CSV mode"));
        }
        if escape.is_some() {
            return Err(Error::syntax("COPY ESCAPE requires CSV mode"));
        }
    }
    out.header = header.unwrap_or(false);
    out.delimiter = delimiter.unwrap_or(out.delimiter);
    out.null = null.unwrap_or(out.null);
    out.quote = quote.unwrap_or(out.quote);
    if escape.is_some_and(|e| e != out.quote) {
        return Err(unsupported("ESCAPE other than the quote character"));
    }
    for (c, what) in [(out.delimiter, "delimiter"), (out.quote, "quote")] {
        if !c.is_ascii() || matches!(c, '\r' | '\n') || (format == CopyFormat::Text && c == '\\') {
            return Err(Error::new(
                sqlstate::INVALID_PARAMETER_VALUE,
                format!(
                    "COPY {what} cannot be {c:?}; use a single ASCII character other than a newline"
                ),
            ));
        }
    }
    if format == CopyFormat::Csv && out.delimiter == out.quote {
        return Err(Error::new(
            sqlstate::INVALID_PARAMETER_VALUE,
            "COPY delimiter and quote must be different",
        ));
    }
    if out.null.contains(['\r', '\n']) {
        return Err(Error::new(
            sqlstate::INVALID_PARAMETER_VALUE,
            "COPY null representation cannot use newline or carriage return",
        ));
    }
    Ok(out)
}
