//! The rows of a model's source query on their way to a training job. A task on the async
//! runtime reads the query's batch stream and hands the batches, a few at a time, through a
//! bounded channel to the job, which turns each into interactions and frees it. So the whole
//! source is never held at once, and CREATE MODEL returns as soon as the first rows arrive.
//!
//! It only moves batches: it does not interpret columns (that is `jobs`) and never blocks an
//! async thread (only the job's own thread waits on the channel).

use datafusion::arrow::array::RecordBatch;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::error::{Error, Result, sqlstate};

/// Batches in flight between the reading task and the job: enough to keep both busy, few
/// enough that memory stays at a handful of batches.
const IN_FLIGHT: usize = 4;

enum Message {
    Batch(RecordBatch),
    Failed(Error),
    End,
}

/// The source rows of one training job, read in order. Iterating yields each batch, or the
/// error that stopped the reading; it must run off the async runtime (it blocks).
pub struct SourceRows {
    first: Option<RecordBatch>,
    rx: mpsc::Receiver<Message>,
    /// Set after the end mark or an error: iteration is over.
    done: bool,
}

impl SourceRows {
    /// Starts reading `stream` in the background and waits for its first non-empty batch.
    /// `Ok(None)` if the query returns no rows at all. A failure while reading is reported by
    /// the iterator, prefixed by `context`.
    pub async fn start(
        mut stream: SendableRecordBatchStream,
        context: &'static str,
    ) -> Result<Option<SourceRows>> {
        let failed = move |e: datafusion::error::DataFusionError| Error::from(e).context(context);
        let first = loop {
            match stream.next().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(failed(e)),
                Some(Ok(b)) if b.num_rows() == 0 => continue,
                Some(Ok(b)) => break b,
            }
        };
        let (tx, rx) = mpsc::channel(IN_FLIGHT);
        tokio::spawn(async move {
            while let Some(next) = stream.next().await {
                let message = match next {
                    Ok(b) if b.num_rows() == 0 => continue,
                    Ok(b) => Message::Batch(b),
                    Err(e) => Message::Failed(failed(e)),
                };
                let stop = matches!(message, Message::Failed(_));
                // A closed channel means the job is gone (cancelled or failed): stop reading.
                if tx.send(message).await.is_err() || stop {
                    return;
                }
            }
            let _ = tx.send(Message::End).await;
        });
        Ok(Some(SourceRows {
            first: Some(first),
            rx,
            done: false,
        }))
    }
}

impl Iterator for SourceRows {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        if let Some(b) = self.first.take() {
            return Some(Ok(b));
        }
        if self.done {
            return None;
        }
        let message = self.rx.blocking_recv();
        self.done = !matches!(message, Some(Message::Batch(_)));
        match message {
            Some(Message::Batch(b)) => Some(Ok(b)),
            Some(Message::Failed(e)) => Some(Err(e)),
            Some(Message::End) => None,
            // The reading task ended without the end mark: the server is shutting down.
            None => Some(Err(Error::new(
                sqlstate::ADMIN_SHUTDOWN,
                "reading the source rows was interrupted: the server is shutting down",
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
    use std::sync::Arc;

    fn batch(values: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))])
            .expect("valid batch")
    }

    fn stream(items: Vec<datafusion::error::Result<RecordBatch>>) -> SendableRecordBatchStream {
        let schema = batch(&[]).schema();
        Box::pin(RecordBatchStreamAdapter::new(
            schema,
            futures::stream::iter(items),
        ))
    }

    fn lengths(rows: SourceRows) -> Vec<std::result::Result<usize, String>> {
        rows.map(|r| r.map(|b| b.num_rows()).map_err(|e| e.message))
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_arrive_in_order_without_the_empty_ones() {
        let s = stream(vec![
            Ok(batch(&[])),
            Ok(batch(&[1, 2])),
            Ok(batch(&[])),
            Ok(batch(&[3])),
            Ok(batch(&[4, 5, 6])),
        ]);
        let rows = SourceRows::start(s, "source").await.unwrap().unwrap();
        let got = tokio::task::spawn_blocking(move || lengths(rows))
            .await
            .unwrap();
        assert_eq!(got, vec![Ok(2), Ok(1), Ok(3)]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_rows_is_none_and_an_early_failure_is_an_error() {
        let empty = stream(vec![Ok(batch(&[])), Ok(batch(&[]))]);
        assert!(SourceRows::start(empty, "source").await.unwrap().is_none());
        let failing = stream(vec![Err(datafusion::error::DataFusionError::Execution(
            "disk on fire".into(),
        ))]);
        let err = SourceRows::start(failing, "the source query fails")
            .await
            .err()
            .unwrap();
        assert!(
            err.message.starts_with("the source query fails: "),
            "{}",
            err.message
        );
        assert!(err.message.contains("disk on fire"), "{}", err.message);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failure_after_the_first_rows_ends_the_iteration_with_the_error() {
        let s = stream(vec![
            Ok(batch(&[1])),
            Ok(batch(&[2, 3])),
            Err(datafusion::error::DataFusionError::Execution(
                "connection reset".into(),
            )),
            Ok(batch(&[4])),
        ]);
        let rows = SourceRows::start(s, "source").await.unwrap().unwrap();
        let got = tokio::task::spawn_blocking(move || lengths(rows))
            .await
            .unwrap();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[..2], [Ok(1), Ok(2)]);
        let last = got[2].as_ref().unwrap_err();
        assert!(last.contains("connection reset"), "{last}");
    }
}
