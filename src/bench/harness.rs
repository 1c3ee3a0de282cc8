//! The in-process server the wire-level benchmarks talk to: a temporary data dir, a server
//! on port 0, tokio-postgres clients, and waiting for a model version to complete. It
//! measures nothing itself.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use crate::server::{self, Config};

/// A server running in this process over a temporary data dir, removed on `stop`.
pub struct Harness {
    pub dir: PathBuf,
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

pub async fn connect(conn: &str) -> Result<Client, String> {
    let (client, connection) = tokio_postgres::connect(conn, NoTls)
        .await
        .map_err(|e| format!("{conn}: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

impl Harness {
    /// Starts a server whose `files` database is a fresh directory.
    pub async fn start(name: &str) -> Result<Harness, String> {
        let dir = std::env::temp_dir().join(format!("recsql-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("files")).map_err(|e| e.to_string())?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = Config {
            data_dir: dir.clone(),
            credentials: None,
            memory_limit: None,
        };
        let server = tokio::spawn(async move {
            let _ = server::run(listener, config, async {
                let _ = stopped.await;
            })
            .await;
        });
        Ok(Harness {
            dir,
            port,
            stop: Some(stop),
            server: Some(server),
        })
    }

    /// A new client connection.
    pub async fn client(&self) -> Result<Client, String> {
        connect(&format!(
            "host=127.0.0.1 port={} user=bench dbname=recsql",
            self.port
        ))
        .await
    }

    /// Copies a file into the `files` database as `table`.csv.
    pub fn add_file(&self, from: &Path, table: &str) -> Result<(), String> {
        std::fs::copy(from, self.dir.join(format!("files/{table}.csv")))
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", from.display()))
    }

    /// Writes a CSV into the `files` database as `table`.csv.
    pub fn write_file(&self, table: &str, csv: &str) -> Result<(), String> {
        std::fs::write(self.dir.join(format!("files/{table}.csv")), csv).map_err(|e| e.to_string())
    }

    /// Stops the server and removes its data dir.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until the newest version of model `name` is complete; returns its training time in
/// seconds as the models table reports it.
pub async fn wait_complete(c: &Client, name: &str) -> Result<f64, String> {
    loop {
        let row = c
            .query_one(
                "SELECT status, error, training_time FROM models WHERE name = $1 ORDER BY version DESC LIMIT 1",
                &[&name],
            )
            .await
            .map_err(|e| e.to_string())?;
        let status: String = row.get(0);
        match status.as_str() {
            "complete" => return Ok(row.get::<_, Option<f64>>(2).unwrap_or(f64::NAN)),
            "error" => {
                return Err(format!(
                    "training {name} failed: {:?}",
                    row.get::<_, Option<String>>(1)
                ));
            }
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// Runs a query whose rows are (user, item) in rank order within each user, and collects
/// each user's list.
pub async fn ranked_lists(
    c: &Client,
    sql: &str,
) -> Result<std::collections::HashMap<i64, Vec<i64>>, String> {
    let mut lists: std::collections::HashMap<i64, Vec<i64>> = Default::default();
    for row in c.query(sql, &[]).await.map_err(|e| format!("{sql}: {e}"))? {
        lists.entry(row.get(0)).or_default().push(row.get(1));
    }
    Ok(lists)
}

/// Runs a query whose rows are (user, item) pairs and groups the items by user.
pub async fn item_sets(
    c: &Client,
    sql: &str,
) -> Result<std::collections::HashMap<i64, std::collections::HashSet<i64>>, String> {
    let mut sets: std::collections::HashMap<i64, std::collections::HashSet<i64>> =
        Default::default();
    for row in c.query(sql, &[]).await.map_err(|e| format!("{sql}: {e}"))? {
        sets.entry(row.get(0)).or_default().insert(row.get(1));
    }
    Ok(sets)
}

/// Precision@k and AUC of each split of DESCRIBE model.metrics (test, train and the
/// popularity baseline).
pub async fn held_out_metrics(c: &Client, model: &str) -> Result<serde_json::Value, String> {
    let sql = format!("DESCRIBE {model}.metrics");
    let mut out = serde_json::Map::new();
    for msg in c
        .simple_query(&sql)
        .await
        .map_err(|e| format!("{sql}: {e}"))?
    {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = msg {
            let num = |col: &str| row.get(col).and_then(|v| v.parse::<f64>().ok());
            out.insert(
                row.get("split").unwrap_or_default().to_string(),
                serde_json::json!({ "precision_at_k": num("precision_at_k"), "auc": num("auc") }),
            );
        }
    }
    Ok(serde_json::Value::Object(out))
}
