//! Startup and authentication: with no configured user any user name is accepted without a
//! password; with `--user/--password` the client must send that user and password (cleartext
//! password message, as PostgreSQL's `password` method).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::cleartext::CleartextPasswordAuthStartupHandler;
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, ServerParameterProvider,
    StartupHandler,
};
use pgwire::api::{ClientInfo, ConnectionManager};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::startup::ParameterStatus;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use crate::settings::SERVER_VERSION;

/// A user name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The server parameters sent after startup: a Postgres-like version psql understands.
pub struct Parameters(DefaultServerParameterProvider);

/// The startup parameters whose values differ from pgwire's defaults: recsql's server
/// version, and the search path and date style as SHOW answers them (`crate::settings`).
fn overrides() -> [(&'static str, &'static str); 3] {
    [
        ("server_version", SERVER_VERSION),
        ("search_path", crate::settings::DEFAULT_SEARCH_PATH),
        ("DateStyle", crate::settings::DEFAULT_DATE_STYLE),
    ]
}

impl Parameters {
    fn new() -> Self {
        let mut p = DefaultServerParameterProvider::default();
        let [version, search_path, date_style] = overrides().map(|(_, v)| v.to_string());
        p.server_version = version;
        p.search_path = search_path;
        p.date_style = date_style;
        Parameters(p)
    }
}

impl ServerParameterProvider for Parameters {
    fn server_parameters<C>(&self, client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        self.0.server_parameters(client)
    }
}

#[derive(Debug)]
pub struct StaticAuth(Credentials);

#[async_trait]
impl AuthSource for StaticAuth {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        match login.user() {
            Some(user) if user == self.0.user => {
                Ok(Password::new(None, self.0.password.as_bytes().to_vec()))
            }
            other => Err(PgWireError::InvalidPassword(
                other.unwrap_or_default().to_string(),
            )),
        }
    }
}

pub struct Open {
    connections: Arc<ConnectionManager>,
}

#[async_trait]
impl NoopStartupHandler for Open {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(self.connections.clone())
    }

    /// pgwire's open startup sends its default parameters; recsql's own values follow them
    /// and replace theirs, as a later ParameterStatus does.
    async fn post_startup<C>(
        &self,
        client: &mut C,
        _message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        use futures::SinkExt;
        for (name, value) in overrides() {
            client
                .feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                    name.to_string(),
                    value.to_string(),
                )))
                .await?;
        }
        Ok(())
    }
}

/// The startup handler: open, or cleartext password.
pub enum Startup {
    Open(Open),
    Password(Box<CleartextPasswordAuthStartupHandler<StaticAuth, Parameters>>),
}

impl Startup {
    pub fn new(credentials: Option<Credentials>, connections: Arc<ConnectionManager>) -> Self {
        match credentials {
            None => Startup::Open(Open { connections }),
            Some(c) => Startup::Password(Box::new(
                CleartextPasswordAuthStartupHandler::new(StaticAuth(c), Parameters::new())
                    .with_connection_manager(connections),
            )),
        }
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // The startup packet's `options` are checked before the client is let in, as
        // PostgreSQL refuses a connection with a wrong one.
        let options = match &message {
            PgWireFrontendMessage::Startup(startup) => match startup.parameters.get("options") {
                Some(options) => Some(crate::settings::startup_options(options).map_err(|e| {
                    let mut info = super::to_error_info(e);
                    info.severity = "FATAL".into();
                    PgWireError::UserError(Box::new(info))
                })?),
                None => None,
            },
            _ => None,
        };
        match self {
            Startup::Open(h) => h.on_startup(client, message).await?,
            Startup::Password(h) => h.on_startup(client, message).await?,
        }
        if let Some(options) = options {
            client.metadata_mut().extend(options);
        }
        Ok(())
    }
}
