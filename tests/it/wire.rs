//! The wire protocol as clients see it: simple and extended queries, errors with SQLSTATEs,
//! authentication, protocol garbage and graceful shutdown.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_postgres::types::Type;

use crate::common::*;

#[tokio::test]
async fn simple_and_extended_queries_over_demo() {
    let dir = temp_data_dir("wire");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;

    let rows = client
        .simple_query("SELECT count(*) FROM demo.movie_lens_ratings")
        .await
        .unwrap();
    assert_eq!(rows_of(&rows), vec![vec!["100000".to_string()]]);

    // Extended protocol with a parameter; Describe gives the result types.
    let stmt = client
        .prepare("SELECT movieId, rating FROM demo.movie_lens_ratings WHERE userId = $1 ORDER BY movieId LIMIT 5")
        .await
        .unwrap();
    assert_eq!(stmt.columns().len(), 2);
    assert_eq!(stmt.columns()[0].type_(), &Type::INT8);
    let rows = client.query(&stmt, &[&7i64]).await.unwrap();
    assert_eq!(rows.len(), 5);
    let movies: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert!(movies.windows(2).all(|w| w[0] < w[1]), "{movies:?}");

    // The same statement, again, with another parameter (named prepared statement reuse).
    let again = client.query(&stmt, &[&8i64]).await.unwrap();
    assert_eq!(again.len(), 5);

    // A join and an aggregate across demo tables.
    let rows = client
        .query(
            "SELECT m.title, count(r.rating) AS n FROM demo.movie_lens_ratings r JOIN demo.movies m ON r.movieId = m.movieId GROUP BY m.title ORDER BY n DESC LIMIT 3",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let top: i64 = rows[0].get("n");
    let third: i64 = rows[2].get("n");
    assert!(top >= third);

    // Integer literals are int4 where they fit, as in PostgreSQL, so typed drivers read them
    // as i32; beyond, int8.
    let row = client
        .query_one("SELECT 1, 3000000000, 1 + 1, $1::int4 + 1", &[&5i32])
        .await
        .unwrap();
    let ints: (i32, i64, i32, i32) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(ints, (1, 3_000_000_000, 2, 6));
    // A prepared statement's plan is analysed once: analysed again, the sum of integers was a
    // numeric sent where a bigint was described, and folded constants were typed again.
    let row = client
        .query_one(
            "SELECT sum(x), 3000000000 - 2999999999, 230::bigint FROM (VALUES (1), (2)) t(x)",
            &[],
        )
        .await
        .unwrap();
    let bigints: (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(bigints, (3, 1, 230));
    // Row numbers, ranks and array lengths are bigints (they were sent as numerics).
    let row = client
        .query_one(
            "SELECT row_number() OVER (), rank() OVER (ORDER BY x), array_length(ARRAY[1, 2], 1) \
             FROM (VALUES (1)) t(x)",
            &[],
        )
        .await
        .unwrap();
    let ranks: (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(ranks, (1, 1, 2));

    // recsql's own statements over the extended protocol, with Describe.
    let stmt = client.prepare("SHOW DATABASES").await.unwrap();
    let names: Vec<&str> = stmt.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, vec!["name", "engine", "parameters"]);
    let rows = client.query(&stmt, &[]).await.unwrap();
    assert!(rows.iter().any(|r| r.get::<_, String>(0) == "demo"));

    // A driver's catalog query (PostgreSQL's case folding, _pg_expandarray, (row).field),
    // prepared with a parameter.
    let stmt = client
        .prepare(
            "SELECT r.KEY_SEQ FROM (SELECT (information_schema._pg_expandarray(i.indkey)).n AS KEY_SEQ, \
             information_schema._pg_expandarray(i.indkey) AS KEYS FROM pg_catalog.pg_index i \
             WHERE i.indexrelid = $1) r WHERE (r.KEYS).x > 0 ORDER BY r.key_seq",
        )
        .await
        .unwrap();
    assert_eq!(stmt.columns()[0].name(), "key_seq");
    let rows = client.query(&stmt, &[&2837u32]).await.unwrap();
    let seq: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(seq, vec![1, 2]);
    server.stop().await;
}

#[tokio::test]
async fn errors_carry_sqlstate_and_the_connection_lives_on() {
    let dir = temp_data_dir("errors");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;

    let cases = [
        ("SELECT * FROM demo.no_such_table", "42P01"),
        ("SELECT * FROM no_such_db.t", "42P01"),
        ("SELECT no_such_column FROM demo.movies", "42703"),
        ("SELEC 1", "42601"),
        (
            "CREATE MODEL m FROM demo (SELECT * FROM movie_lens_ratings) PREDICT movieId",
            "22023",
        ),
        (
            "FINETUNE m FROM demo (SELECT * FROM movie_lens_ratings)",
            "42P01",
        ),
        ("CREATE MODEL m FROM demo (SELECT 1) USING a = 1", "42601"),
        ("DROP DATABASE no_such_db", "3D000"),
        ("DROP DATABASE demo", "55006"),
        ("CREATE DATABASE x WITH ENGINE = 'oracle'", "22023"),
        // A client cannot write files of the server.
        ("COPY (SELECT 1) TO '/tmp/recsql-copy-refused.csv'", "42501"),
    ];
    for (sql, code) in cases {
        let err = client.simple_query(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), code, "{sql}: {}", message(&err));
        // Same through the extended protocol.
        let err = client.query(sql, &[]).await.unwrap_err();
        assert_eq!(sqlstate(&err), code, "extended {sql}: {}", message(&err));
        // And the connection still answers.
        let rows = client.query("SELECT 1 + 1 AS two", &[]).await.unwrap();
        assert_eq!(rows[0].get::<_, i32>(0), 2);
    }

    assert!(!std::path::Path::new("/tmp/recsql-copy-refused.csv").exists());

    // In one simple-query string, statements before the failing one stand.
    let err = client
        .simple_query("SELECT 1; SELECT * FROM demo.nope; SELECT 3")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P01");
    let rows = client
        .simple_query("SHOW DATABASES; SELECT 42")
        .await
        .unwrap();
    let rows = rows_of(&rows);
    assert_eq!(rows.last().unwrap(), &vec!["42".to_string()]);

    // Pooler and driver housekeeping statements are accepted.
    client.simple_query("DISCARD ALL").await.unwrap();
    client.simple_query("DEALLOCATE ALL").await.unwrap();
    client.simple_query("DEALLOCATE PREPARE s1").await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn password_authentication() {
    let dir = temp_data_dir("auth");
    let creds = recsql::wire::Credentials {
        user: "alice".into(),
        password: "s3cret".into(),
    };
    let server = TestServer::start_with(&dir, Some(creds)).await;
    let base = format!("host=127.0.0.1 port={} dbname=recsql", server.addr.port());
    let ok = connect(&format!("{base} user=alice password=s3cret"))
        .await
        .unwrap();
    ok.simple_query("SELECT 1").await.unwrap();
    let err = connect(&format!("{base} user=alice password=wrong"))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "28P01");
    let err = connect(&format!("{base} user=bob password=s3cret"))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "28P01");
    server.stop().await;
}

