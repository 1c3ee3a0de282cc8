//! The one error type of recsql: every failure carries a SQLSTATE and a message that names the
//! problem and, where one exists, the fix.
//!
//! Errors split into the user's mistakes (bad SQL, unknown names, bad values: class 0A/22/42/55
//! SQLSTATEs) and faults of recsql or of a remote system (XX000, 08xxx, 58xxx). This module maps
//! DataFusion's errors to SQLSTATEs so that the wire layer never has to guess. It does no I/O.

use std::fmt;

use datafusion::error::DataFusionError;

/// SQLSTATE codes used by recsql, named as in PostgreSQL's errcodes appendix.
pub mod sqlstate {
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const DATA_EXCEPTION: &str = "22000";
    pub const CARDINALITY_VIOLATION: &str = "21000";
    pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    pub const BAD_COPY_FILE_FORMAT: &str = "22P04";
    pub const SYNTAX_ERROR: &str = "42601";
    pub const SYNTAX_OR_ACCESS_RULE: &str = "42000";
    pub const UNDEFINED_TABLE: &str = "42P01";
    pub const DUPLICATE_TABLE: &str = "42P07";
    pub const DUPLICATE_COLUMN: &str = "42701";
    pub const UNDEFINED_COLUMN: &str = "42703";
    pub const UNDEFINED_FUNCTION: &str = "42883";
    pub const UNDEFINED_OBJECT: &str = "42704";
    pub const INVALID_SCHEMA_NAME: &str = "3F000";
    pub const DUPLICATE_OBJECT: &str = "42710";
    pub const DUPLICATE_DATABASE: &str = "42P04";
    pub const DATATYPE_MISMATCH: &str = "42804";
    pub const WRONG_OBJECT_TYPE: &str = "42809";
    pub const OBJECT_IN_USE: &str = "55006";
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: &str = "55000";
    pub const CONNECTION_EXCEPTION: &str = "08000";
    pub const SQLCLIENT_UNABLE_TO_ESTABLISH_CONNECTION: &str = "08001";
    pub const INVALID_PASSWORD: &str = "28P01";
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    pub const QUERY_CANCELED: &str = "57014";
    pub const ADMIN_SHUTDOWN: &str = "57P01";
    pub const OUT_OF_MEMORY: &str = "53200";
    pub const IO_ERROR: &str = "58030";
    pub const INTERNAL_ERROR: &str = "XX000";
}

