//! SET, SHOW and RESET of run-time parameters on one connection. The values live in the
//! connection's client metadata (what they mean, and how they are checked, is
//! `crate::settings`'s); a change the client must know of is reported to it with
//! ParameterStatus, as PostgreSQL does, and SHOW answers one row of text. Nothing here is
//! shared between connections: DataFusion's options, which are, are only shown.

use std::fmt::Debug;
use std::sync::Arc;

use futures::{Sink, SinkExt};
use pgwire::api::ClientInfo;
use pgwire::api::Type;
use pgwire::api::portal::Format;
use pgwire::api::results::{DataRowEncoder, FieldInfo, QueryResponse, Response, Tag};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::startup::ParameterStatus;

use super::errors::to_pgwire;
use crate::settings::{self, Command, Metadata};

/// The columns `command` answers with, in `format`: one named after the parameter for
/// `SHOW name`, `name`, `setting` and `description` for `SHOW ALL`, none for SET and RESET.
pub fn fields(command: &Command, format: &Format) -> Vec<FieldInfo> {
    let names: Vec<String> = match command {
        Command::Show(Some(name)) => vec![
            settings::value(&Metadata::new(), name)
                .map_or_else(|| settings::canonical(name), |(shown, _)| shown),
        ],
        Command::Show(None) => vec!["name".into(), "setting".into(), "description".into()],
        Command::Set { .. } | Command::Reset(_) => vec![],
    };
    names
        .into_iter()
        .enumerate()
        .map(|(i, n)| FieldInfo::new(n, None, None, Type::TEXT, format.format_for(i)))
        .collect()
}

/// Carries out `command` on `client`'s session; `server` holds DataFusion's options, which
/// SHOW reads.
pub async fn run<C>(
    client: &mut C,
    command: &Command,
    format: &Format,
    server: &datafusion::config::ConfigOptions,
) -> PgWireResult<Response>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let rows: Vec<Vec<String>> = match command {
        Command::Show(Some(name)) => {
            let value = if settings::is_server_option(name) {
                settings::server_option(server, name)
            } else {
                settings::value(client.metadata(), name).map(|(_, v)| v)
            };
            let Some(value) = value else {
                return Err(to_pgwire(settings::unrecognized(name)));
            };
            vec![vec![value]]
        }
        Command::Show(None) => settings::all(client.metadata())
            .into_iter()
            .map(|(n, v, d)| vec![n, v, d])
            .collect(),
        Command::Set { .. } | Command::Reset(_) => {
            let reported = settings::apply(client.metadata_mut(), command).map_err(to_pgwire)?;
            for (name, value) in reported {
                client
                    .feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                        name, value,
                    )))
                    .await?;
            }
            let tag = if matches!(command, Command::Set { .. }) {
                "SET"
            } else {
                "RESET"
            };
            return Ok(Response::Execution(Tag::new(tag)));
        }
    };
    let fields = Arc::new(fields(command, format));
    let mut encoded = Vec::with_capacity(rows.len());
    for row in rows {
        let mut encoder = DataRowEncoder::new(fields.clone());
        for value in row {
            encoder.encode_field(&value)?;
        }
        encoded.push(Ok(encoder.take_row()));
    }
    Ok(Response::Query(QueryResponse::new(
        fields,
        futures::stream::iter(encoded),
    )))
}
