//! `COPY ... FROM STDIN` on the wire: the uploads in progress, at most one per connection,
//! fed by the client's CopyData messages and finished on a blocking thread at CopyDone,
//! which answers `COPY n`. A failed, aborted or abandoned upload leaves nothing behind.

use std::collections::HashMap;
use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::Mutex;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::ClientInfo;
use pgwire::api::copy::CopyHandler;
use pgwire::api::results::{CopyResponse, Response, Tag};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};

use super::errors::to_pgwire;
use crate::datasource::file_tables::Upload;
use crate::error::{Error, sqlstate};

/// The uploads in progress, by connection.
#[derive(Debug, Default)]
pub struct Uploads {
    /// Each upload with the first error met while storing its data.
    running: Mutex<HashMap<SocketAddr, (Upload, Option<Error>)>>,
}

impl Uploads {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, (Upload, Option<Error>)>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers the upload of connection `addr` and asks the client for its data.
    pub fn begin(&self, addr: SocketAddr, upload: Upload) -> Response {
        let columns = upload.column_count();
        self.lock().insert(addr, (upload, None));
        Response::CopyIn(CopyResponse::new(0, columns, futures::stream::empty()))
    }

    /// Drops the upload of a connection that ended.
    pub fn forget(&self, addr: SocketAddr) {
        self.lock().remove(&addr);
    }
}

fn none_running() -> PgWireError {
    to_pgwire(Error::new(
        sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
        "no COPY FROM STDIN is in progress on this connection",
    ))
}

#[async_trait]
impl CopyHandler for Uploads {
    async fn on_copy_data<C>(&self, client: &mut C, data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // Errors wait for CopyDone: the client sends all its data first.
        if let Some((upload, error)) = self.lock().get_mut(&client.socket_addr())
            && error.is_none()
            && let Err(e) = upload.write(&data.data)
        {
            *error = Some(e);
        }
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (upload, error) = self
            .lock()
            .remove(&client.socket_addr())
            .ok_or_else(none_running)?;
        if let Some(e) = error {
            return Err(to_pgwire(e));
        }
        let rows = tokio::task::spawn_blocking(move || upload.finish())
            .await
            .map_err(|e| to_pgwire(Error::internal(format!("the upload stopped: {e}"))))?
            .map_err(to_pgwire)?;
        let tag = Tag::new("COPY").with_rows(rows as usize);
        client
            .send(PgWireBackendMessage::CommandComplete(tag.into()))
            .await?;
        Ok(())
    }

    async fn on_copy_fail<C>(&self, client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self.lock().remove(&client.socket_addr()) {
            Some((upload, _)) => to_pgwire(Error::new(
                sqlstate::QUERY_CANCELED,
                format!(
                    "COPY FROM of {} was aborted by the client ({}); nothing was created",
                    upload.table, fail.message
                ),
            )),
            None => none_running(),
        }
    }
}
