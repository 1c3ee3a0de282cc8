//! Cold start through the wire: users and items a hybrid model has not seen, answered from
//! their features: by id (their row in the model's feature table), by feature values in
//! WHERE, and in a prediction join with a table of new users.

use std::collections::{HashMap, HashSet};

use tokio_postgres::Client;

use crate::common::*;
use crate::models::wait_trained;

/// Users 1..=200 rate the items of their taste group (their occupation); users 201..=240
/// and item 81 are in the feature tables only. Items 1..=4 are rated by everyone, so the
/// most popular items are not what a group likes.
fn write_data(dir: &std::path::Path) {
    let group = |x: i64| x % 4;
    let mut ratings = String::from("userId,movieId,rating\n");
    let mut users = String::from("userId,occupation,age\n");
    let mut new_users = users.clone();
    for u in 1..=240i64 {
        let line = format!("{u},o{},{}\n", group(u), 20 + u % 30);
        users.push_str(&line);
        if u > 200 {
            new_users.push_str(&line);
            continue;
        }
        for i in 1..=4 {
            ratings.push_str(&format!("{u},{i},5\n"));
        }
        for k in 0..8 {
            let i = 5 + group(u) + 4 * ((u * 7 + k * 3) % 19);
            ratings.push_str(&format!("{u},{i},5\n"));
        }
        ratings.push_str(&format!(
            "{u},{},2\n",
            5 + (group(u) + 1) % 4 + 4 * (u % 19)
        ));
    }
    // Later ratings of some new users, for FINETUNE.
    let mut later = String::from("userId,movieId,rating\n");
    for u in 201..=220i64 {
        for k in 0..6 {
            let i = 5 + group(u) + 4 * ((u * 5 + k * 7) % 19);
            later.push_str(&format!("{u},{i},5\n"));
        }
    }
    let mut items = String::from("movieId,genre\n");
    for i in 1..=81i64 {
        items.push_str(&format!("{i},g{}\n", group(i - 1)));
    }
    for (name, text) in [
        ("ratings", ratings),
        ("users", users),
        ("new_users", new_users),
        ("later", later),
        ("items", items),
    ] {
        std::fs::write(dir.join(format!("files/{name}.csv")), text).unwrap();
    }
}

async fn lists(c: &Client, sql: &str) -> HashMap<i64, Vec<i64>> {
    let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
    for r in c.query(sql, &[]).await.unwrap() {
        out.entry(r.get(0)).or_default().push(r.get(1));
    }
    out
}

fn precision_at_10(lists: &HashMap<i64, Vec<i64>>, positives: &HashMap<i64, HashSet<i64>>) -> f64 {
    let total: f64 = positives
        .iter()
        .map(|(u, pos)| {
            let list = lists.get(u).map(|l| &l[..]).unwrap_or(&[]);
            list.iter().take(10).filter(|i| pos.contains(i)).count() as f64 / 10.0
        })
        .sum();
    total / positives.len() as f64
}

