//! Runs every `sql/*.slt` script over the wire against a fresh server, with the small
//! ratings in `files/` and (where the script needs them) the local PostgreSQL and MariaDB.

use std::path::PathBuf;

use async_trait::async_trait;
use sqllogictest::{DBOutput, DefaultColumnType};
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::common::*;

struct Wire {
    client: Client,
}

#[derive(Debug)]
struct WireError(String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

#[async_trait]
impl sqllogictest::AsyncDB for Wire {
    type Error = WireError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, WireError> {
        let messages = self
            .client
            .simple_query(sql)
            .await
            .map_err(|e| WireError(format!("{} {}", sqlstate(&e), message(&e))))?;
        let mut rows = Vec::new();
        let mut columns = 0;
        let mut is_query = false;
        let mut affected = 0;
        for m in messages {
            match m {
                SimpleQueryMessage::RowDescription(d) => {
                    is_query = true;
                    columns = d.len();
                }
                SimpleQueryMessage::Row(r) => {
                    is_query = true;
                    columns = r.len();
                    rows.push(
                        (0..r.len())
                            .map(|i| r.get(i).unwrap_or("NULL").to_string())
                            .collect(),
                    );
                }
                SimpleQueryMessage::CommandComplete(n) => affected = n,
                _ => {}
            }
        }
        if is_query {
            Ok(DBOutput::Rows {
                types: vec![DefaultColumnType::Any; columns],
                rows,
            })
        } else {
            Ok(DBOutput::StatementComplete(affected))
        }
    }

    async fn shutdown(&mut self) {}

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }
}

fn scripts() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sql");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("sql/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn sql_scripts() {
    let (pg, my) = ensure_remote_tables().await;
    let scripts = scripts();
    assert!(!scripts.is_empty(), "no sql/*.slt scripts found");
    for script in scripts {
        let text = std::fs::read_to_string(&script).unwrap();
        if (text.contains("ENGINE = 'postgres'") && !pg)
            || (text.contains("ENGINE = 'mysql'") && !my)
        {
            eprintln!(
                "SKIPPED: {} needs a local database that is not reachable",
                script.display()
            );
            continue;
        }
        let dir = temp_data_dir("slt");
        let server = TestServer::start(&dir).await;
        std::fs::create_dir_all(dir.join("files")).unwrap();
        std::fs::write(dir.join("files/ratings.csv"), small_ratings_csv()).unwrap();
        let conn = server.conn_string();
        let mut runner = sqllogictest::Runner::new(move || {
            let conn = conn.clone();
            async move {
                let client = connect(&conn).await.map_err(|e| WireError(e.to_string()))?;
                Ok::<_, WireError>(Wire { client })
            }
        });
        if let Err(e) = runner.run_file_async(&script).await {
            panic!("{}:\n{e}", script.display());
        }
        server.stop().await;
        eprintln!("ok: {}", script.display());
    }
}
