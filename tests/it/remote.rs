//! PostgreSQL and MariaDB databases, for real, on the local servers.

use std::time::{Duration, Instant};

use crate::common::*;

#[tokio::test]
async fn postgres_and_mariadb_tables_query_and_join() {
    let (pg, my) = ensure_remote_tables().await;
    let dir = temp_data_dir("remote");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    let expected_pos = small_ratings().iter().filter(|r| r.2 >= 4).count() as i64;

    for (available, create, db) in [(pg, CREATE_PG, "pg_src"), (my, CREATE_MY, "mysql_demo_db")] {
        if !available {
            continue;
        }
        client.simple_query(create).await.unwrap();
        let table = format!("{db}.movie_lens_ratings");
        // count(*) works (the table providers' empty-projection bug is worked around).
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 300, "{db}");
        let n: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE rating >= $1"),
                &[&4i64],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, expected_pos, "{db}");
        // Filters with recsql's own functions (checked arithmetic) stay here: the remote
        // database has no such function.
        let n: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE rating + 1 >= $1"),
                &[&5i64],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, expected_pos, "{db}");
        let rows = client
            .query(
                &format!(
                    "SELECT userId, movieId FROM {table} WHERE userId = 5 ORDER BY movieId LIMIT 3"
                ),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
        // Filters and limits reach the remote server.
        let plan = client
            .simple_query(&format!(
                "EXPLAIN SELECT * FROM {table} WHERE userId = 5 LIMIT 2"
            ))
            .await
            .unwrap();
        let text: String = plan
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(1).map(str::to_string),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(text.contains("WHERE"), "filter not pushed to {db}:\n{text}");
        assert!(text.contains("LIMIT"), "limit not pushed to {db}:\n{text}");
    }

    if pg {
        // jsonb columns read as text, which the JSON operators take.
        let rows = client
            .query(
                "SELECT id, doc ->> 'genre', doc -> 'tags' FROM pg_src.recsql_docs \
                 WHERE doc ->> 'genre' = 'drama' OR id > 5",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get::<_, String>(1), "drama");
        assert_eq!(rows[0].get::<_, String>(2), "[\"a\"]");
        // A date column plus an interval is a timestamp, here and in a filter sent to
        // PostgreSQL (the date column is cast there).
        let rows = client
            .query(
                "SELECT id, (d + interval '36 hours')::text FROM pg_src.recsql_dates \
                 WHERE d < date '2024-01-01' + interval '36 hours'",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get::<_, i32>(0), 1);
        assert_eq!(rows[0].get::<_, String>(1), "2024-01-02 12:00:00");
    }

    if pg && my {
        // A join across PostgreSQL, MariaDB and the demo database.
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_src.movie_lens_ratings p \
                 JOIN mysql_demo_db.movie_lens_ratings m ON p.userId = m.userId AND p.movieId = m.movieId \
                 JOIN demo.movies d ON d.movieId = p.movieId",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 300);
        // SHOW DATABASES masks passwords.
        let rows = client.query("SHOW DATABASES", &[]).await.unwrap();
        let params: Vec<String> = rows
            .iter()
            .filter(|r| r.get::<_, String>(0) == "pg_src")
            .map(|r| r.get(2))
            .collect();
        assert!(params[0].contains("\"password\":\"******\""), "{params:?}");
    }
    server.stop().await;

    // After a restart the remote databases are back.
    if pg || my {
        let server = TestServer::start(&dir).await;
        let client = server.connect().await;
        let db = if pg { "pg_src" } else { "mysql_demo_db" };
        let n: i64 = client
            .query_one(
                &format!("SELECT count(movieId) FROM {db}.movie_lens_ratings"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 300);
        server.stop().await;
    }
}

#[tokio::test]
async fn bad_connections_fail_clearly_and_quickly() {
    let (pg, my) = ensure_remote_tables().await;
    let dir = temp_data_dir("badconn");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;

    if pg {
        let err = client
            .simple_query("CREATE DATABASE bad WITH ENGINE = 'postgres', PARAMETERS = {\"host\": \"127.0.0.1\", \"port\": 5432, \"user\": \"no_such_role\", \"password\": \"x\", \"database\": \"test\"}")
            .await
            .unwrap_err();
        let code = sqlstate(&err);
        assert!(
            code == "28P01" || code == "08001",
            "{code}: {}",
            message(&err)
        );
        assert!(message(&err).contains("no_such_role"), "{}", message(&err));
    }
    if my {
        let err = client
            .simple_query("CREATE DATABASE bad WITH ENGINE = 'mysql', PARAMETERS = {\"host\": \"127.0.0.1\", \"port\": 3306, \"user\": \"root\", \"password\": \"wrong\", \"database\": \"test\"}")
            .await
            .unwrap_err();
        assert_eq!(sqlstate(&err), "28P01", "{}", message(&err));
    }

    // A closed port is refused at once.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = client
        .simple_query(&format!("CREATE DATABASE bad WITH ENGINE = 'postgres', PARAMETERS = {{\"host\": \"127.0.0.1\", \"port\": {closed}, \"user\": \"u\", \"database\": \"d\"}}"))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "08001", "{}", message(&err));

    // A server that accepts and never answers fails within connect_timeout.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    for engine in ["postgres", "mysql"] {
        let started = Instant::now();
        let err = client
            .simple_query(&format!("CREATE DATABASE bad WITH ENGINE = '{engine}', PARAMETERS = {{\"host\": \"127.0.0.1\", \"port\": {port}, \"user\": \"u\", \"database\": \"d\", \"connect_timeout\": 1}}"))
            .await
            .unwrap_err();
        assert_eq!(sqlstate(&err), "08001", "{}", message(&err));
        assert!(
            message(&err).contains("connect_timeout") || message(&err).contains("timed out"),
            "{}",
            message(&err)
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{engine} took {:?}",
            started.elapsed()
        );
    }
    hold.abort();

    // Nothing was recorded, and the server keeps serving.
    let rows = client.query("SHOW DATABASES", &[]).await.unwrap();
    assert!(rows.iter().all(|r| r.get::<_, String>(0) != "bad"));
    server.stop().await;
}