#[tokio::test]
async fn malformed_protocol_bytes_close_only_that_connection() {
    let dir = temp_data_dir("garbage");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;

    // A startup packet with an absurd length, then random bytes.
    let mut raw = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    raw.write_all(&[0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8])
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), raw.read(&mut buf)).await;

    // A valid startup followed by a message of an unknown type.
    let mut raw2 = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut startup = Vec::new();
    let body = b"\0\x03\0\0user\0x\0\0";
    startup.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    startup.extend_from_slice(body);
    raw2.write_all(&startup).await.unwrap();
    raw2.write_all(b"\xee\0\0\0\x08junk").await.unwrap();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), raw2.read(&mut buf)).await;

    // The other client is unaffected, and new clients connect.
    client.simple_query("SELECT 1").await.unwrap();
    let fresh = server.connect().await;
    fresh.simple_query("SELECT 1").await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn shutdown_waits_for_a_running_statement() {
    let dir = temp_data_dir("shutdown");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    let query = tokio::spawn(async move {
        client
            .simple_query("SELECT count(*) FROM demo.movie_lens_ratings a JOIN demo.movies b ON a.movieId = b.movieId")
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    server.stop().await;
    // The statement that was running when shutdown began still completes.
    let rows = query.await.unwrap().expect("running statement finishes");
    assert_eq!(rows_of(&rows), vec![vec!["100000".to_string()]]);
}

#[tokio::test]
async fn prepared_inserts_take_parameters_typed_by_their_columns() {
    let dir = temp_data_dir("params");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    client
        .simple_query("CREATE TABLE files.picks (userId BIGINT, movieId BIGINT, note TEXT)")
        .await
        .unwrap();

    // Described before it runs: the parameters take the declared types of the columns they
    // fill, and the statement returns no rows.
    let insert = client
        .prepare("INSERT INTO files.picks (userId, note, movieId) VALUES ($1, $2, $3)")
        .await
        .unwrap();
    assert_eq!(insert.params(), &[Type::INT8, Type::TEXT, Type::INT8]);
    assert!(insert.columns().is_empty());
    for (user, note, movie) in [(1i64, "first, with a comma", 10i64), (2, "it's", 20)] {
        assert_eq!(
            client
                .execute(&insert, &[&user, &note, &movie])
                .await
                .unwrap(),
            1
        );
    }
    // A parameter compared with a column takes its type.
    let copy = client
        .prepare(
            "INSERT INTO files.picks SELECT movieId, movieId AS m, title FROM demo.movies \
             WHERE movieId = $1",
        )
        .await
        .unwrap();
    assert_eq!(copy.params()[0], Type::INT8);
    assert_eq!(client.execute(&copy, &[&7i64]).await.unwrap(), 1);

    let rows = client
        .query(
            "SELECT userId, movieId, note FROM files.picks ORDER BY userId",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(i64, i64, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], (1, 10, Some("first, with a comma".into())));
    assert_eq!(got[1], (2, 20, Some("it's".into())));
    assert_eq!((got[2].0, got[2].1), (7, 7));

    // A value that does not fit its column's type is the user's error; the connection
    // lives on.
    let err = client
        .query_typed(
            "INSERT INTO files.picks (userId) VALUES ($1)",
            &[(&"not a number", Type::TEXT)],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "22P02", "{}", message(&err));
    assert_eq!(client.query("SELECT 1", &[]).await.unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn binary_copy_fills_a_table_with_declared_types() {
    use futures::SinkExt;
    use tokio_postgres::binary_copy::BinaryCopyInWriter;

    let dir = temp_data_dir("binary-copy");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    client
        .simple_query("CREATE TABLE files.ratings (userId BIGINT, movieId BIGINT, rating DOUBLE PRECISION, note TEXT)")
        .await
        .unwrap();
    let sink = client
        .copy_in("COPY files.ratings (userId, movieId, rating, note) FROM STDIN (FORMAT binary)")
        .await
        .unwrap();
    let writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::INT8, Type::FLOAT8, Type::TEXT]);
    futures::pin_mut!(writer);
    for (u, m, r) in [(1i64, 10i64, 4.5f64), (1, 11, 3.0), (2, 10, 5.0)] {
        let note = format!("user {u}, \"movie\" {m}");
        writer.as_mut().write(&[&u, &m, &r, &note]).await.unwrap();
    }
    writer
        .as_mut()
        .write(&[&3i64, &12i64, &None::<f64>, &None::<String>])
        .await
        .unwrap();
    assert_eq!(writer.finish().await.unwrap(), 4);

    let rows = client
        .query(
            "SELECT userId, movieId, rating, note FROM files.ratings ORDER BY userId, movieId",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0].get::<_, f64>(2), 4.5);
    assert_eq!(rows[0].get::<_, String>(3), "user 1, \"movie\" 10");
    assert_eq!(rows[3].get::<_, Option<f64>>(2), None);

    // Values of the wrong width for their column are a COPY format error; nothing is added.
    let sink = client
        .copy_in("COPY files.ratings (userId, rating) FROM STDIN (FORMAT binary)")
        .await
        .unwrap();
    let writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::INT2]);
    futures::pin_mut!(writer);
    writer.as_mut().write(&[&9i64, &1i16]).await.unwrap();
    let err = writer.finish().await.unwrap_err();
    assert_eq!(sqlstate(&err), "22P04", "{}", message(&err));

    // Text that does not read as a column's type is refused too.
    let sink = client
        .copy_in("COPY files.ratings (userId, rating) FROM STDIN")
        .await
        .unwrap();
    futures::pin_mut!(sink);
    sink.send(std::io::Cursor::new(b"9\tnot a number\n".to_vec()))
        .await
        .unwrap();
    let err = sink.finish().await.unwrap_err();
    assert_eq!(sqlstate(&err), "22P02", "{}", message(&err));
    let rows = client
        .query("SELECT count(*) FROM files.ratings", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 4);
    server.stop().await;
}

