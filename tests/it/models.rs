//! Models through the wire: the reference workflow, its answers, its errors, and restarts.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::common::*;

/// Waits until the active version of `name` leaves generating/training; returns its status.
pub async fn wait_trained(client: &Client, name: &str) -> (String, Option<String>) {
    let started = Instant::now();
    loop {
        let row = client
            .query_one(
                "SELECT status, error FROM models WHERE name = $1 AND active",
                &[&name],
            )
            .await
            .unwrap();
        let status: String = row.get(0);
        if status != "generating" && status != "training" {
            return (status, row.get(1));
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{name} still {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const CREATE_SMALL: &str = "CREATE MODEL m FROM files (SELECT * FROM ratings) PREDICT movieId \
    USING engine = 'lightfm', item_id = 'movieId', user_id = 'userId', threshold = 1, \
    n_recommendations = 10, evaluation = true, num_threads = 1, epochs = 20";

async fn small_model(tag: &str) -> (TestServer, Client, std::path::PathBuf) {
    let dir = temp_data_dir(tag);
    std::fs::write(dir.join("files/ratings.csv"), small_ratings_csv()).unwrap();
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    client
        .simple_query("CREATE ML_ENGINE lightfm FROM lightfm")
        .await
        .unwrap();
    let rows = client.query(CREATE_SMALL, &[]).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>("status"), "generating");
    assert_eq!(wait_trained(&client, "m").await, ("complete".into(), None));
    (server, client, dir)
}

#[tokio::test]
async fn reference_workflow_answers() {
    let (server, client, _dir) = small_model("workflow").await;
    let seen: HashSet<(i64, i64)> = small_ratings().iter().map(|r| (r.0, r.1)).collect();

    // user_item for every user: 10 unseen items each, ranks 1..10, best first.
    let rows = client
        .query(
            "SELECT user_id, item_id, score, rank FROM m WHERE recommender_type = 'user_item'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 30 * 10);
    for r in &rows {
        let (u, i): (i64, i64) = (r.get(0), r.get(1));
        assert!(
            !seen.contains(&(u, i)),
            "user {u} was recommended item {i} they rated"
        );
    }
    for w in rows.windows(2) {
        if w[0].get::<_, i64>(0) == w[1].get::<_, i64>(0) {
            assert!(w[0].get::<_, f32>(2) >= w[1].get::<_, f32>(2));
            assert_eq!(w[0].get::<_, i32>(3) + 1, w[1].get::<_, i32>(3));
        }
    }
    // exclude_seen = false brings rated items back.
    let rows = client
        .query("SELECT b.* FROM m b WHERE userId = 3 USING exclude_seen = false, n_recommendations = 50", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 50);
    assert!(rows.iter().any(|r| seen.contains(&(3, r.get::<_, i64>(1)))));

    // One user, through a prepared statement with a parameter.
    let stmt = client
        .prepare("SELECT b.* FROM m b WHERE userId = $1 USING recommender_type = 'user_item'")
        .await
        .unwrap();
    let names: Vec<&str> = stmt.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, vec!["user_id", "item_id", "score", "rank"]);
    for u in [1i64, 7, 30] {
        let rows = client.query(&stmt, &[&u]).await.unwrap();
        assert_eq!(rows.len(), 10);
        assert!(rows.iter().all(|r| r.get::<_, i64>(0) == u));
    }
    // IN lists and user_item for one item across users.
    let rows = client
        .query("SELECT * FROM m WHERE userId IN (1, 2, 3)", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 30);
    let rows = client
        .query("SELECT * FROM m WHERE userId = 2 AND movieId = 50", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let rows = client
        .query("SELECT * FROM m WHERE movieId = 20", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 30);

    // item_item: 10 per item, never the item itself.
    let rows = client
        .query(
            "SELECT b.* FROM m b WHERE recommender_type = 'item_item'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 50 * 10);
    assert!(
        rows.iter()
            .all(|r| r.get::<_, i64>(0) != r.get::<_, i64>(1))
    );
    let rows = client
        .query(
            "SELECT b.* FROM m b WHERE movieId = 10 USING recommender_type = 'item_item'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().all(|r| r.get::<_, i64>(0) == 10));
    // user_user.
    let rows = client
        .query("SELECT * FROM m WHERE userId = 4 USING recommender_type = 'user_user', n_recommendations = 3", &[])
        .await
        .unwrap();
    let names: Vec<String> = rows
        .iter()
        .map(|r| format!("{}", r.get::<_, i64>(1)))
        .collect();
    assert_eq!(rows.len(), 3, "{names:?}");

    // The prediction join: the distinct users of the filtered table, 10 rows each.
    let rows = client
        .query(
            "SELECT b.* FROM files.ratings a JOIN m AS b WHERE a.userId IN (5, 6)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 20);
    let users: HashSet<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(users, HashSet::from([5, 6]));
    let rows = client
        .query(
            "SELECT a.userId, b.item_id FROM files.ratings a JOIN m AS b WHERE a.userId = 5",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 10);
    let err = client
        .query(
            "SELECT a.rating, b.* FROM files.ratings a JOIN m AS b WHERE a.userId = 5",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42703");
    assert!(
        message(&err).contains("prediction join"),
        "{}",
        message(&err)
    );

    // A model is a table: ORDER BY, LIMIT and joins with ON work.
    let rows = client
        .query(
            "SELECT b.item_id, d.title FROM m b JOIN demo.movies d ON d.movieId = b.item_id WHERE b.userId = 9 ORDER BY b.score DESC LIMIT 3",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);

    // DESCRIBE and its attributes.
    let info = client.query_one("DESCRIBE m.info", &[]).await.unwrap();
    let auc: f64 = info.get("auc");
    assert!((0.0..=1.0).contains(&auc));
    assert_eq!(info.get::<_, String>("user_id"), "userId");
    let features = client.query_one("DESCRIBE m.features", &[]).await.unwrap();
    assert_eq!(features.get::<_, String>("n_users_items"), "[30, 50]");
    let metrics = client.query("DESCRIBE m.metrics", &[]).await.unwrap();
    let splits: Vec<String> = metrics.iter().map(|r| r.get(0)).collect();
    assert_eq!(splits, vec!["test", "train", "popularity_baseline"]);
    assert_eq!(
        client
            .query("DESCRIBE m.training", &[])
            .await
            .unwrap()
            .len(),
        20
    );
    client.query_one("DESCRIBE MODEL m", &[]).await.unwrap();
    let err = client.query("DESCRIBE m.nonsense", &[]).await.unwrap_err();
    assert!(message(&err).contains("nonsense"), "{}", message(&err));
    assert!(
        err.as_db_error()
            .and_then(|e| e.hint())
            .unwrap_or_default()
            .contains("metrics")
    );
    // SHOW MODELS and the models table.
    let rows = client.query("SHOW MODELS LIKE 'm%'", &[]).await.unwrap();
    assert_eq!(rows.len(), 1);
    let count = |sql: &'static str| {
        let client = &client;
        async move { client.query(sql, &[]).await.unwrap().len() }
    };
    assert_eq!(count("SHOW MODELS WHERE status = 'complete'").await, 1);
    assert_eq!(count("SHOW MODELS LIKE 'm%' WHERE version > 1").await, 0);
    assert_eq!(count("SHOW MODELS FROM mindsdb LIKE 'zz%'").await, 0);
    // SHOW TABLES lists the project's models, or a database's tables, as MindsDB does.
    let names = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
        rows.iter().map(|r| r.get::<_, String>(0)).collect()
    };
    let rows = client.query("SHOW TABLES", &[]).await.unwrap();
    assert_eq!(rows[0].columns()[0].name(), "Tables_in_mindsdb");
    assert_eq!(names(rows), ["m", "models"]);
    let rows = client
        .query(
            "SHOW FULL TABLES FROM files WHERE Table_type = 'BASE TABLE'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(names(rows), ["ratings"]);
    let err = client
        .query("SHOW TABLES FROM nowhere", &[])
        .await
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("3D000"));
    let rows = client
        .query("SELECT name, training_time FROM mindsdb.models", &[])
        .await
        .unwrap();
    assert!(rows[0].get::<_, Option<f64>>(1).is_some());
    server.stop().await;
}

#[tokio::test]
async fn bad_input_is_an_error_and_nothing_is_lost() {
    let (server, client, _dir) = small_model("badmodel").await;
    let create = |using: &str| {
        format!("CREATE MODEL x FROM files (SELECT * FROM ratings) PREDICT movieId USING {using}")
    };
    let cases: Vec<(String, &str, &str)> = vec![
        (create("user_id = 'userId', item_id = 'movieId', epoch = 3"), "22023", "epochs"),
        (create("user_id = 'userId', item_id = 'movieId', epochs = 'many'"), "22023", "epochs"),
        (create("user_id = 'userId', item_id = 'movieId', loss = 'hinge'"), "22023", "warp"),
        (create("user_id = 'user', item_id = 'movieId'"), "42703", "user"),
        (create("item_id = 'movieId'"), "22023", "user_id"),
        (create("user_id = 'userId', item_id = 'movieId', engine = 'nope'"), "42704", "nope"),
        (
            "CREATE MODEL x FROM files (SELECT * FROM ratings WHERE userId < 0) PREDICT movieId USING user_id = 'userId', item_id = 'movieId'".into(),
            "22000",
            "no rows",
        ),
        (
            "CREATE MODEL x FROM files (SELECT * FROM no_such_file) PREDICT movieId USING user_id = 'userId', item_id = 'movieId'".into(),
            "42P01",
            "source query",
        ),
        (CREATE_SMALL.into(), "42710", "already exists"),
        ("SELECT * FROM no_such_model USING n_recommendations = 3".into(), "42P01", "model"),
        ("SELECT * FROM m WHERE userId = 1 USING n_recommendations = 0".into(), "22023", "n_recommendations"),
        ("SELECT * FROM m WHERE userId = 1 USING n_recommendations = 1000000000".into(), "22023", "n_recommendations"),
        ("SELECT * FROM m WHERE userId = 1 USING recommender_type = 'foo'".into(), "22023", "recommender_type"),
        ("SELECT * FROM m WHERE userId = 1 USING colour = 'red'".into(), "22023", "colour"),
        ("SELECT * FROM m WHERE userId = 999 USING cold_start = 'error'".into(), "42704", "999"),
        ("SELECT * FROM m WHERE movieId = 999 USING recommender_type = 'item_item'".into(), "42704", "999"),
        ("SELECT * FROM m WHERE userId = 'abc'".into(), "22", ""),
        ("DESCRIBE no_such_model.info".into(), "42", ""),
        ("DROP MODEL no_such_model".into(), "42P01", "does not exist"),
        ("DROP ML_ENGINE lightfm".into(), "55006", "used by model"),
        ("CREATE ML_ENGINE lightfm FROM lightfm".into(), "42710", "already exists"),
        ("CREATE ML_ENGINE e2 FROM tensorflow".into(), "22023", "tensorflow"),
    ];
    for (sql, code, needle) in cases {
        let err = client.simple_query(&sql).await.unwrap_err();
        assert!(
            sqlstate(&err).starts_with(code),
            "{sql}: {} {}",
            sqlstate(&err),
            message(&err)
        );
        let text = format!(
            "{} {}",
            message(&err),
            err.as_db_error().and_then(|e| e.hint()).unwrap_or_default()
        );
        assert!(text.contains(needle), "{sql}: {text}");
    }
    // An unknown user gets the most popular items (cold start) with a NOTICE saying so.
    let (noticed, mut notices) = connect_with_notices(&server.conn_string()).await;
    let rows = noticed
        .query("SELECT * FROM m WHERE userId = 999", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 10);
    let notice = notices.recv().await.unwrap();
    assert!(
        notice.contains("user 999 is not in the training data")
            && notice.contains(": answered with the most popular items"),
        "{notice}"
    );
    noticed
        .simple_query("SELECT * FROM m WHERE userId IN (998, 1)")
        .await
        .unwrap();
    assert!(notices.recv().await.unwrap().contains("998"));
    // The good model still answers; nothing was created by the failures.
    assert_eq!(
        client
            .query("SELECT * FROM m WHERE userId = 1", &[])
            .await
            .unwrap()
            .len(),
        10
    );
    let names: Vec<String> = client
        .query("SELECT name FROM models", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, vec!["m".to_string()]);
    server.stop().await;
}

/// The source rows are read while the model trains: a row that breaks the query after the
/// first ones fails the model's training with the query's error, and the server lives on.
#[tokio::test]
async fn a_source_that_fails_while_it_is_read_fails_the_model() {
    let dir = temp_data_dir("badsource");
    let mut csv = String::from("userId,movieId,rating\n");
    for r in 0..20_000 {
        csv += &format!("{},{},{}\n", r % 97, r % 89, 1 + r % 5);
    }
    csv += "17,not_a_number,4\n";
    std::fs::write(dir.join("files/late_error.csv"), csv).unwrap();
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    let rows = client
        .query(
            "CREATE MODEL late FROM files (SELECT * FROM late_error) PREDICT movieId \
             USING engine = 'lightfm', user_id = 'userId', item_id = 'movieId'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, String>("status"), "generating");
    let (status, error) = wait_trained(&client, "late").await;
    assert_eq!(status, "error");
    let error = error.unwrap_or_default();
    assert!(
        error.starts_with("the source query of the model fails") && error.contains("not_a_number"),
        "{error}"
    );
    let err = client
        .query("SELECT * FROM late WHERE userId = 1", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "55000", "{}", message(&err));
    server.stop().await;
}

#[tokio::test]
async fn a_training_model_is_not_ready_and_drop_cancels_it() {
    let dir = temp_data_dir("slow");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    client
        .simple_query("CREATE MODEL slow FROM demo (SELECT * FROM movie_lens_ratings) PREDICT movieId USING user_id = 'userId', item_id = 'movieId', threshold = 4, epochs = 100000, num_threads = 1")
        .await
        .unwrap();
    // Other clients are answered while it trains.
    let other = server.connect().await;
    let n: i64 = other
        .query_one("SELECT count(*) FROM demo.movies", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1682);
    let err = client
        .query("SELECT * FROM slow WHERE userId = 1", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "55000", "{}", message(&err));
    client.simple_query("DROP MODEL slow").await.unwrap();
    assert!(
        client
            .query("SELECT * FROM models", &[])
            .await
            .unwrap()
            .is_empty()
    );
    let started = Instant::now();
    server.stop().await;
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(!dir.join("models/mindsdb/slow/v1.model").exists());
}

#[tokio::test]
async fn restart_and_kill_keep_complete_models_and_fail_interrupted_ones() {
    let (server, client, dir) = small_model("restart").await;
    let query =
        "SELECT user_id, item_id, score FROM m WHERE userId IN (1, 2) ORDER BY user_id, rank";
    let before: Vec<(i64, i64, f32)> = client
        .query(query, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    server.stop().await;

    // A real process, killed with SIGKILL while a second model trains.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_recsql"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(&dir)
            .env("RECSQL_LOG", "warn")
            .spawn()
            .expect("start recsql")
    };
    let conn = format!("host=127.0.0.1 port={port} user=t dbname=recsql");
    let connect_retry = || async {
        for _ in 0..100 {
            if let Ok(c) = connect(&conn).await {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("recsql did not start");
    };
    let mut child = spawn();
    let client = connect_retry().await;
    client
        .simple_query("CREATE MODEL slow FROM demo (SELECT * FROM movie_lens_ratings) PREDICT movieId USING user_id = 'userId', item_id = 'movieId', epochs = 100000")
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    let mut child = spawn();
    let client = connect_retry().await;
    let after: Vec<(i64, i64, f32)> = client
        .query(query, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(before, after);
    let row = client
        .query_one("SELECT status, error FROM models WHERE name = 'slow'", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "error");
    assert!(row.get::<_, String>(1).contains("interrupted by restart"));
    let err = client
        .query("SELECT * FROM slow WHERE userId = 1", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "55000");
    // SIGTERM: a graceful exit with status 0.
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn text_ids_keep_their_type() {
    let dir = temp_data_dir("textids");
    let mut csv = String::from("customer,product,stars\n");
    for u in 0..40 {
        for k in 0..8 {
            csv.push_str(&format!("c{u},p{},{}\n", (u * 3 + k) % 30, (u + k) % 5 + 1));
        }
    }
    std::fs::write(dir.join("files/orders.csv"), csv).unwrap();
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    client
        .simple_query("CREATE MODEL t FROM files (SELECT * FROM orders) PREDICT product USING user_id = 'customer', item_id = 'product', rating_column = 'stars', threshold = 3, num_threads = 1")
        .await
        .unwrap();
    assert_eq!(wait_trained(&client, "t").await.0, "complete");
    let rows = client
        .query(
            "SELECT user_id, item_id FROM t WHERE customer = $1",
            &[&"c3"],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 10);
    assert!(
        rows.iter()
            .all(|r| r.get::<_, String>(0) == "c3" && r.get::<_, String>(1).starts_with('p'))
    );
    let rows = client
        .query(
            "SELECT * FROM t WHERE product = 'p4' AND recommender_type = 'item_item'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 10);
    let err = client
        .query("SELECT * FROM t WHERE customer = 3", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42804", "{}", message(&err));
    server.stop().await;
}

/// Reads everything a `COPY ... TO STDOUT` sends.
async fn copy_out(client: &Client, sql: &str) -> Result<Vec<u8>, tokio_postgres::Error> {
    use futures::StreamExt;
    let stream = client.copy_out(sql).await?;
    futures::pin_mut!(stream);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

#[tokio::test]
async fn copy_to_stdout_streams_answers_and_tables() {
    let (server, client, _dir) = small_model("copy").await;

    // A model's answers as CSV with a header, the same as the query gives.
    let csv = copy_out(
        &client,
        "COPY (SELECT * FROM m WHERE userId = 1) TO STDOUT WITH (FORMAT csv, HEADER)",
    )
    .await
    .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "user_id,item_id,score,rank");
    let rows = client
        .query(
            "SELECT item_id, rank FROM m WHERE userId = 1 ORDER BY rank",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(lines.len(), rows.len() + 1);
    for (line, row) in lines[1..].iter().zip(&rows) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], "1");
        assert_eq!(cells[1], row.get::<_, i64>(0).to_string());
        assert_eq!(cells[3], row.get::<_, i32>(1).to_string());
    }

    // A query with USING (psql's `\copy (SELECT ... USING ...) TO file`): item-item answers.
    let csv = copy_out(
        &client,
        "COPY (SELECT item_id_two, rank FROM m WHERE movieId = 10 USING recommender_type = 'item_item', n_recommendations = 3) TO STDOUT (FORMAT csv)",
    )
    .await
    .unwrap();
    let rows = client
        .query(
            "SELECT item_id_two, rank FROM m WHERE movieId = 10 USING recommender_type = 'item_item', n_recommendations = 3",
            &[],
        )
        .await
        .unwrap();
    let want: String = rows
        .iter()
        .map(|r| format!("{},{}\n", r.get::<_, i64>(0), r.get::<_, i32>(1)))
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(String::from_utf8(csv).unwrap(), want);

    // Text format: tab-separated, \N for NULL, special characters escaped.
    let text = copy_out(
        &client,
        "COPY (SELECT 1 AS a, NULL AS b, 'x' || chr(9) || 'y' AS c) TO STDOUT",
    )
    .await
    .unwrap();
    assert_eq!(text, b"1\t\\N\tx\\ty\n");

    // A table, its columns chosen, CSV quoting where needed.
    let csv = copy_out(
        &client,
        "COPY files.ratings (userId, movieId) TO STDOUT WITH CSV",
    )
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8(csv).unwrap().lines().count(),
        small_ratings().len()
    );
    let quoted = copy_out(
        &client,
        "COPY (SELECT 'a,b' AS s, 'say \"hi\"' AS t) TO STDOUT (FORMAT csv)",
    )
    .await
    .unwrap();
    assert_eq!(quoted, b"\"a,b\",\"say \"\"hi\"\"\"\n");

    // Binary format: PostgreSQL's signature first.
    let binary = copy_out(&client, "COPY (SELECT 7 AS n) TO STDOUT (FORMAT binary)")
        .await
        .unwrap();
    assert!(binary.starts_with(b"PGCOPY\n\xff\r\n\0"), "{binary:?}");

    // Bad options are errors, and the connection lives on.
    for (sql, code) in [
        ("COPY (SELECT 1) TO STDOUT (FORMAT binary, HEADER)", "42601"),
        ("COPY (SELECT 1) TO STDOUT (FORMAT xml)", "22023"),
        ("COPY (SELECT 1) TO STDOUT (FORCE_NULL (a))", "0A000"),
        ("COPY (SELECT * FROM files.nosuch) TO STDOUT", "42P01"),
        // USING without a model, and a USING key models do not take.
        (
            "COPY (SELECT * FROM files.ratings USING recommender_type = 'item_item') TO STDOUT",
            "42P01",
        ),
        (
            "COPY (SELECT * FROM m USING colour = 'red') TO STDOUT",
            "22023",
        ),
        ("COPY (SELECT * FROM m USING k = 1 TO STDOUT", "42601"),
    ] {
        let err = copy_out(&client, sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), code, "{sql}: {}", message(&err));
        let err = client.simple_query(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), code, "simple {sql}: {}", message(&err));
    }
    let rows = client.query("SELECT 1 + 1 AS two", &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, i32>(0), 2);

    // A prepared INSERT ... SELECT with USING keeps a model's answers for its parameter.
    client
        .batch_execute("CREATE TABLE files.sims (item BIGINT)")
        .await
        .unwrap();
    let inserted = client
        .execute(
            "INSERT INTO files.sims SELECT item_id_two FROM m WHERE movieId = $1 USING recommender_type = 'item_item', n_recommendations = 2",
            &[&10i64],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 2);
    server.stop().await;
}

/// Sends `data` with `COPY ... FROM STDIN`; returns the row count.
async fn copy_in(client: &Client, sql: &str, data: &str) -> Result<u64, tokio_postgres::Error> {
    use futures::SinkExt;
    let sink = client.copy_in(sql).await?;
    futures::pin_mut!(sink);
    // In two pieces, split inside a row, as a client may send it.
    let (a, b) = data.as_bytes().split_at(data.len() / 2);
    sink.send(std::io::Cursor::new(a.to_vec())).await?;
    sink.send(std::io::Cursor::new(b.to_vec())).await?;
    sink.finish().await
}

/// Files being written (uploads in progress, temporaries) in a data dir's files directory.
fn hidden_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir.join("files/.writing"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn copy_from_stdin_uploads_a_table_to_train_on() {
    let dir = temp_data_dir("upload");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;

    let csv = small_ratings_csv();
    let n = copy_in(
        &client,
        "COPY files.uploaded FROM STDIN WITH (FORMAT csv, HEADER)",
        &csv,
    )
    .await
    .unwrap();
    assert_eq!(n as usize, small_ratings().len());
    let rows = client
        .query("SELECT count(*) FROM files.uploaded", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0) as usize, small_ratings().len());

    // A model trains on it like on any table.
    client
        .simple_query(
            "CREATE MODEL up FROM files (SELECT * FROM uploaded) PREDICT movieId USING \
             engine = 'lightfm', item_id = 'movieId', user_id = 'userId', threshold = 1, \
             num_threads = 1, epochs = 5",
        )
        .await
        .unwrap();
    assert_eq!(wait_trained(&client, "up").await, ("complete".into(), None));
    let recs = client
        .query("SELECT * FROM up WHERE userId = 1", &[])
        .await
        .unwrap();
    assert_eq!(recs.len(), 10);

    // More rows for the table are appended, as PostgreSQL's COPY appends.
    let n = copy_in(
        &client,
        "COPY files.uploaded (movieId, userId) FROM STDIN",
        "7\t1001\n8\t1001\n",
    )
    .await
    .unwrap();
    assert_eq!(n, 2);
    let rows = client
        .query(
            "SELECT count(*), count(rating) FROM files.uploaded WHERE userId = 1001",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((rows[0].get::<_, i64>(0), rows[0].get::<_, i64>(1)), (2, 0));

    // Text format with listed columns and \N.
    let n = copy_in(
        &client,
        "COPY files.pairs (a, b) FROM STDIN",
        "1\tx\n2\t\\N\n",
    )
    .await
    .unwrap();
    assert_eq!(n, 2);
    let rows = client
        .query("SELECT a FROM files.pairs WHERE b IS NULL", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 2);

    // Errors create nothing, keep what exists, and leave the connection usable. A bad row
    // is found when the data is complete.
    let err = copy_in(
        &client,
        "COPY files.broken (a, b) FROM STDIN (FORMAT csv)",
        "1,2\n3\n",
    )
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&err), "22P04", "{}", message(&err));
    // A target that cannot be written is refused before any data, as PostgreSQL refuses
    // an unknown table. (Not through tokio-postgres' copy_in, which after an error at that
    // point sends a CopyFail and Sync whose extra ReadyForQuery it does not expect, from
    // PostgreSQL as from recsql.)
    for (sql, code) in [
        ("COPY files.uploaded (nosuch) FROM STDIN", "42703"),
        ("COPY demo.movies FROM STDIN", "0A000"),
        ("COPY files.nocolumns FROM STDIN", "42601"),
        ("COPY files.x (a) FROM STDIN (FORMAT binary)", "0A000"),
    ] {
        let err = client.simple_query(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), code, "{sql}: {}", message(&err));
    }
    let err = client
        .query("SELECT * FROM files.broken", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P01");
    assert!(hidden_files(&dir).is_empty(), "{:?}", hidden_files(&dir));

    // An upload the client abandons leaves nothing either.
    {
        use futures::SinkExt;
        let sink = client
            .copy_in::<_, std::io::Cursor<Vec<u8>>>("COPY files.abandoned (a) FROM STDIN")
            .await
            .unwrap();
        futures::pin_mut!(sink);
        sink.send(std::io::Cursor::new(b"1\n".to_vec()))
            .await
            .unwrap();
    }
    let rows = client.query("SELECT 1 + 1 AS two", &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, i32>(0), 2);
    assert!(!dir.join("files/abandoned.csv").exists());
    assert!(hidden_files(&dir).is_empty(), "{:?}", hidden_files(&dir));
    server.stop().await;
}

/// Projects, as in MindsDB: a model lives in the project its name gives, answers from there,
/// is listed by that project's `models` table and SHOW MODELS FROM it; projects outlive a
/// restart, and one that holds a model cannot be dropped.
#[tokio::test]
async fn models_live_in_projects() {
    let dir = temp_data_dir("projects");
    std::fs::write(dir.join("files/ratings.csv"), small_ratings_csv()).unwrap();
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE PROJECT shop; CREATE DATABASE lab")
        .await
        .expect("CREATE PROJECT, CREATE DATABASE without engine");
    let err = client
        .batch_execute("CREATE PROJECT shop")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P04");
    client
        .batch_execute("CREATE PROJECT IF NOT EXISTS shop")
        .await
        .unwrap();
    let err = client
        .batch_execute(&CREATE_SMALL.replace("MODEL m", "MODEL nowhere.m"))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "3F000", "{err}");
    client
        .batch_execute(&CREATE_SMALL.replace("MODEL m", "MODEL shop.m"))
        .await
        .expect("CREATE MODEL in a project");
    let started = Instant::now();
    loop {
        let status: String = client
            .query_one("SELECT status FROM shop.models WHERE name = 'm'", &[])
            .await
            .unwrap()
            .get(0);
        if status == "complete" {
            break;
        }
        assert!(status != "error" && started.elapsed() < Duration::from_secs(300));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let in_mindsdb: i64 = client
        .query_one("SELECT count(*) FROM models", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(in_mindsdb, 0, "mindsdb.models lists mindsdb's models");
    let shown = client.simple_query("SHOW MODELS FROM shop").await.unwrap();
    assert_eq!(rows_of(&shown).len(), 1);
    let err = client
        .simple_query("SHOW MODELS FROM nowhere")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "3D000", "{err}");
    let err = client
        .simple_query("SELECT * FROM m WHERE userId = 1")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P01", "unqualified names are mindsdb's");
    let answers = client
        .simple_query("SELECT * FROM shop.m WHERE userId = 1")
        .await
        .expect("answers from a project's model");
    assert!(!rows_of(&answers).is_empty());
    // USE makes a project the session's: its models answer and list without its name, and
    // statements name models in it.
    let other = server.connect().await;
    other
        .batch_execute("USE shop")
        .await
        .expect("USE a project");
    let answers = other
        .simple_query("SELECT * FROM m WHERE userId = 1")
        .await
        .expect("a model of the project used");
    assert!(!rows_of(&answers).is_empty());
    let listed = other.simple_query("SHOW MODELS").await.unwrap();
    assert_eq!(rows_of(&listed).len(), 1);
    let described = other.simple_query("DESCRIBE m").await.expect("DESCRIBE m");
    assert_eq!(rows_of(&described).len(), 1);
    let err = other.batch_execute("USE nowhere").await.unwrap_err();
    assert_eq!(sqlstate(&err), "3D000");
    let databases = client.simple_query("SHOW DATABASES").await.unwrap();
    let projects: Vec<Vec<String>> = rows_of(&databases)
        .into_iter()
        .filter(|r| r[1] == "project")
        .collect();
    assert_eq!(
        projects.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
        ["mindsdb", "lab", "shop"]
    );
    // SHOW FULL DATABASES tells each one's type; the extended protocol describes it.
    let full = client.query("SHOW FULL DATABASES", &[]).await.unwrap();
    let types: Vec<(String, String)> = full
        .iter()
        .map(|r| (r.get("name"), r.get("type")))
        .collect();
    assert!(
        types.contains(&("shop".into(), "project".into())),
        "{types:?}"
    );
    assert!(types.contains(&("demo".into(), "data".into())), "{types:?}");
    // information_schema.models lists every project's models.
    let everywhere = client
        .query(
            "SELECT project, name FROM information_schema.models ORDER BY project",
            &[],
        )
        .await
        .unwrap();
    let listed: Vec<(String, String)> = everywhere.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert!(listed.contains(&("shop".into(), "m".into())), "{listed:?}");
    server.stop().await;

    // After a restart the projects and the model are back; a project with a model stays.
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    let answers = client
        .simple_query("SELECT * FROM shop.m WHERE userId = 1")
        .await
        .expect("answers after a restart");
    assert!(!rows_of(&answers).is_empty());
    let err = client.batch_execute("DROP PROJECT shop").await.unwrap_err();
    assert_eq!(sqlstate(&err), "55006", "{err}");
    let err = client
        .batch_execute("DROP PROJECT mindsdb")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "55006", "{err}");
    client
        .batch_execute(
            "DROP MODEL shop.m; DROP PROJECT shop; DROP DATABASE lab; DROP PROJECT IF EXISTS lab",
        )
        .await
        .expect("drops");
    let err = client
        .simple_query("SELECT * FROM shop.models")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P01");
    server.stop().await;
}

#[tokio::test]
async fn join_learn_process_answers_when_training_has_ended() {
    let dir = temp_data_dir("join-learn");
    std::fs::write(dir.join("files/ratings.csv"), small_ratings_csv()).unwrap();
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    let create = |name: &str, threshold: u32| {
        format!(
            "CREATE MODEL {name} FROM files (SELECT * FROM ratings) PREDICT movieId USING \
             engine = 'lightfm', item_id = 'movieId', user_id = 'userId', threshold = {threshold}, \
             epochs = 5, join_learn_process = true"
        )
    };
    // Both protocols: the answer is the complete version, and the model answers at once.
    let rows = client.query(&create("m", 1), &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, String>("status"), "complete");
    let options: String = rows[0].get("training_options");
    assert!(!options.contains("join_learn_process"), "{options}");
    let answers = client
        .simple_query("SELECT * FROM m WHERE userId = 1")
        .await
        .unwrap();
    assert!(!rows_of(&answers).is_empty());
    // RETRAIN waits too, and keeps the old version active with active = false.
    let rows = client
        .simple_query("RETRAIN m USING join_learn_process = true, active = false, epochs = 2")
        .await
        .unwrap();
    let row = rows_of(&rows);
    assert!(
        row[0].contains(&"complete".to_string()),
        "RETRAIN answered {row:?}"
    );
    let active = client
        .query_one(
            "SELECT version FROM models WHERE name = 'm' AND active",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(active.get::<_, i64>(0), 1);
    // A training that fails is the statement's error; the version stays, with status error.
    let e = client
        .simple_query(&create("nothing", 100))
        .await
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("22023"), "{e:?}");
    assert_eq!(wait_trained(&client, "nothing").await.0, "error");
    // The option takes true or false only.
    let e = client
        .simple_query(
            &create("bad", 1).replace("join_learn_process = true", "join_learn_process = 'x'"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("22023"), "{e:?}");
    server.stop().await;
}

#[tokio::test]
async fn views_live_in_projects() {
    let dir = temp_data_dir("views");
    std::fs::write(dir.join("files/ratings.csv"), small_ratings_csv()).unwrap();
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    let count = |sql: &'static str| {
        let client = &client;
        async move {
            let rows = client.simple_query(sql).await.unwrap();
            rows_of(&rows)[0][0].parse::<i64>().unwrap()
        }
    };
    let all = count("SELECT count(*) FROM files.ratings").await;
    client
        .batch_execute(
            "CREATE VIEW mindsdb.liked AS (SELECT * FROM files.ratings WHERE rating >= 4); \
             CREATE PROJECT shop; \
             CREATE VIEW shop.some AS SELECT userId FROM files.ratings LIMIT 3",
        )
        .await
        .unwrap();
    let liked = count("SELECT count(*) FROM liked").await;
    assert!(liked > 0 && liked < all, "{liked} of {all}");
    assert_eq!(count("SELECT count(*) FROM shop.some").await, 3);
    // A model trains from a view, and the names of views and models do not collide.
    let rows = client
        .query(
            "CREATE MODEL m FROM mindsdb (SELECT * FROM liked) PREDICT movieId USING \
             user_id = 'userId', item_id = 'movieId', epochs = 2, join_learn_process = true",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, String>("status"), "complete");
    let e = client
        .simple_query("CREATE MODEL liked FROM files (SELECT * FROM ratings) PREDICT movieId USING user_id = 'userId', item_id = 'movieId'")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42710");
    let e = client
        .simple_query("CREATE VIEW m AS SELECT 1")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42P07");
    // A view reads as a query does: a model's answers, PostgreSQL's forms.
    client
        .batch_execute(
            "CREATE VIEW for_one AS SELECT * FROM m WHERE userId = 1; \
             CREATE VIEW forms AS SELECT '{\"1\",\"2\"}'::int[] AS a",
        )
        .await
        .unwrap();
    assert_eq!(
        count("SELECT count(DISTINCT user_id) FROM for_one").await,
        1
    );
    let forms = client.simple_query("SELECT a FROM forms").await.unwrap();
    assert_eq!(rows_of(&forms), vec![vec!["{1,2}".to_string()]]);
    client
        .simple_query(
            "CREATE OR REPLACE VIEW shop.some AS SELECT userId FROM files.ratings LIMIT 5",
        )
        .await
        .unwrap();
    // After USE, a view named without a project is the project's, also later in the same
    // string of statements.
    for sql in ["USE shop", "CREATE VIEW here AS SELECT 1 AS x"] {
        client.batch_execute(sql).await.unwrap();
    }
    assert_eq!(count("SELECT count(*) FROM shop.here").await, 1);
    for sql in ["DROP VIEW here", "USE mindsdb"] {
        client.batch_execute(sql).await.unwrap();
    }
    client
        .batch_execute("USE shop; CREATE VIEW there AS SELECT 2 AS x; USE mindsdb")
        .await
        .unwrap();
    assert_eq!(count("SELECT x FROM shop.there").await, 2);
    client
        .batch_execute("USE shop; DROP VIEW there; USE mindsdb")
        .await
        .unwrap();
    assert!(
        client
            .simple_query("SELECT * FROM shop.here")
            .await
            .is_err()
    );
    let e = client.simple_query("DROP PROJECT shop").await.unwrap_err();
    assert_eq!(sqlstate(&e), "55006");
    server.stop().await;

    // Views are kept across a restart, and DROP VIEW forgets them.
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    let rows = client
        .simple_query("SELECT count(*) FROM shop.some")
        .await
        .unwrap();
    assert_eq!(rows_of(&rows), vec![vec!["5".to_string()]]);
    let rows = client
        .simple_query("SELECT count(*) > 0 FROM for_one")
        .await
        .unwrap();
    assert_eq!(rows_of(&rows), vec![vec!["t".to_string()]]);
    let tables = client.simple_query("SHOW TABLES").await.unwrap();
    assert!(
        rows_of(&tables).iter().any(|r| r[0] == "liked"),
        "{:?}",
        rows_of(&tables)
    );
    client
        .batch_execute("DROP VIEW shop.some; DROP PROJECT shop; DROP VIEW liked")
        .await
        .unwrap();
    assert!(client.simple_query("SELECT * FROM liked").await.is_err());
    client
        .simple_query("DROP VIEW IF EXISTS liked")
        .await
        .unwrap();
    let e = client.simple_query("DROP VIEW liked").await.unwrap_err();
    assert_eq!(sqlstate(&e), "42P01");
    server.stop().await;
}
