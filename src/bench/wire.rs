//! `recsql bench wire`: measures through the Postgres wire protocol, against a server it
//! starts in-process on port 0 over a temporary data dir: plain queries over a file and a
//! PostgreSQL table, CREATE MODEL to `complete`, full item_item and user_item answers,
//! single-user latency (p50/p95), and the same latency while another model trains.
//! Prints one JSON object. A benchmark, not a test: nothing here asserts timings.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::harness::{Harness, connect, wait_complete};

#[derive(Debug, Clone, clap::Args)]
pub struct WireArgs {
    /// A ratings CSV (userId, movieId, rating, ...) to train on; default: the demo database.
    #[arg(long)]
    pub ratings: Option<PathBuf>,
    /// PostgreSQL to load a 100k-row table into, for the plain-query figures.
    #[arg(
        long,
        default_value = "host=127.0.0.1 port=5432 user=postgres dbname=test"
    )]
    pub pg: String,
    /// Repetitions of each plain query.
    #[arg(long, default_value_t = 20)]
    pub repeat: usize,
    /// Single-user queries for the latency figures.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Train with `evaluation = true` (held-out metrics first), as the reference workflow does.
    #[arg(long)]
    pub evaluation: bool,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn time_query(c: &Client, sql: &str, repeat: usize) -> Result<(f64, usize), String> {
    let mut times = Vec::with_capacity(repeat);
    let mut rows = 0;
    for _ in 0..repeat {
        let t = Instant::now();
        rows = c
            .simple_query(sql)
            .await
            .map_err(|e| format!("{sql}: {e}"))?
            .len();
        times.push(ms(t.elapsed()));
    }
    times.sort_by(f64::total_cmp);
    Ok((percentile(&times, 0.5), rows))
}