#[tokio::test]
async fn new_users_and_items_are_answered_from_their_features() {
    let dir = temp_data_dir("cold-start");
    write_data(&dir);
    let server = TestServer::start(&dir).await;
    let c = server.connect().await;
    let using =
        "user_id = 'userId', item_id = 'movieId', threshold = 4, epochs = 20, num_threads = 1";
    c.simple_query(&format!(
        "CREATE MODEL hy FROM files (SELECT * FROM ratings) PREDICT movieId USING {using}, \
         user_features = 'files.users', user_feature_columns = ['occupation', 'age'], \
         item_features = 'files.items', item_feature_columns = ['genre']"
    ))
    .await
    .unwrap();
    c.simple_query(&format!(
        "CREATE MODEL cf FROM files (SELECT * FROM ratings) PREDICT movieId USING {using}"
    ))
    .await
    .unwrap();
    assert_eq!(wait_trained(&c, "hy").await, ("complete".into(), None));
    assert_eq!(wait_trained(&c, "cf").await, ("complete".into(), None));

    // A new user asked about by id is described by their row in the model's user feature
    // table, exactly as the same values written in WHERE describe them.
    let by_id = lists(
        &c,
        "SELECT user_id, item_id FROM hy WHERE userId = 230 ORDER BY rank",
    )
    .await;
    let by_values = lists(
        &c,
        "SELECT 230::bigint, item_id FROM hy WHERE occupation = 'o2' AND age = 40 ORDER BY rank",
    )
    .await;
    assert_eq!(by_id[&230].len(), 10);
    assert_eq!(by_id, by_values);
    // The same as a prepared statement, with the values as parameters.
    let prepared: Vec<i64> = c
        .query(
            "SELECT item_id FROM hy WHERE occupation = $1 AND age = $2 ORDER BY rank",
            &[&"o2", &40.0f64],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(prepared, by_id[&230]);
    // Without an id, the subject column is NULL.
    let row = c
        .query_one(
            "SELECT user_id FROM hy WHERE occupation = 'o2' LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<i64>>(0), None);

    // A prediction join with a table of new users answers each from their features: the
    // items everyone likes and their group's, where a pure model can only offer the most
    // popular ones.
    let positives: HashMap<i64, HashSet<i64>> = (201..=240i64)
        .map(|u| {
            (
                u,
                (1..=80)
                    .filter(|&i| i <= 4 || (i - 1) % 4 == u % 4)
                    .collect(),
            )
        })
        .collect();
    let join = |m: &str| {
        format!(
            "SELECT n.userId, p.movieId FROM files.new_users AS n JOIN {m} AS p ORDER BY n.userId, p.rank"
        )
    };
    let hybrid = lists(&c, &join("hy")).await;
    let popular = lists(&c, &join("cf")).await;
    assert_eq!(hybrid.len(), 40);
    assert!(hybrid.values().all(|l| l.len() == 10));
    let (p_hybrid, p_popular) = (
        precision_at_10(&hybrid, &positives),
        precision_at_10(&popular, &positives),
    );
    assert!(
        p_hybrid >= 0.8 && p_hybrid > p_popular + 0.2,
        "new users: precision@10 from features {p_hybrid:.3}, popularity {p_popular:.3}"
    );

    // item_item for a new item, by its features or by its id (its row in files.items).
    for (sql, genre) in [
        (
            "SELECT item_id_one, item_id_two FROM hy WHERE genre = 'g1' USING recommender_type = 'item_item'",
            1,
        ),
        (
            "SELECT item_id_one, item_id_two FROM hy WHERE movieId = 81 USING recommender_type = 'item_item'",
            0,
        ),
    ] {
        let rows = c.query(sql, &[]).await.unwrap();
        assert_eq!(rows.len(), 10, "{sql}");
        let same_genre = rows
            .iter()
            .filter(|r| (r.get::<_, i64>(1) - 1) % 4 == genre)
            .count();
        assert!(same_genre >= 8, "{sql}: {same_genre} of 10 share the genre");
    }

    // Values the model never saw, and features compared other than by equality.
    let err = c
        .query("SELECT * FROM hy WHERE occupation = 'astronaut'", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42704", "{}", message(&err));
    let err = c
        .query("SELECT * FROM hy WHERE age > 30", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "0A000", "{}", message(&err));
    assert!(message(&err).contains("age = <value>"), "{}", message(&err));

    // FINETUNE with ratings of some new users grows the hybrid model with them (identity
    // and side features); everyone keeps getting their group's items.
    c.simple_query("FINETUNE hy FROM files (SELECT * FROM later) USING epochs = 5")
        .await
        .unwrap();
    // Version 2 becomes active when it completes.
    let started = std::time::Instant::now();
    loop {
        let v2 = c
            .query_one(
                "SELECT status, error, active FROM models WHERE name = 'hy' AND version = 2",
                &[],
            )
            .await
            .unwrap();
        let status: String = v2.get(0);
        assert_ne!(status, "error", "{:?}", v2.get::<_, Option<String>>(1));
        if status == "complete" && v2.get::<_, bool>(2) {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(300));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let after = lists(
        &c,
        "SELECT user_id, item_id FROM hy WHERE userId IN (1, 2, 205, 206, 230) ORDER BY user_id, rank",
    )
    .await;
    let later_rated: HashSet<(i64, i64)> = (201..=220i64)
        .flat_map(|u| (0..6).map(move |k| (u, 5 + u % 4 + 4 * ((u * 5 + k * 7) % 19))))
        .collect();
    for (u, list) in &after {
        assert_eq!(list.len(), 10, "user {u}");
        assert!(
            list.iter().all(|i| !later_rated.contains(&(*u, *i))),
            "user {u} was recommended an item they rated: {list:?}"
        );
        let liked = list
            .iter()
            .filter(|&&i| i <= 4 || (i - 1) % 4 == u % 4)
            .count();
        assert!(
            liked >= 8,
            "user {u}: {liked} of 10 fit their group: {list:?}"
        );
    }
    server.stop().await;
}
