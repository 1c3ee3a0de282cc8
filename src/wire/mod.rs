//! The Postgres wire protocol: pgwire handlers for startup/authentication, the simple and the
//! extended query protocol, and cancel requests, with SQLSTATE mapping in one place
//! (`errors`). It carries statements to the session layer and results back; it holds no SQL
//! semantics of its own.

mod auth;
mod cancel;
mod copy_in;
mod copy_out;
mod cursor;
mod errors;
mod pg_text;
mod service;
mod settings_command;
mod typed_queries;

use std::sync::Arc;

use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::{ClientInfo, ConnectionManager, ErrorHandler, PgWireServerHandlers};
use pgwire::error::PgWireError;

pub use auth::Credentials;
pub use errors::{to_error_info, to_pgwire};
pub use service::{InFlight, RecsqlService};

use crate::session::Engine;

/// The handlers of every connection to one server.
pub struct Handlers {
    service: Arc<RecsqlService>,
    uploads: Arc<copy_in::Uploads>,
    startup: Arc<auth::Startup>,
    cancel: Arc<DefaultCancelHandler>,
}

impl Handlers {
    pub fn new(
        engine: Arc<Engine>,
        credentials: Option<Credentials>,
        in_flight: Arc<InFlight>,
    ) -> Self {
        let connections = Arc::new(ConnectionManager::new());
        let uploads = Arc::new(copy_in::Uploads::default());
        Handlers {
            service: Arc::new(RecsqlService::new(engine, in_flight, uploads.clone())),
            uploads,
            startup: Arc::new(auth::Startup::new(credentials, connections.clone())),
            cancel: Arc::new(DefaultCancelHandler::new(connections)),
        }
    }

    /// Forgets what a connection that ended left unfinished (an upload).
    pub fn connection_ended(&self, addr: std::net::SocketAddr) {
        self.uploads.forget(addr);
    }
}

struct LogErrors;

impl ErrorHandler for LogErrors {
    fn on_error<C>(&self, _client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        tracing::debug!("sending error: {error}");
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.service.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.service.clone()
    }

    fn copy_handler(&self) -> Arc<impl pgwire::api::copy::CopyHandler> {
        self.uploads.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(LogErrors)
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.cancel.clone()
    }
}