/// An error with a SQLSTATE, a message and an optional hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same error with its message prefixed by what was being done: "{what}: {message}".
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    pub fn syntax(message: impl Into<String>) -> Self {
        Self::new(sqlstate::SYNTAX_ERROR, message)
    }

    pub fn invalid_value(message: impl Into<String>) -> Self {
        Self::new(sqlstate::INVALID_PARAMETER_VALUE, message)
    }

    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new(sqlstate::FEATURE_NOT_SUPPORTED, message)
    }

    pub fn undefined_object(message: impl Into<String>) -> Self {
        Self::new(sqlstate::UNDEFINED_OBJECT, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(sqlstate::INTERNAL_ERROR, message)
    }

    pub fn io(context: &str, err: std::io::Error) -> Self {
        Self::new(sqlstate::IO_ERROR, format!("{context}: {err}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<DataFusionError> for Error {
    fn from(err: DataFusionError) -> Self {
        from_datafusion(&err)
    }
}

/// Our error carried through DataFusion (from a function or a table), to come out whole at the
/// wire (see [`from_datafusion`]).
impl From<Error> for DataFusionError {
    fn from(e: Error) -> Self {
        DataFusionError::External(Box::new(e))
    }
}

impl From<datafusion::sql::sqlparser::parser::ParserError> for Error {
    fn from(err: datafusion::sql::sqlparser::parser::ParserError) -> Self {
        Error::syntax(strip_parser_prefix(&err.to_string()))
    }
}

fn strip_parser_prefix(msg: &str) -> String {
    msg.trim_start_matches("sql parser error: ").to_string()
}

/// Maps a DataFusion error, looking through context and wrapping layers, to a SQLSTATE.
pub fn from_datafusion(err: &DataFusionError) -> Error {
    let root = err.find_root();
    let message = root.to_string();
    match root {
        DataFusionError::SQL(e, _) => Error::syntax(strip_parser_prefix(&e.to_string())),
        DataFusionError::NotImplemented(m) => Error::not_supported(m.clone()),
        DataFusionError::Plan(_) | DataFusionError::SchemaError(_, _) if is_missing(&message) => {
            classify_missing(&message)
        }
        DataFusionError::Plan(m) => {
            if m.contains("Invalid function") || m.contains("No function matches") {
                Error::new(sqlstate::UNDEFINED_FUNCTION, m.clone())
            } else if m.contains("coerce") || m.contains("type") {
                Error::new(sqlstate::DATATYPE_MISMATCH, m.clone())
            } else {
                Error::new(sqlstate::SYNTAX_OR_ACCESS_RULE, m.clone())
            }
        }
        DataFusionError::SchemaError(_, _) => Error::new(sqlstate::SYNTAX_OR_ACCESS_RULE, message),
        DataFusionError::ArrowError(e, _) => match e.as_ref() {
            datafusion::arrow::error::ArrowError::CsvError(m) => Error::new(
                sqlstate::BAD_COPY_FILE_FORMAT,
                format!("malformed CSV file: {m}"),
            )
            .with_hint("every row of a CSV file must have as many fields as its header"),
            datafusion::arrow::error::ArrowError::ParseError(m)
            | datafusion::arrow::error::ArrowError::CastError(m) => {
                Error::new(sqlstate::INVALID_TEXT_REPRESENTATION, m.clone())
            }
            datafusion::arrow::error::ArrowError::DivideByZero => {
                Error::new("22012", "division by zero")
            }
            datafusion::arrow::error::ArrowError::ArithmeticOverflow(_) => {
                Error::new(sqlstate::NUMERIC_VALUE_OUT_OF_RANGE, "integer out of range")
            }
            _ => Error::new(sqlstate::DATA_EXCEPTION, message),
        },
        DataFusionError::ResourcesExhausted(m) => Error::new(sqlstate::OUT_OF_MEMORY, m.clone())
            .with_hint(
                "The query needs more memory than the server's limit: filter or aggregate earlier, \
                 or start recsql with a larger --memory-limit (RECSQL_MEMORY_LIMIT).",
            ),
        DataFusionError::IoError(e) => Error::new(sqlstate::IO_ERROR, e.to_string()),
        DataFusionError::External(e) => match e.downcast_ref::<Error>() {
            Some(ours) => ours.clone(),
            None => external(&message),
        },
        DataFusionError::Execution(m) if m.contains("CSV") || m.contains("csv") => {
            Error::new(sqlstate::BAD_COPY_FILE_FORMAT, m.clone())
        }
        DataFusionError::Execution(m)
            if m.contains("Scalar subquery returned more than one row") =>
        {
            Error::new(
                sqlstate::CARDINALITY_VIOLATION,
                "more than one row returned by a subquery used as an expression",
            )
        }
        // CREATE VIEW of a name that is taken: `Table 'v' already exists`.
        DataFusionError::Execution(m)
            if m.starts_with("Table '") && m.ends_with("already exists") =>
        {
            let name = m
                .trim_start_matches("Table '")
                .trim_end_matches("' already exists");
            Error::new(
                sqlstate::DUPLICATE_TABLE,
                format!("relation \"{name}\" already exists"),
            )
            .with_hint("CREATE OR REPLACE VIEW replaces a view; a model's name cannot be a view's")
        }
        DataFusionError::Execution(m) => Error::new(sqlstate::DATA_EXCEPTION, m.clone()),
        DataFusionError::Configuration(m) => Error::invalid_value(m.clone()),
        _ => Error::internal(message),
    }
}

fn is_missing(msg: &str) -> bool {
    msg.contains("not found") || msg.contains("No field named") || msg.contains("does not exist")
}

fn classify_missing(msg: &str) -> Error {
    let code = if msg.contains("No field named") || msg.contains("column") {
        sqlstate::UNDEFINED_COLUMN
    } else if msg.contains("table") || msg.contains("Table") {
        sqlstate::UNDEFINED_TABLE
    } else if msg.contains("schema") || msg.contains("Schema") {
        sqlstate::INVALID_SCHEMA_NAME
    } else {
        sqlstate::UNDEFINED_OBJECT
    };
    // DataFusion names tables with its catalog (`datafusion.demo.x`), which users never write.
    let msg = msg
        .trim_start_matches("Error during planning: ")
        .replace("'datafusion.", "'");
    let mut e = Error::new(code, msg);
    if code == sqlstate::UNDEFINED_TABLE || code == sqlstate::INVALID_SCHEMA_NAME {
        e = e.with_hint("SHOW DATABASES lists the databases; tables are named database.table");
    }
    e
}

fn external(message: &str) -> Error {
    let lower = message.to_ascii_lowercase();
    if lower.contains("connect") || lower.contains("timed out") || lower.contains("refused") {
        Error::new(sqlstate::CONNECTION_EXCEPTION, message)
    } else if lower.contains("does not exist") || lower.contains("doesn't exist") {
        Error::new(sqlstate::UNDEFINED_TABLE, message)
    } else {
        Error::internal(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_missing_table_and_column() {
        let e = from_datafusion(&DataFusionError::Plan("table 'x.y' not found".into()));
        assert_eq!(e.code, sqlstate::UNDEFINED_TABLE);
        let e = from_datafusion(&DataFusionError::SchemaError(
            Box::new(datafusion::common::SchemaError::FieldNotFound {
                field: Box::new(datafusion::common::Column::from_name("nope")),
                valid_fields: vec![],
            }),
            Box::new(None),
        ));
        assert_eq!(e.code, sqlstate::UNDEFINED_COLUMN);
    }

    #[test]
    fn looks_through_context() {
        let inner = DataFusionError::NotImplemented("LATERAL".into());
        let e = from_datafusion(&inner.context("planning"));
        assert_eq!(e.code, sqlstate::FEATURE_NOT_SUPPORTED);
    }

    #[test]
    fn our_errors_survive_a_round_trip_through_datafusion() {
        let ours = Error::invalid_value("bad").with_hint("fix it");
        let wrapped = DataFusionError::External(Box::new(ours.clone()));
        assert_eq!(from_datafusion(&wrapped), ours);
    }
}
