//! The one place where recsql errors and DataFusion/pgwire errors become Postgres
//! ErrorResponses with a SQLSTATE.

use datafusion::error::DataFusionError;
use pgwire::error::{ErrorInfo, PgWireError};

use crate::error::{Error, from_datafusion, sqlstate};

/// An ErrorResponse for one of recsql's errors.
pub fn to_pgwire(err: Error) -> PgWireError {
    PgWireError::UserError(Box::new(to_error_info(err)))
}

pub fn to_error_info(err: Error) -> ErrorInfo {
    let mut info = ErrorInfo::new("ERROR".to_string(), err.code.to_string(), err.message);
    info.hint = err.hint;
    info
}

/// Gives an error from DataFusion's pgwire service a fitting SQLSTATE; errors that already
/// carry one pass unchanged.
pub fn classify(err: PgWireError) -> PgWireError {
    match err {
        PgWireError::ApiError(e) => {
            if let Some(df) = e.downcast_ref::<DataFusionError>() {
                return to_pgwire(from_datafusion(df));
            }
            if let Some(ours) = e.downcast_ref::<Error>() {
                return to_pgwire(ours.clone());
            }
            let message = e.to_string();
            let code = if message.contains("sql parser error") || message.contains("Expected") {
                sqlstate::SYNTAX_ERROR
            } else if message.contains("does not exist") || message.contains("not found") {
                sqlstate::UNDEFINED_OBJECT
            } else if message.contains("Unsupported") || message.contains("not supported") {
                sqlstate::FEATURE_NOT_SUPPORTED
            } else {
                sqlstate::INTERNAL_ERROR
            };
            to_pgwire(Error::new(
                code,
                message.trim_start_matches("sql parser error: ").to_string(),
            ))
        }
        other => other,
    }
}
