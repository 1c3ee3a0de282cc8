//! Cancel requests and `statement_timeout` for statements whose rows are still being
//! computed. pgwire cancels a statement only while its handler runs, and datafusion-postgres
//! times out only the planning; a query's rows are computed later, as they are sent (a `sum`
//! over a large table does all its work before its one row), so neither a cancel request nor
//! the timeout stopped it. Here a result's row stream takes the connection's cancel signal
//! when it starts, and the statement's deadline, and ends with PostgreSQL's `57014` error at
//! whichever comes first, dropping the computation. This module only watches for those; it
//! neither plans nor runs anything.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, Stream, StreamExt};
use pgwire::api::ConnectionHandle;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use tokio::time::Instant;

/// A boxed stream of wire items, as pgwire's results carry them.
pub type Items<T> = Pin<Box<dyn Stream<Item = PgWireResult<T>> + Send>>;

/// What stops a statement early.
#[derive(Clone, Default)]
pub struct Stops {
    /// The connection's cancel signal (None for a connection not registered for cancel
    /// requests, or where pgwire watches it itself).
    pub cancel: Option<Arc<ConnectionHandle>>,
    /// When `statement_timeout` runs out.
    pub deadline: Option<Instant>,
}

impl Stops {
    /// The deadline of a statement that starts now, for a `statement_timeout` of `timeout`.
    pub fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
        timeout.map(|t| Instant::now() + t)
    }
}

/// PostgreSQL's error for a statement that ran out of `statement_timeout`.
pub fn timed_out() -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        "57014".into(),
        "canceling statement due to statement timeout".into(),
    )))
}

/// Runs `work` until `deadline`, after which it is dropped and the timeout's error answers.
pub async fn within<T>(
    deadline: Option<Instant>,
    work: impl Future<Output = PgWireResult<T>>,
) -> PgWireResult<T> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, work)
            .await
            .unwrap_or_else(|_| Err(timed_out())),
        None => work.await,
    }
}

/// `items`, ended early by a cancel request or the deadline of `stops`.
pub fn stoppable<T: Send + 'static>(items: Items<T>, stops: &Stops) -> Items<T> {
    if stops.cancel.is_none() && stops.deadline.is_none() {
        return items;
    }
    let state = State {
        items: Some(items),
        stopped: stopped(stops.clone()),
    };
    Box::pin(stream::unfold(state, |mut state| async move {
        let mut items = state.items.take()?;
        tokio::select! {
            // A stop wins over a row that is ready at the same time.
            biased;
            error = &mut state.stopped => {
                drop(items);
                Some((Err(error), state))
            }
            item = items.next() => {
                let item = item?;
                state.items = Some(items);
                Some((item, state))
            }
        }
    }))
}

struct State<T> {
    /// None once the stream has ended (through the rows or a stop).
    items: Option<Items<T>>,
    stopped: BoxFuture<'static, PgWireError>,
}

/// Resolves, with the error to send, when a cancel request arrives for the connection or the
/// deadline passes. The handle's signal belongs to the statement that took it last: a later
/// statement on the same connection (a suspended portal's rows are sent across several
/// Execute messages) takes it over, and this one then no longer reads it as a cancel.
fn stopped(stops: Stops) -> BoxFuture<'static, PgWireError> {
    async move {
        let cancelled = async {
            match stops.cancel {
                Some(handle) => {
                    let signal = handle.start_query().await;
                    if signal.await.is_ok() {
                        return;
                    }
                    futures::future::pending::<()>().await
                }
                None => futures::future::pending::<()>().await,
            }
        };
        let expired = async {
            match stops.deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => futures::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = cancelled => PgWireError::QueryCanceled,
            () = expired => timed_out(),
        }
    }
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endless() -> Items<u32> {
        Box::pin(stream::unfold(0u32, |n| async move {
            tokio::task::yield_now().await;
            Some((Ok(n), n.wrapping_add(1)))
        }))
    }

    #[tokio::test]
    async fn a_cancel_request_ends_the_rows_with_an_error() {
        let handle = Arc::new(ConnectionHandle::new());
        let mut rows = stoppable(
            endless(),
            &Stops {
                cancel: Some(handle.clone()),
                deadline: None,
            },
        );
        assert_eq!(rows.next().await.and_then(Result::ok), Some(0));
        assert!(handle.cancel().await, "the stream armed the signal");
        match rows.next().await {
            Some(Err(PgWireError::QueryCanceled)) => {}
            other => panic!(
                "expected the cancel error, got {:?}",
                other.map(|r| r.is_ok())
            ),
        }
        assert!(rows.next().await.is_none(), "nothing follows the error");
    }

    #[tokio::test]
    async fn rows_end_as_they_would_without_a_request() {
        let handle = Arc::new(ConnectionHandle::new());
        let items: Items<u32> = Box::pin(stream::iter([Ok(1), Ok(2)]));
        let got: Vec<u32> = stoppable(
            items,
            &Stops {
                cancel: Some(handle),
                deadline: None,
            },
        )
        .map(|r| r.unwrap_or(0))
        .collect()
        .await;
        assert_eq!(got, [1, 2]);
    }

    #[tokio::test]
    async fn the_deadline_ends_the_rows_with_the_timeout_error() {
        let stops = Stops {
            cancel: None,
            deadline: Stops::deadline_after(Some(Duration::from_millis(20))),
        };
        let mut rows = stoppable(endless(), &stops);
        let mut seen = 0;
        let err = loop {
            match rows.next().await {
                Some(Ok(_)) => seen += 1,
                Some(Err(e)) => break e,
                None => panic!("the rows ended without the timeout"),
            }
        };
        assert!(seen > 0);
        assert!(err.to_string().contains("statement timeout"), "{err}");
        assert!(rows.next().await.is_none());
    }

    #[tokio::test]
    async fn a_later_statement_takes_the_signal_over() {
        let handle = Arc::new(ConnectionHandle::new());
        let mut first = stoppable(
            endless(),
            &Stops {
                cancel: Some(handle.clone()),
                deadline: None,
            },
        );
        assert!(first.next().await.is_some());
        // The next statement arms the signal for itself.
        let _next = handle.start_query().await;
        for _ in 0..3 {
            assert!(matches!(first.next().await, Some(Ok(_))));
        }
    }
}