async fn latencies(c: &Client, model: &str, users: &[i64]) -> Result<(f64, f64), String> {
    let stmt = c
        .prepare(&format!("SELECT * FROM {model} WHERE userId = $1"))
        .await
        .map_err(|e| e.to_string())?;
    let mut times = Vec::with_capacity(users.len());
    for u in users {
        let t = Instant::now();
        let rows = c.query(&stmt, &[u]).await.map_err(|e| e.to_string())?;
        times.push(ms(t.elapsed()));
        if rows.is_empty() {
            return Err(format!("no recommendations for user {u}"));
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((percentile(&times, 0.5), percentile(&times, 0.95)))
}

pub async fn run(a: &WireArgs) -> Result<serde_json::Value, String> {
    let h = Harness::start("bench-wire").await?;
    let dir = h.dir.clone();
    let c = h.client().await?;
    let mut out = serde_json::json!({ "repeat": a.repeat });

    // Plain queries over a 100k-row file and PostgreSQL table.
    let file = dir.join("files/ratings100k.csv");
    c.simple_query(&format!(
        "COPY (SELECT * FROM demo.movie_lens_ratings) TO '{}'",
        file.display()
    ))
    .await
    .map_err(|e| e.to_string())?;
    for (label, sql) in [
        ("file_count_ms", "SELECT count(*) FROM files.ratings100k"),
        (
            "file_limit_1000_ms",
            "SELECT * FROM files.ratings100k LIMIT 1000",
        ),
    ] {
        out[label] = time_query(&c, sql, a.repeat).await?.0.into();
    }
    match connect(&a.pg).await {
        Ok(pg) => {
            pg.batch_execute("DROP TABLE IF EXISTS recsql_bench_ratings; CREATE TABLE recsql_bench_ratings (\"userId\" BIGINT, \"movieId\" BIGINT, rating BIGINT, \"timestamp\" BIGINT)")
                .await
                .map_err(|e| e.to_string())?;
            let rows = c
                .query(
                    "SELECT userId, movieId, rating, timestamp FROM demo.movie_lens_ratings",
                    &[],
                )
                .await
                .map_err(|e| e.to_string())?;
            for chunk in rows.chunks(5000) {
                let values: Vec<String> = chunk
                    .iter()
                    .map(|r| {
                        format!(
                            "({},{},{},{})",
                            r.get::<_, i64>(0),
                            r.get::<_, i64>(1),
                            r.get::<_, i64>(2),
                            r.get::<_, i64>(3)
                        )
                    })
                    .collect();
                pg.batch_execute(&format!(
                    "INSERT INTO recsql_bench_ratings VALUES {}",
                    values.join(",")
                ))
                .await
                .map_err(|e| e.to_string())?;
            }
            let params =
                a.pg.split_whitespace()
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| {
                        let k = if k == "dbname" { "database" } else { k };
                        format!("\"{k}\": \"{v}\"")
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
            c.simple_query(&format!(
                "CREATE DATABASE pgbench WITH ENGINE = 'postgres', PARAMETERS = {{{params}}}"
            ))
            .await
            .map_err(|e| e.to_string())?;
            for (label, sql) in [
                (
                    "postgres_count_ms",
                    "SELECT count(*) FROM pgbench.recsql_bench_ratings",
                ),
                (
                    "postgres_limit_1000_ms",
                    "SELECT * FROM pgbench.recsql_bench_ratings LIMIT 1000",
                ),
            ] {
                out[label] = time_query(&c, sql, a.repeat).await?.0.into();
            }
            let _ = pg
                .batch_execute("DROP TABLE IF EXISTS recsql_bench_ratings")
                .await;
        }
        Err(e) => out["postgres_skipped"] = e.into(),
    }

    // The reference workflow.
    let source = match &a.ratings {
        Some(p) => {
            std::fs::copy(p, dir.join("files/bench_ratings.csv"))
                .map_err(|e| format!("{}: {e}", p.display()))?;
            "files (SELECT * FROM bench_ratings)"
        }
        None => "demo (SELECT * FROM movie_lens_ratings)",
    };
    let create = format!(
        "CREATE MODEL bench_model FROM {source} PREDICT movieId USING engine = 'lightfm', item_id = 'movieId', user_id = 'userId', threshold = 4, n_recommendations = 10, evaluation = {}",
        a.evaluation
    );
    let t = Instant::now();
    c.simple_query(&create).await.map_err(|e| e.to_string())?;
    let accepted = t.elapsed();
    wait_complete(&c, "bench_model").await?;
    out["create_model_accepted_ms"] = ms(accepted).into();
    out["create_model_to_complete_ms"] = ms(t.elapsed()).into();
    let (item_item, n) = time_query(
        &c,
        "SELECT * FROM bench_model WHERE recommender_type = 'item_item'",
        5,
    )
    .await?;
    out["item_item_all_ms"] = item_item.into();
    out["item_item_all_messages"] = n.into();
    let (user_item, n) = time_query(
        &c,
        "SELECT * FROM bench_model WHERE recommender_type = 'user_item'",
        5,
    )
    .await?;
    out["user_item_all_ms"] = user_item.into();
    out["user_item_all_messages"] = n.into();
    let users: Vec<i64> = c
        .query(
            "SELECT DISTINCT user_id FROM bench_model ORDER BY user_id",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|r| r.get(0))
        .take(a.queries)
        .collect();
    let (p50, p95) = latencies(&c, "bench_model", &users).await?;
    out["one_user_p50_ms"] = p50.into();
    out["one_user_p95_ms"] = p95.into();

    // The same while another model trains (from another connection).
    let trainer = h.client().await?;
    trainer
        .simple_query(&format!(
            "CREATE MODEL busy FROM {source} PREDICT movieId USING item_id = 'movieId', user_id = 'userId', threshold = 4, epochs = 100000"
        ))
        .await
        .map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (p50, p95) = latencies(&c, "bench_model", &users).await?;
    out["one_user_p50_while_training_ms"] = p50.into();
    out["one_user_p95_while_training_ms"] = p95.into();
    trainer
        .simple_query("DROP MODEL busy")
        .await
        .map_err(|e| e.to_string())?;

    h.stop().await;
    Ok(out)
}