#[tokio::test]
async fn result_columns_are_named_as_postgresql_names_them() {
    let dir = temp_data_dir("column-names");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    let sql = "SELECT count(*), max(rating), 1 + 1, userId::text, CAST(2 AS integer), upper('a'), 'x', userId, userId \
               FROM demo.movie_lens_ratings GROUP BY userId ORDER BY count DESC, userId LIMIT 2";
    let expected = [
        "count", "max", "?column?", "userId", "int4", "upper", "?column?", "userId", "userId",
    ];

    // Simple protocol.
    let messages = client.simple_query(sql).await.unwrap();
    let row = messages
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .expect("rows");
    let names: Vec<&str> = row.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, expected);

    // Extended protocol: Describe, then the rows; ORDER BY count uses the output name.
    let stmt = client.prepare(sql).await.unwrap();
    let names: Vec<&str> = stmt.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, expected);
    let rows = client.query(&stmt, &[]).await.unwrap();
    assert!(rows[0].get::<_, i64>("count") >= rows[1].get::<_, i64>("count"));

    // A derived table's columns keep the names, and COPY's header has them.
    let rows = client
        .query(
            "SELECT s.count FROM (SELECT count(*) FROM demo.movies) s",
            &[],
        )
        .await
        .unwrap();
    assert!(rows[0].get::<_, i64>(0) > 0);
    let copy = client
        .copy_out(
            "COPY (SELECT count(*), 1, 2 FROM demo.movies) TO STDOUT WITH (FORMAT csv, HEADER)",
        )
        .await
        .unwrap();
    futures::pin_mut!(copy);
    let mut text = Vec::new();
    while let Some(chunk) = futures::StreamExt::next(&mut copy).await {
        text.extend_from_slice(&chunk.unwrap());
    }
    let text = String::from_utf8(text).unwrap();
    assert_eq!(
        text.lines().next(),
        Some("count,?column?,?column?"),
        "{text}"
    );

    // A table cannot have two columns of one name.
    let err = client
        .simple_query("CREATE TABLE files.twice AS SELECT 1, 2")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42701", "{}", message(&err));
    client
        .simple_query(
            "CREATE TABLE files.once AS SELECT count(*), max(rating) FROM demo.movie_lens_ratings",
        )
        .await
        .unwrap();
    let rows = client
        .query("SELECT count, max FROM files.once", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 100_000);
    server.stop().await;
}

