//! recsql's SQL dialect: MindsDB's model statements over sqlparser (the version DataFusion
//! re-exports). Splitting, parsing and the typed AST live here; nothing here does I/O or
//! knows about the wire, the catalog or DataFusion's execution.

mod ast;
mod column_names;
mod nesting;
mod options;
mod parameters;
mod parser;
mod split;

pub use ast::{
    CopyFormat, CopyOptions, ModelName, Source, Statement, UsingOption, UsingValue, explain_prefix,
    using_to_json,
};
pub use column_names::{display_name, is_repeated, name_columns};
pub use options::{Options, unknown_key};
pub use parameters::{bind_parameters, has_parameters};
pub use parser::{
    files_table_name, last_name, model_name_from_parts, parse_expr, parse_query, parse_statement,
};
pub use split::split_statements;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{RngExt, SeedableRng};

    /// Statements of every form, each of which must survive `parse(display(parse(s)))`.
    const FORMS: &[&str] = &[
        "CREATE ML_ENGINE lightfm FROM lightfm",
        "CREATE ML_ENGINE IF NOT EXISTS my_engine FROM lightfm USING num_threads = 2",
        "SHOW ML_ENGINES",
        "SHOW DATABASES",
        "SHOW FULL DATABASES",
        "SHOW HANDLERS",
        "CREATE VIEW mindsdb.v AS (SELECT userId FROM demo.movie_lens_ratings)",
        "CREATE OR REPLACE VIEW v AS SELECT 1",
        "SHOW HANDLERS LIKE 'p%' WHERE type = 'data'",
        "DROP ML_ENGINE lightfm",
        "DROP ML_ENGINE IF EXISTS lightfm",
        "CREATE DATABASE mysql_demo_db WITH ENGINE = 'mysql', PARAMETERS = {\"host\": \"127.0.0.1\", \"port\": 3306, \"user\": \"root\", \"password\": \"\", \"database\": \"test\"}",
        "CREATE DATABASE IF NOT EXISTS f WITH ENGINE = 'files', PARAMETERS = {'path': '/tmp/x'}",
        "CREATE DATABASE plain WITH ENGINE = 'files'",
        "SHOW DATABASES",
        "CREATE PROJECT shop",
        "CREATE PROJECT IF NOT EXISTS shop",
        "DROP PROJECT shop",
        "DROP PROJECT IF EXISTS shop",
        "DROP DATABASE pg",
        "DROP DATABASE IF EXISTS pg",
        "CREATE MODEL lightfm_demo FROM mysql_demo_db (SELECT * FROM movie_lens_ratings) PREDICT movieId USING engine = 'lightfm', item_id = 'movieId', user_id = 'userId', threshold = 4, n_recommendations = 10, evaluation = true",
        "CREATE OR REPLACE MODEL IF NOT EXISTS mindsdb.m FROM demo (SELECT userId, movieId FROM movie_lens_ratings WHERE rating > 3) PREDICT movieId USING item_feature_columns = ['genres', 'release_year'], learning_rate = 0.05, random_state = -7, extra = NULL, nested = {'a': [1, 2.5, {'b': false}]}",
        "SELECT b.* FROM lightfm_demo AS b WHERE movieId = 100 USING recommender_type = 'item_item'",
        "SELECT * FROM m WHERE userId IN (1, 2) USING n_recommendations = 3, exclude_seen = false",
        "SELECT b.* FROM mysql_demo_db.movie_lens_ratings AS a JOIN lightfm_demo AS b WHERE a.userId IN (215, 216)",
        "EXPLAIN SELECT * FROM m WHERE userId = 1",
        "EXPLAIN ANALYZE VERBOSE SELECT * FROM m WHERE movieId = 3 USING recommender_type = 'item_item'",
        "DECLARE \"my cursor\" BINARY NO SCROLL CURSOR WITH HOLD FOR SELECT * FROM m WHERE userId = 1",
        "DECLARE c CURSOR FOR SELECT * FROM m WHERE movieId = 3 USING recommender_type = 'item_item'",
        "DESCRIBE lightfm_demo",
        "DESCRIBE MODEL lightfm_demo",
        "DESCRIBE lightfm_demo.info",
        "DESCRIBE MODEL mindsdb.lightfm_demo.2.features",
        "SHOW MODELS",
        "SHOW MODELS FROM mindsdb LIKE 'light%'",
        "SHOW MODELS LIKE 'light%' WHERE status = 'complete' AND version > 1",
        "SHOW TABLES",
        "SHOW FULL TABLES FROM demo LIKE 'movie%' WHERE Table_type = 'VIEW'",
        "DROP MODEL lightfm_demo",
        "DROP MODEL IF EXISTS mindsdb.lightfm_demo.2",
        "RETRAIN lightfm_demo",
        "RETRAIN mindsdb.lightfm_demo FROM demo (SELECT * FROM movie_lens_ratings) PREDICT movieId USING epochs = 20, active = 0",
        "FINETUNE lightfm_demo FROM demo (SELECT * FROM movie_lens_ratings WHERE timestamp > 100) USING epochs = 2",
        "SET model_active = lightfm_demo.1",
        "SET model_active = mindsdb.lightfm_demo.3",
        "COPY (SELECT * FROM m WHERE userId = 1) TO STDOUT",
        "COPY demo.movies (movieId, title) TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';', NULL 'n/a', QUOTE '''')",
        "COPY (SELECT 1) TO STDOUT WITH CSV HEADER",
        "COPY (SELECT * FROM m WHERE movieId = 3 USING recommender_type = 'item_item', n_recommendations = 5) TO STDOUT WITH (FORMAT csv, HEADER)",
        "COPY ( SELECT * FROM m USING recommender_type = 'user_user' ) TO STDOUT CSV HEADER;",
        "COPY (SELECT 1) TO STDOUT (FORMAT binary)",
        "COPY (SELECT 'it''s') TO STDOUT WITH (FORMAT text, DELIMITER '|', NULL '')",
        "COPY files.ratings FROM STDIN WITH (FORMAT csv, HEADER)",
        "COPY files.ratings (userId, movieId, rating) FROM STDIN",
        "CREATE TABLE files.recs AS SELECT * FROM m WHERE userId = 1",
        "INSERT INTO files.recs SELECT * FROM m WHERE userId = 2",
        "INSERT INTO files.recs (item_id_one, item_id_two) SELECT item_id_one, item_id_two FROM m WHERE movieId = 2 USING recommender_type = 'item_item'",
        "INSERT INTO files.ratings (movieId, userId) VALUES (1, 2), (3, 4)",
        "INSERT INTO files.ratings (movieId, userId) VALUES ($1, $2)",
        "CREATE TABLE files.picks (userId BIGINT, note TEXT NULL)",
        "CREATE TABLE IF NOT EXISTS files.picks (userId BIGINT)",
        "CREATE INDEX ix_picks ON files.picks (userId)",
        "CREATE TABLE IF NOT EXISTS files.top AS SELECT movieId, count(*) AS n FROM files.ratings GROUP BY movieId",
        "CREATE TABLE files.similar AS SELECT * FROM m WHERE movieId IN (1, 2) USING recommender_type = 'item_item', n_recommendations = 3",
    ];

    #[test]
    fn every_form_round_trips_through_display() {
        for sql in FORMS {
            let first = parse_statement(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            assert!(
                !matches!(first, Statement::Passthrough),
                "{sql} was not recognised"
            );
            let shown = first.to_string();
            let second = parse_statement(&shown).unwrap_or_else(|e| panic!("{shown}: {e}"));
            assert_eq!(first, second, "{sql} → {shown}");
        }
    }

    #[test]
    fn recognises_statement_parts() {
        match parse_statement(
            "CREATE MODEL p.m FROM db (SELECT 1) PREDICT x USING loss = warp, a.b = 1",
        )
        .unwrap()
        {
            Statement::CreateModel {
                name,
                source,
                predict,
                using,
                ..
            } => {
                assert_eq!(name.project.unwrap().value, "p");
                assert_eq!(name.name.value, "m");
                assert_eq!(source.database.value, "db");
                assert_eq!(predict.value, "x");
                assert_eq!(using[0].key, "loss");
                assert_eq!(using[0].value, UsingValue::Str("warp".into()));
                assert_eq!(using[1].key, "a.b");
            }
            other => panic!("{other:?}"),
        }
        match parse_statement("drop model m.12").unwrap() {
            Statement::DropModel { name, .. } => assert_eq!(name.version, Some(12)),
            other => panic!("{other:?}"),
        }
        match parse_statement(
            "CREATE DATABASE d WITH ENGINE = 'postgres', PARAMETERS = {\"port\": 5432}",
        )
        .unwrap()
        {
            Statement::CreateDatabase { parameters, .. } => {
                assert_eq!(parameters[0].0, "port");
                assert_eq!(parameters[0].1.to_json(), serde_json::json!(5432));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_sql_passes_through_and_queries_are_kept() {
        for sql in [
            "INSERT INTO t VALUES (1)",
            "SHOW server_version",
            "SET datestyle = 'ISO'",
            "BEGIN",
            "DESCRIBE",
            "EXPLAIN (FORMAT TEXT) SELECT 1",
            "EXPLAIN INSERT INTO t VALUES (1)",
            "DROP TABLE a, b",
            "DROP VIEW v CASCADE",
            "CREATE TABLE t (a INT)",
            "CREATE TEMPORARY TABLE t AS SELECT 1",
            "INSERT INTO pg.t VALUES (1)",
        ] {
            let parsed = parse_statement(sql);
            assert!(
                matches!(parsed, Ok(Statement::Passthrough)) || parsed.is_err(),
                "{sql}: {parsed:?}"
            );
        }
        assert!(matches!(
            parse_statement("SELECT 1").unwrap(),
            Statement::Query(_)
        ));
        assert!(matches!(
            parse_statement("DROP TABLE IF EXISTS mindsdb.m;").unwrap(),
            Statement::DropRelation {
                view: false,
                if_exists: true,
                ..
            }
        ));
    }

    #[test]
    fn malformed_statements_are_errors_with_a_position() {
        let e = parse_statement("CREATE MODEL m FROM db (SELECT 1) USING a = 1").unwrap_err();
        assert_eq!(e.code, "42601");
        assert!(e.message.contains("PREDICT"), "{}", e.message);
        let e = parse_statement("SELECT * FROM m USING k").unwrap_err();
        assert!(e.message.contains('='), "{}", e.message);
        let e = parse_statement("SELECT * FROM m USING k = 1 LIMIT 3").unwrap_err();
        assert!(
            e.message.contains("LIMIT goes before USING"),
            "{}",
            e.message
        );
        assert!(parse_statement("SELECT * FROM m LIMIT 3 USING k = 1").is_ok());
        let e = parse_statement("CREATE DATABASE d WITH ENGINE = 'files', PARAMETERS = [1]")
            .unwrap_err();
        assert!(e.message.contains("object"), "{}", e.message);
    }

    #[test]
    fn truncated_statements_never_panic() {
        for sql in FORMS {
            let chars: Vec<char> = sql.chars().collect();
            for cut in 0..chars.len() {
                let prefix: String = chars[..cut].iter().collect();
                let _ = parse_statement(&prefix);
                let _ = split_statements(&prefix);
            }
        }
    }

    #[test]
    fn random_token_sequences_never_panic() {
        const VOCAB: &[&str] = &[
            "CREATE",
            "MODEL",
            "ML_ENGINE",
            "DATABASE",
            "SHOW",
            "DROP",
            "DESCRIBE",
            "RETRAIN",
            "FINETUNE",
            "SET",
            "model_active",
            "SELECT",
            "FROM",
            "WHERE",
            "USING",
            "PREDICT",
            "IF",
            "NOT",
            "EXISTS",
            "OR",
            "REPLACE",
            "WITH",
            "ENGINE",
            "PARAMETERS",
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            ",",
            ".",
            ";",
            "=",
            ":",
            "'s'",
            "\"q\"",
            "1",
            ".2",
            "-",
            "x",
            "m",
            "*",
            "JOIN",
            "IN",
            "true",
            "NULL",
            "$1",
            "'",
            "\"",
            "--",
            "/*",
        ];
        let mut rng = SmallRng::seed_from_u64(7);
        for _ in 0..20_000 {
            let n = rng.random_range(1..16);
            let sql: Vec<&str> = (0..n)
                .map(|_| VOCAB[rng.random_range(0..VOCAB.len())])
                .collect();
            let sql = sql.join(" ");
            if let Ok(pieces) = split_statements(&sql) {
                for piece in pieces {
                    let _ = parse_statement(piece);
                }
            }
            let _ = parse_statement(&sql);
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
        assert!(parse_statement(&deep).is_err());
        let deep = format!(
            "CREATE ML_ENGINE e FROM lightfm USING x = {}",
            "[".repeat(5000)
        );
        assert!(parse_statement(&deep).is_err());
    }
}
