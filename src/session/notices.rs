//! NOTICE messages raised while a statement runs (for example "user 999 is not in the
//! training data; recommending the most popular items"). The wire layer opens a scope per
//! statement and sends what was collected; code deeper down only calls [`notice`].

use std::sync::{Arc, Mutex};

tokio::task_local! {
    static NOTICES: Arc<Mutex<Vec<String>>>;
}

/// Records a notice for the statement running on this task (dropped if there is none).
pub fn notice(message: impl Into<String>) {
    let message = message.into();
    let _ = NOTICES.try_with(|n| n.lock().unwrap_or_else(|p| p.into_inner()).push(message));
}

/// Runs `f` collecting its notices; returns its output and the notices.
pub async fn collect<F: std::future::Future>(f: F) -> (F::Output, Vec<String>) {
    let store = Arc::new(Mutex::new(Vec::new()));
    let out = NOTICES.scope(store.clone(), f).await;
    let notices = std::mem::take(&mut *store.lock().unwrap_or_else(|p| p.into_inner()));
    (out, notices)
}