#[tokio::test]
async fn parameters_in_select_list_subqueries_are_kept() {
    let dir = temp_data_dir("subquery-parameters");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;

    // A user's query: the subquery is computed with its parameter.
    let stmt = client
        .prepare("SELECT (SELECT count(*) FROM demo.movie_lens_ratings WHERE userId = $1) AS n, $2::text AS tag")
        .await
        .unwrap();
    assert_eq!(stmt.params().len(), 2);
    let row = client.query_one(&stmt, &[&1i64, &"x"]).await.unwrap();
    let expected = client
        .query_one(
            "SELECT count(*) FROM demo.movie_lens_ratings WHERE userId = 1",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(row.get::<_, i64>("n"), expected);
    assert_eq!(row.get::<_, String>("tag"), "x");

    // A catalog query, as SQLAlchemy's reflection sends it through psycopg 3: the correlated
    // subquery answers NULL, and its parameters still count, so the later ones bind.
    let stmt = client
        .prepare(
            "SELECT c.relname, CASE WHEN c.relkind != $1::VARCHAR THEN (SELECT n.nspname || $2::VARCHAR \
             FROM pg_catalog.pg_namespace n WHERE n.oid = c.relnamespace) ELSE NULL END AS extra \
             FROM pg_catalog.pg_class c WHERE c.relname = $3::VARCHAR",
        )
        .await
        .unwrap();
    assert_eq!(stmt.params().len(), 3);
    let rows = client.query(&stmt, &[&"x", &"!", &"movies"]).await.unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.get::<_, String>(0) == "movies"));

    // A LIKE with an escape character other than the backslash and a parameter pattern.
    let rows = client
        .query(
            "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname LIKE $1::VARCHAR || '%' ESCAPE '/' ORDER BY 1",
            &[&"pg/_"],
        )
        .await
        .unwrap();
    let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(names, ["pg_catalog"]);
    server.stop().await;
}

/// Reads backend messages from `raw` until ReadyForQuery; returns their type bytes.
async fn message_types(raw: &mut tokio::net::TcpStream) -> Vec<u8> {
    messages(raw).await.into_iter().map(|(t, _)| t).collect()
}

/// Reads backend messages from `raw` until ReadyForQuery: their type bytes and bodies.
async fn messages(raw: &mut tokio::net::TcpStream) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    loop {
        let mut head = [0u8; 5];
        raw.read_exact(&mut head).await.unwrap();
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; len - 4];
        raw.read_exact(&mut body).await.unwrap();
        out.push((head[0], body));
        if head[0] == b'Z' {
            return out;
        }
    }
}

/// A raw connection to `server`, past its startup.
async fn raw_connection(server: &TestServer) -> tokio::net::TcpStream {
    let mut raw = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let body = b"\0\x03\0\0user\0x\0\0";
    let mut startup = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    startup.extend_from_slice(body);
    raw.write_all(&startup).await.unwrap();
    message_types(&mut raw).await;
    raw
}

