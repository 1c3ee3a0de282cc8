//! A real recsql server on port 0 over a temporary data dir, and clients for it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use recsql::server::{self, Config};
use recsql::wire::Credentials;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

pub struct TestServer {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty data dir for one test.
pub fn temp_data_dir(tag: &str) -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("recsql-it-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("files")).expect("create temp data dir");
    dir
}

impl TestServer {
    pub async fn start(data_dir: &Path) -> TestServer {
        Self::start_with(data_dir, None).await
    }

    pub async fn start_with_memory_limit(data_dir: &Path, bytes: usize) -> TestServer {
        Self::start_config(data_dir, None, Some(bytes)).await
    }

    pub async fn start_with(data_dir: &Path, credentials: Option<Credentials>) -> TestServer {
        Self::start_config(data_dir, credentials, None).await
    }

    async fn start_config(
        data_dir: &Path,
        credentials: Option<Credentials>,
        memory_limit: Option<usize>,
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let config = Config {
            data_dir: data_dir.to_path_buf(),
            credentials,
            memory_limit,
        };
        let handle = tokio::spawn(async move {
            server::run(listener, config, async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        TestServer {
            addr,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn conn_string(&self) -> String {
        format!(
            "host={} port={} user=tester dbname=recsql",
            self.addr.ip(),
            self.addr.port()
        )
    }

    pub async fn connect(&self) -> Client {
        connect(&self.conn_string())
            .await
            .expect("connect to recsql")
    }

    /// Stops the server gracefully and waits until it has.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task ends cleanly");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A client whose NOTICE messages arrive on the returned channel.
pub async fn connect_with_notices(
    conn: &str,
) -> (Client, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use futures::StreamExt;
    let (client, mut connection) = tokio_postgres::connect(conn, NoTls).await.expect("connect");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notice(n) = m {
                let _ = tx.send(n.message().to_string());
            }
        }
    });
    (client, rx)
}

pub async fn connect(conn: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(conn, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The SQLSTATE of an error from the server.
pub fn sqlstate(err: &tokio_postgres::Error) -> String {
    err.code()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| format!("no SQLSTATE: {err}"))
}

/// The message of an error from the server.
pub fn message(err: &tokio_postgres::Error) -> String {
    err.as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_else(|| err.to_string())
}

/// Whether a local service a test needs is up. Under CI=true a missing service fails the test;
/// elsewhere the test is skipped with a line saying why.
pub fn service_available(name: &str, up: bool) -> bool {
    if up {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{name} is not reachable, and CI=true requires it");
    }
    eprintln!(
        "SKIPPED: {name} is not reachable on this machine; the test that needs it did not run"
    );
    false
}

pub const LOCAL_PG: &str = "host=127.0.0.1 port=5432 user=postgres dbname=test";

pub async fn local_postgres() -> Option<Client> {
    let client = connect(LOCAL_PG).await.ok();
    service_available("PostgreSQL on 127.0.0.1:5432", client.is_some()).then_some(client?)
}

/// Runs SQL on the local MariaDB through its command-line client.
pub fn mariadb(sql: &str) -> Result<String, String> {
    let out = std::process::Command::new("mariadb")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            "3306",
            "-u",
            "root",
            "--batch",
            "test",
            "-e",
            sql,
        ])
        .output()
        .map_err(|e| format!("cannot run mariadb client: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

pub fn local_mariadb() -> bool {
    service_available("MariaDB on 127.0.0.1:3306", mariadb("SELECT 1").is_ok())
}

/// Small deterministic ratings: user u rates items (u * 7 + k) % 50 for k in 0..10.
pub fn small_ratings() -> Vec<(i64, i64, i64)> {
    let mut rows = Vec::new();
    for u in 1..=30i64 {
        for k in 0..10i64 {
            let item = (u * 7 + k) % 50 + 1;
            rows.push((u, item, (u + k) % 5 + 1));
        }
    }
    rows
}

pub fn small_ratings_csv() -> String {
    let mut s = String::from("userId,movieId,rating\n");
    for (u, i, r) in small_ratings() {
        s.push_str(&format!("{u},{i},{r}\n"));
    }
    s
}

pub fn small_ratings_values() -> String {
    small_ratings()
        .iter()
        .map(|(u, i, r)| format!("({u},{i},{r})"))
        .collect::<Vec<_>>()
        .join(",")
}

static REMOTE_TABLES: tokio::sync::OnceCell<(bool, bool)> = tokio::sync::OnceCell::const_new();

/// Creates `movie_lens_ratings` (the small ratings) in the local PostgreSQL and MariaDB, once
/// per test process. Returns which of the two are available.
pub async fn ensure_remote_tables() -> (bool, bool) {
    *REMOTE_TABLES
        .get_or_init(|| async {
            let pg = match local_postgres().await {
                Some(client) => {
                    client
                        .batch_execute(&format!(
                            "DROP TABLE IF EXISTS movie_lens_ratings;
                             CREATE TABLE movie_lens_ratings (\"userId\" BIGINT NOT NULL, \"movieId\" BIGINT NOT NULL, rating BIGINT NOT NULL);
                             INSERT INTO movie_lens_ratings VALUES {};
                             DROP TABLE IF EXISTS recsql_docs;
                             CREATE TABLE recsql_docs (id INT, doc JSONB);
                             INSERT INTO recsql_docs VALUES (1, '{{\"genre\": \"drama\", \"tags\": [\"a\"]}}'), (2, '{{\"genre\": \"comedy\"}}');
                             DROP TABLE IF EXISTS recsql_dates;
                             CREATE TABLE recsql_dates (id INT, d DATE);
                             INSERT INTO recsql_dates VALUES (1, '2024-01-01'), (2, '2024-01-03');",
                            small_ratings_values()
                        ))
                        .await
                        .expect("create movie_lens_ratings, recsql_docs and recsql_dates in PostgreSQL");
                    true
                }
                None => false,
            };
            let my = local_mariadb();
            if my {
                mariadb(&format!(
                    "DROP TABLE IF EXISTS movie_lens_ratings;
                     CREATE TABLE movie_lens_ratings (userId BIGINT NOT NULL, movieId BIGINT NOT NULL, rating BIGINT NOT NULL);
                     INSERT INTO movie_lens_ratings VALUES {};",
                    small_ratings_values()
                ))
                .expect("create movie_lens_ratings in MariaDB");
            }
            (pg, my)
        })
        .await
}

pub const CREATE_PG: &str = "CREATE DATABASE pg_src WITH ENGINE = 'postgres', PARAMETERS = {\"host\": \"127.0.0.1\", \"port\": 5432, \"user\": \"postgres\", \"password\": \"\", \"database\": \"test\"}";
pub const CREATE_MY: &str = "CREATE DATABASE mysql_demo_db WITH ENGINE = 'mysql', PARAMETERS = {\"host\": \"127.0.0.1\", \"port\": 3306, \"user\": \"root\", \"password\": \"\", \"database\": \"test\"}";

/// The rows of a simple query's messages, NULL as `NULL`.
pub fn rows_of(messages: &[tokio_postgres::SimpleQueryMessage]) -> Vec<Vec<String>> {
    messages
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}
