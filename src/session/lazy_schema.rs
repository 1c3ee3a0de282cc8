//! A created database that connects on first use: after a restart, a remote database that is
//! down does not stop the server, and every access retries until it connects. It only
//! connects and delegates; it does not cache tables.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use tokio::sync::OnceCell;

use crate::catalog::DatabaseDef;
use crate::datasource;

pub struct LazySchema {
    def: DatabaseDef,
    data_dir: PathBuf,
    state: SessionState,
    inner: OnceCell<Arc<dyn SchemaProvider>>,
}

impl std::fmt::Debug for LazySchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazySchema")
            .field("name", &self.def.name)
            .finish()
    }
}

impl LazySchema {
    pub fn new(def: DatabaseDef, data_dir: PathBuf, state: SessionState) -> Self {
        LazySchema {
            def,
            data_dir,
            state,
            inner: OnceCell::new(),
        }
    }

    /// Starts connecting in the background, so the first query does not wait for it.
    pub fn warm_up(self: &Arc<Self>) {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let me = self.clone();
            handle.spawn(async move {
                if let Err(e) = me.connected().await {
                    tracing::warn!(database = %me.def.name, "not reachable yet: {e}");
                }
            });
        }
    }

    async fn connected(&self) -> Result<&Arc<dyn SchemaProvider>> {
        self.inner
            .get_or_try_init(|| async {
                datasource::attach(&self.def, &self.data_dir, &self.state)
                    .await
                    .map_err(|e| DataFusionError::External(Box::new(e)))
            })
            .await
    }
}

#[async_trait]
impl SchemaProvider for LazySchema {
    fn table_names(&self) -> Vec<String> {
        self.inner
            .get()
            .map(|s| s.table_names())
            .unwrap_or_default()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        self.connected().await?.table(name).await
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.get().is_some_and(|s| s.table_exist(name))
    }
}