/// The type OIDs of a RowDescription's columns.
fn described_types(body: &[u8]) -> Vec<u32> {
    let count = u16::from_be_bytes([body[0], body[1]]) as usize;
    let mut at = 2;
    let mut types = Vec::with_capacity(count);
    for _ in 0..count {
        at += body[at..].iter().position(|&b| b == 0).unwrap() + 1 + 4 + 2;
        types.push(u32::from_be_bytes(body[at..at + 4].try_into().unwrap()));
        at += 4 + 2 + 4 + 2;
    }
    types
}

#[tokio::test]
async fn simple_queries_describe_the_types_postgresql_gives() {
    let dir = temp_data_dir("simple-types");
    let server = TestServer::start(&dir).await;
    let mut raw = raw_connection(&server).await;
    // int4, int8, int4, int8 (a row number was a numeric), int8 (a sum of integers).
    let sql = "SELECT 1, 3000000000, 1 + 1, row_number() OVER (), sum(x) OVER () \
               FROM (VALUES (1)) t(x)\0";
    raw.write_all(&frontend(b'Q', sql.as_bytes()))
        .await
        .unwrap();
    let answer = messages(&mut raw).await;
    let (_, description) = answer.iter().find(|(t, _)| *t == b'T').unwrap();
    assert_eq!(described_types(description), [23, 20, 23, 20, 20]);
    server.stop().await;
}

/// A frontend message: its type byte, then its length and `body`.
fn frontend(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

#[tokio::test]
async fn a_prepared_insert_is_described_with_no_data() {
    let dir = temp_data_dir("describe-insert");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    client
        .simple_query("CREATE TABLE files.d (id BIGINT)")
        .await
        .unwrap();

    let mut raw = raw_connection(&server).await;

    // Parse with one parameter, Describe the statement, Sync: as PostgreSQL answers,
    // ParseComplete, ParameterDescription, NoData (pgjdbc counts a batch's rows from it).
    let describe = |sql: &str| {
        let mut parse = b"s1\0".to_vec();
        parse.extend_from_slice(sql.as_bytes());
        parse.extend_from_slice(b"\0\0\0");
        let mut m = frontend(b'P', &parse);
        m.extend(frontend(b'D', b"Ss1\0"));
        m.extend(frontend(b'S', b""));
        m.extend(frontend(b'C', b"Ss1\0"));
        m.extend(frontend(b'S', b""));
        m
    };
    raw.write_all(&describe("INSERT INTO files.d VALUES ($1)"))
        .await
        .unwrap();
    assert_eq!(message_types(&mut raw).await, b"1tnZ");
    message_types(&mut raw).await;
    // A query with a parameter has its row description.
    raw.write_all(&describe("SELECT id FROM files.d WHERE id = $1"))
        .await
        .unwrap();
    assert_eq!(message_types(&mut raw).await, b"1tTZ");
    server.stop().await;
}

#[tokio::test]
async fn settings_belong_to_their_connection_in_both_protocols() {
    let dir = temp_data_dir("settings");
    std::fs::create_dir_all(dir.join("files")).unwrap();
    std::fs::write(dir.join("files/ratings.csv"), small_ratings_csv()).unwrap();
    let server = TestServer::start(&dir).await;
    let one = server.connect().await;
    let two = server.connect().await;

    // Extended protocol: SET is described with no rows, SHOW with one text column.
    one.execute("SET search_path TO files, demo", &[])
        .await
        .unwrap();
    let show = one.prepare("SHOW search_path").await.unwrap();
    assert_eq!(show.columns().len(), 1);
    assert_eq!(show.columns()[0].name(), "search_path");
    let rows = one.query(&show, &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, &str>(0), "files, demo");
    let count = one
        .query_one("SELECT count(*) FROM ratings WHERE rating >= $1", &[&1i64])
        .await
        .unwrap();
    assert_eq!(count.get::<_, i64>(0), 300);

    // The other connection keeps the defaults.
    let rows = two.query("SHOW search_path", &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, &str>(0), "mindsdb");
    let err = two
        .query("SELECT count(*) FROM ratings", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P01", "{}", message(&err));

    // Text output follows each connection's extra_float_digits.
    one.batch_execute("SET extra_float_digits = 0")
        .await
        .unwrap();
    let rows_of_one = rows_of(&one.simple_query("SELECT 0.1::float8 + 0.2").await.unwrap());
    let rows_of_two = rows_of(&two.simple_query("SELECT 0.1::float8 + 0.2").await.unwrap());
    assert_eq!(rows_of_one, vec![vec!["0.3".to_string()]]);
    assert_eq!(rows_of_two, vec![vec!["0.30000000000000004".to_string()]]);

    // Errors name the parameter and leave the connection usable.
    let err = one.execute("SHOW no_such_thing", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "42704", "{}", message(&err));
    one.batch_execute("RESET search_path").await.unwrap();
    let rows = one.query("SELECT current_schema()", &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, &str>(0), "mindsdb");
    server.stop().await;
}

/// A deep statement is refused with PostgreSQL's 54001 and kills nothing. The server runs on
/// a runtime built as the binary builds its own (threads with `THREAD_STACK_SIZE`).
#[test]
fn deeply_nested_statements_are_refused_and_the_server_lives() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(recsql::server::THREAD_STACK_SIZE)
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = temp_data_dir("deep");
        let server = TestServer::start(&dir).await;
        let client = server.connect().await;
        let chain = |n: usize| format!("SELECT {}", vec!["1"; n].join(" + "));
        // Deep, but allowed: planned and answered, over both protocols. (A chain of 200
        // additions overflowed the default stack of a debug build; deeper allowed chains
        // only take longer to plan.)
        let rows = rows_of(&client.simple_query(&chain(250)).await.unwrap());
        assert_eq!(rows, vec![vec!["250".to_string()]]);
        let row = client.query_one(&chain(250), &[]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), 250);
        // Deeper, and far deeper: refused, and the connection goes on.
        for n in [1_500, 200_000] {
            let err = client.simple_query(&chain(n)).await.unwrap_err();
            assert_eq!(sqlstate(&err), "54001", "{}", message(&err));
            let err = client.query(&chain(n), &[]).await.unwrap_err();
            assert_eq!(sqlstate(&err), "54001", "{}", message(&err));
        }
        let rows = rows_of(&client.simple_query("SELECT 1").await.unwrap());
        assert_eq!(rows, vec![vec!["1".to_string()]]);
        server.stop().await;
    });
}

