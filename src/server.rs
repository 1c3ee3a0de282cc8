//! The accept loop: one task per connection, pgwire on each, until `shutdown` resolves. Then it
//! stops accepting, waits for running statements to finish, closes the connections and
//! returns. Tests bind port 0 and own shutdown through the future they pass.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::error::Result;
use crate::session::Engine;
use crate::wire::{Credentials, Handlers, InFlight};

/// The stack of the threads that plan and run statements (the binary's runtime is built with
/// it). DataFusion plans expressions by recursion, so a statement nested as deep as
/// [`crate::sql`] allows (1000 levels) needs several megabytes; the default 2 MiB overflowed
/// at a chain of 200 additions in a debug build, which aborted the server. Only the pages a
/// thread touches are committed.
pub const THREAD_STACK_SIZE: usize = 64 << 20;

/// What a server needs besides its listener.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub credentials: Option<Credentials>,
    /// Bytes that queries may hold in memory for sorts, joins and aggregations before they
    /// spill to disk or fail with 53200; `None` for half of the machine's memory.
    pub memory_limit: Option<usize>,
}

/// How long shutdown waits for running statements before closing connections anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);
/// How long connections get to flush the end of their last result before they are closed.
const CLOSE_GRACE: Duration = Duration::from_millis(200);

/// Serves connections on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let engine = Engine::open(&config.data_dir, config.memory_limit)?;
    serve(listener, engine, config.credentials, shutdown).await;
    Ok(())
}

/// Serves an already opened engine (tests use it to restart over the same data dir).
pub async fn serve(
    listener: TcpListener,
    engine: Arc<Engine>,
    credentials: Option<Credentials>,
    shutdown: impl Future<Output = ()>,
) {
    let in_flight = Arc::new(InFlight::default());
    let jobs = engine.jobs().clone();
    let handlers = Arc::new(Handlers::new(engine, credentials, in_flight.clone()));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((socket, addr)) => {
                    let _ = socket.set_nodelay(true);
                    let handlers = handlers.clone();
                    connections.spawn(async move {
                        if let Err(e) = pgwire::tokio::process_socket(socket, None, handlers.clone()).await {
                            tracing::debug!(%addr, "connection ended with error: {e}");
                        }
                        handlers.connection_ended(addr);
                    });
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    tracing::info!("shutting down: waiting for running statements");
    if tokio::time::timeout(DRAIN_LIMIT, in_flight.wait_idle())
        .await
        .is_err()
    {
        tracing::warn!("statements still running after {DRAIN_LIMIT:?}; closing anyway");
    }
    // The last rows of a finished statement may still be on their way out.
    tokio::time::sleep(CLOSE_GRACE).await;
    connections.shutdown().await;
    // Training that is cut short is recorded as such (status error), not left as training.
    let _ = tokio::task::spawn_blocking(move || jobs.shutdown(DRAIN_LIMIT)).await;
    tracing::info!("shut down");
}

/// Binds `addr`, with an error that names the address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}
