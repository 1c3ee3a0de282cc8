//! The `files` database, CREATE/SHOW/DROP DATABASE and persistence across a restart.

use tokio_postgres::SimpleQueryMessage;

use crate::common::*;

fn first_cell(messages: &[SimpleQueryMessage]) -> Option<String> {
    messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    })
}

#[tokio::test]
async fn files_are_tables_and_new_files_appear_without_restart() {
    let dir = temp_data_dir("files");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    std::fs::write(dir.join("files/ratings.csv"), small_ratings_csv()).unwrap();

    let n: i64 = client
        .query_one("SELECT count(*) FROM files.ratings", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 300);
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM files.ratings WHERE userId = $1",
            &[&3i64],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 10);

    // Parquet is a table too (written here with DataFusion: clients cannot write server
    // files).
    {
        use datafusion::dataframe::DataFrameWriteOptions;
        use datafusion::prelude::{CsvReadOptions, SessionContext, col, lit};
        let ctx = SessionContext::new();
        let ratings = dir.join("files/ratings.csv");
        ctx.read_csv(ratings.to_string_lossy().as_ref(), CsvReadOptions::new())
            .await
            .unwrap()
            .filter(col("rating").gt_eq(lit(4)))
            .unwrap()
            .write_parquet(
                dir.join("files/positives.parquet")
                    .to_string_lossy()
                    .as_ref(),
                DataFrameWriteOptions::new().with_single_file_output(true),
                None,
            )
            .await
            .unwrap();
    }
    let positives: i64 = client
        .query_one("SELECT count(*) FROM files.positives", &[])
        .await
        .unwrap()
        .get(0);
    let expected = small_ratings().iter().filter(|r| r.2 >= 4).count() as i64;
    assert_eq!(positives, expected);

    // A join of a file with the demo database.
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM files.ratings r JOIN demo.movies m ON r.movieId = m.movieId",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 300);

    // A ragged CSV is an error that names the problem, and the server keeps serving.
    std::fs::write(dir.join("files/ragged.csv"), "a,b\n1,2\n3\n4,5,6\n").unwrap();
    let err = client
        .simple_query("SELECT * FROM files.ragged")
        .await
        .unwrap_err();
    assert!(
        sqlstate(&err).starts_with("22"),
        "{}: {}",
        sqlstate(&err),
        message(&err)
    );
    let rows = client
        .simple_query("SELECT count(*) FROM files.ratings")
        .await
        .unwrap();
    assert_eq!(first_cell(&rows).as_deref(), Some("300"));
    server.stop().await;
}

#[tokio::test]
async fn created_databases_are_listed_dropped_and_survive_restart() {
    let dir = temp_data_dir("dbs");
    let extra = dir.join("more");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(extra.join("r.csv"), small_ratings_csv()).unwrap();

    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    client
        .simple_query(&format!(
            "CREATE DATABASE more WITH ENGINE = 'files', PARAMETERS = {{\"path\": \"{}\"}}",
            extra.display()
        ))
        .await
        .unwrap();
    // Taken names and IF NOT EXISTS.
    let err = client
        .simple_query("CREATE DATABASE more WITH ENGINE = 'files'")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P04");
    client
        .simple_query("CREATE DATABASE IF NOT EXISTS more WITH ENGINE = 'files'")
        .await
        .unwrap();
    // A PARAMETERS object with a missing key.
    let err = client
        .simple_query("CREATE DATABASE p WITH ENGINE = 'postgres', PARAMETERS = {\"host\": \"127.0.0.1\", \"user\": \"postgres\"}")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "22023");
    assert!(message(&err).contains("\"database\""), "{}", message(&err));

    let n: i64 = client
        .query_one("SELECT count(*) FROM more.r", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 300);
    let rows = client.query("SHOW DATABASES", &[]).await.unwrap();
    let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert!(names.contains(&"more".to_string()), "{names:?}");
    assert!(!names.contains(&"p".to_string()), "{names:?}");
    server.stop().await;

    // After a restart the database is back.
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    let n: i64 = client
        .query_one("SELECT count(*) FROM more.r WHERE rating = 5", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        n,
        small_ratings().iter().filter(|r| r.2 == 5).count() as i64
    );
    client.simple_query("DROP DATABASE more").await.unwrap();
    let err = client
        .simple_query("SELECT * FROM more.r")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P01");
    client
        .simple_query("DROP DATABASE IF EXISTS more")
        .await
        .unwrap();
    server.stop().await;

    // The drop persisted too.
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    let rows = client.query("SHOW DATABASES", &[]).await.unwrap();
    assert!(rows.iter().all(|r| r.get::<_, String>(0) != "more"));
    server.stop().await;
}