/// A query that needs more memory than the server's limit fails with 53200; sorts and
/// aggregations spill instead, and the connection goes on.
#[tokio::test]
async fn queries_beyond_the_memory_limit_fail_or_spill() {
    let dir = temp_data_dir("memory-limit");
    let server = TestServer::start_with_memory_limit(&dir, 32 << 20).await;
    let client = server.connect().await;
    let join = "SELECT count(*) FROM generate_series(1, 10000000) a(x) \
                JOIN generate_series(1, 10000000) b(y) ON x = y";
    let err = client.simple_query(join).await.unwrap_err();
    assert_eq!(sqlstate(&err), "53200", "{}", message(&err));
    // A full sort of more than the limit (6M bigints, 48 MB) spills to disk and answers.
    let sorted = "SELECT x FROM (SELECT x, row_number() OVER (ORDER BY x DESC) r \
                  FROM generate_series(1, 6000000) t(x)) s WHERE r = 2";
    let rows = rows_of(&client.simple_query(sorted).await.unwrap());
    assert_eq!(rows, vec![vec!["5999999".to_string()]]);
    server.stop().await;
}

/// A cancel request stops a statement whose rows are being computed (the whole sum is
/// computed before its one row), in both protocols, in COPY and in pg_sleep, with
/// PostgreSQL's 57014; the connection then runs the next statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_request_stops_a_running_query() {
    use std::time::Duration;
    let dir = temp_data_dir("cancel");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    for protocol in ["simple", "extended", "copy", "sleep"] {
        let token = client.cancel_token();
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            token.cancel_query(tokio_postgres::NoTls).await
        });
        let err = stopped(&client, protocol).await;
        assert_eq!(sqlstate(&err), "57014", "{protocol}: {err}");
        canceller
            .await
            .unwrap()
            .expect("the cancel request is sent");
        let rows = client
            .simple_query("SELECT 1")
            .await
            .expect("the connection lives on");
        assert_eq!(rows_of(&rows), vec![vec!["1".to_string()]], "{protocol}");
    }
    // pg_sleep waits once for each row.
    let started = std::time::Instant::now();
    client
        .simple_query("SELECT pg_sleep(0.2) FROM generate_series(1, 2)")
        .await
        .expect("pg_sleep");
    assert!(started.elapsed() >= Duration::from_millis(400));
    // An error while a COPY's rows are computed reaches the client as PostgreSQL sends it.
    let err = copy_all(
        &client,
        "COPY (SELECT 10 / (x - 5) FROM generate_series(1, 10) t(x)) TO STDOUT",
    )
    .await
    .expect_err("a failing COPY fails");
    assert_eq!(sqlstate(&err), "22012", "{err}");
    let rows = client
        .simple_query("SELECT 2")
        .await
        .expect("the connection lives on");
    assert_eq!(rows_of(&rows), vec![vec!["2".to_string()]]);
    server.stop().await;
}

/// `statement_timeout` stops a statement that runs longer, while its rows are computed too,
/// in both protocols and in COPY; 0 turns it off again. It may also come in the startup
/// packet's options.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_stops_a_long_statement() {
    let dir = temp_data_dir("statement-timeout");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    client
        .simple_query("SET statement_timeout = '300ms'")
        .await
        .expect("SET statement_timeout");
    for protocol in ["simple", "extended", "copy"] {
        let err = stopped(&client, protocol).await;
        assert_eq!(sqlstate(&err), "57014", "{protocol}: {err}");
        assert!(
            message(&err).contains("statement timeout"),
            "{protocol}: {err}"
        );
    }
    client
        .simple_query("SET statement_timeout = 0")
        .await
        .expect("SET statement_timeout = 0");
    let rows = client
        .simple_query("SELECT pg_sleep(0.5), 1")
        .await
        .expect("no timeout any more");
    assert_eq!(
        rows_of(&rows),
        vec![vec!["NULL".to_string(), "1".to_string()]]
    );
    // The timeout can come with the connection, as libpq's PGOPTIONS sends it; RESET comes
    // back to it, and a wrong value refuses the connection.
    let with_options = |options: &str| format!("{} options='{options}'", server.conn_string());
    let timed = connect(&with_options("-c statement_timeout=300ms"))
        .await
        .expect("connect with options");
    timed
        .simple_query("SET statement_timeout = 0; RESET statement_timeout")
        .await
        .expect("SET and RESET");
    let err = timed
        .simple_query("SELECT pg_sleep(600)")
        .await
        .expect_err("past the timeout of the options");
    assert_eq!(sqlstate(&err), "57014", "{err}");
    let refused = connect(&with_options("-c statement_timeout=soon"))
        .await
        .expect_err("a wrong option refuses the connection");
    assert_eq!(sqlstate(&refused), "22023", "{refused}");
    server.stop().await;
}

/// A statement that would run for hours: a sum computed before its one row.
const ENDLESS: &str = "SELECT sum(x) FROM generate_series(1, 100000000000) t(x)";

/// The error of an endless statement run in `protocol` (simple, extended, COPY or a
/// pg_sleep), which something must stop within two minutes.
async fn stopped(client: &tokio_postgres::Client, protocol: &str) -> tokio_postgres::Error {
    let run = async {
        match protocol {
            "simple" => client.simple_query(ENDLESS).await.map(|_| ()),
            "extended" => client.query(ENDLESS, &[]).await.map(|_| ()),
            "sleep" => client.query("SELECT pg_sleep(600)", &[]).await.map(|_| ()),
            _ => copy_all(client, &format!("COPY ({ENDLESS}) TO STDOUT")).await,
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .unwrap_or_else(|_| panic!("{protocol}: the statement was not stopped"))
        .expect_err("a stopped statement fails")
}

/// Reads all the data of a COPY TO STDOUT.
async fn copy_all(
    client: &tokio_postgres::Client,
    copy: &str,
) -> Result<(), tokio_postgres::Error> {
    use futures::StreamExt;
    let mut data = Box::pin(client.copy_out(copy).await?);
    while let Some(chunk) = data.next().await {
        chunk?;
    }
    Ok(())
}

/// A cursor declared through the extended protocol takes parameters, as psycopg 3's
/// server-side cursors declare them (DataFusion's cursor ran the query without the values:
/// "Placeholder '$1' was not provided"), and FETCH reads it in parts.
#[tokio::test]
async fn cursors_take_parameters_in_the_extended_protocol() {
    let dir = temp_data_dir("cursor-parameters");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    client.batch_execute("BEGIN").await.expect("BEGIN");
    let declare = client
        .prepare("DECLARE few CURSOR FOR SELECT movieId FROM demo.movies WHERE movieId < $1 AND title LIKE $2 ORDER BY movieId")
        .await
        .expect("prepare DECLARE");
    assert_eq!(declare.params(), &[Type::INT8, Type::TEXT]);
    assert!(declare.columns().is_empty(), "DECLARE sends no rows");
    client
        .execute(&declare, &[&6i64, &"%"])
        .await
        .expect("DECLARE with parameters");
    // FETCH as psql sends it (its rows are kept in text: a FETCH prepared by a driver that
    // asks for binary results is not served).
    let first = client
        .simple_query("FETCH 3 FROM few")
        .await
        .expect("FETCH");
    assert_eq!(rows_of(&first), [["1"], ["2"], ["3"]]);
    let rest = client
        .simple_query("FETCH ALL FROM few")
        .await
        .expect("FETCH ALL");
    assert_eq!(rows_of(&rest), [["4"], ["5"]]);
    client
        .batch_execute("CLOSE few; COMMIT")
        .await
        .expect("CLOSE");
    let err = client
        .execute(
            "DECLARE bad CURSOR FOR SELECT movieId FROM demo.movies WHERE movieId = $1",
            &[&"x"],
        )
        .await
        .expect_err("a text for a bigint");
    assert!(!sqlstate(&err).is_empty(), "{err}");
    let rows = client
        .simple_query("SELECT 1")
        .await
        .expect("the connection lives on");
    assert_eq!(rows_of(&rows), vec![vec!["1".to_string()]]);
    server.stop().await;
}

/// A parameter sent in text format, as node-postgres and psycopg 2 send every parameter.
#[derive(Debug)]
struct AsText(&'static str);

impl tokio_postgres::types::ToSql for AsText {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(self.0.as_bytes());
        Ok(tokio_postgres::types::IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> tokio_postgres::types::Format {
        tokio_postgres::types::Format::Text
    }

    tokio_postgres::types::to_sql_checked!();
}

#[tokio::test]
async fn arrays_in_text_and_as_any_parameters() {
    let dir = temp_data_dir("arrays");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;

    // PostgreSQL's array text: quotes, escapes, NULL, spaces.
    let rows = client
        .simple_query(r#"SELECT '{"1", 2 ,NULL}'::int[] AS a, '{"a b",c\,d,"NULL"}'::text[] AS t, 2 = ANY ('{"1","2"}') AS b"#)
        .await
        .unwrap();
    assert_eq!(
        rows_of(&rows),
        vec![vec![
            "{1,2,NULL}".to_string(),
            r#"{"a b","c,d","NULL"}"#.to_string(),
            "t".to_string()
        ]]
    );
    let e = client
        .simple_query("SELECT '{1,2'::int[]")
        .await
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("22P02"), "{e:?}");

    // `= ANY($1)` takes an array of the column's type, in binary or in text.
    let stmt = client
        .prepare("SELECT count(*) FROM demo.movies WHERE movieId = ANY($1)")
        .await
        .unwrap();
    assert_eq!(stmt.params(), &[Type::INT8_ARRAY]);
    let row = client.query_one(&stmt, &[&vec![1i64, 2, 3]]).await.unwrap();
    assert_eq!(row.get::<_, i64>(0), 3);
    let row = client
        .query_one(&stmt, &[&AsText(r#"{"1","2","3","4"}"#)])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 4);
    let titles = client
        .query(
            "SELECT movieId FROM demo.movies WHERE title = ANY($1) ORDER BY movieId",
            &[&AsText(r#"{"Crimson Dream 1","Dark Road 2",NULL}"#)],
        )
        .await
        .unwrap();
    let ids: Vec<i64> = titles.iter().map(|r| r.get(0)).collect();
    assert_eq!(ids, vec![1, 2]);
    server.stop().await;
}

#[tokio::test]
async fn asyncpg_learns_array_types_from_its_type_query() {
    let dir = temp_data_dir("asyncpg-types");
    let server = TestServer::start(&dir).await;
    let client = server.connect().await;
    // asyncpg's introspection (a recursive CTE named typeinfo_tree over pg_type, taking the
    // types as $1::oid[]), in outline: recsql answers such a query with its own.
    let stmt = client
        .prepare(
            "WITH RECURSIVE typeinfo_tree(oid, ns, name, kind, basetype, elemtype, elemdelim, \
             range_subtype, attrtypoids, attrnames, depth) AS (SELECT t.oid, NULL, t.typname, \
             t.typtype, NULL, t.typelem, NULL, NULL, NULL, NULL, 0 FROM pg_type t \
             WHERE t.oid = any($1::oid[])) SELECT DISTINCT * FROM typeinfo_tree",
        )
        .await
        .unwrap();
    assert_eq!(stmt.params(), &[Type::OID_ARRAY]);
    let column = |name: &str| stmt.columns().iter().find(|c| c.name() == name).unwrap();
    assert_eq!(column("attrtypoids").type_(), &Type::OID_ARRAY);
    assert_eq!(column("oid").type_(), &Type::OID);
    let rows = client.query(&stmt, &[&vec![1016u32]]).await.unwrap();
    let found: Vec<(u32, String, u32, Option<String>, i32)> = rows
        .iter()
        .map(|r| {
            (
                r.get("oid"),
                r.get("name"),
                r.get("elemtype"),
                r.get("elemdelim"),
                r.get("depth"),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (20, "int8".to_string(), 0, None, 1),
            (1016, "_int8".to_string(), 20, Some(",".to_string()), 0)
        ]
    );
    server.stop().await;
}
