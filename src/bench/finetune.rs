//! `recsql bench finetune`: fine-tuning against a full retrain, through SQL on an in-process
//! server. A seeded 10% of the ratings is held out for testing; the rest, ordered by
//! timestamp, is split into the earliest 90% and the newest 10%. A model is created on the
//! earliest part and FINETUNEd with the newest; a full model is created on both parts. It
//! reports both training times, both models' held-out precision@10 and AUC (full rankings
//! of the items each user has not rated in training), and what users who first appear in the
//! newest part get. Prints one JSON object; asserts nothing.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;

use super::harness::{Harness, ranked_lists, wait_complete};
use super::ranked::measure;

#[derive(Debug, Clone, clap::Args)]
pub struct FinetuneArgs {
    /// Ratings CSV with user, item, rating and timestamp columns.
    #[arg(long)]
    pub ratings: PathBuf,
    #[arg(long, default_value = "userId")]
    pub user_col: String,
    #[arg(long, default_value = "movieId")]
    pub item_col: String,
    #[arg(long, default_value = "rating")]
    pub rating_col: String,
    #[arg(long, default_value = "timestamp")]
    pub time_col: String,
    /// The fraction of ratings held out for testing.
    #[arg(long, default_value_t = 0.1)]
    pub test: f64,
    /// The newest fraction of the training ratings, used to fine-tune.
    #[arg(long, default_value_t = 0.1)]
    pub newest: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// More USING options for all models, e.g. "loss = 'bpr'".
    #[arg(long, default_value = "")]
    pub using: String,
    /// USING options of the FINETUNE statement, e.g. "epochs = 5".
    #[arg(long, default_value = "")]
    pub finetune_using: String,
}

/// A ratings row: (user, item, rating, timestamp, the line).
type Line<'a> = (i64, i64, f64, i64, &'a str);

fn parse<'a>(text: &'a str, a: &FinetuneArgs) -> Result<(&'a str, Vec<Line<'a>>), String> {
    let mut lines = text.lines();
    let header = lines.next().ok_or("empty ratings file")?;
    let col = |name: &str| {
        header
            .split(',')
            .position(|c| c == name)
            .ok_or_else(|| format!("the ratings file has no column {name}"))
    };
    let (u, i, r, t) = (
        col(&a.user_col)?,
        col(&a.item_col)?,
        col(&a.rating_col)?,
        col(&a.time_col)?,
    );
    let mut rows = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        let num = |k: usize| f.get(k).map(|v| v.trim()).unwrap_or("");
        let bad = || format!("cannot read the ratings line {line:?}");
        rows.push((
            num(u).parse().map_err(|_| bad())?,
            num(i).parse().map_err(|_| bad())?,
            num(r).parse().map_err(|_| bad())?,
            num(t).parse().map_err(|_| bad())?,
            line,
        ));
    }
    Ok((header, rows))
}

fn csv(header: &str, rows: &[Line<'_>]) -> String {
    let mut out = String::with_capacity(rows.len() * 24);
    out.push_str(header);
    out.push('\n');
    for r in rows {
        out.push_str(r.4);
        out.push('\n');
    }
    out
}

pub async fn run(a: &FinetuneArgs) -> Result<serde_json::Value, String> {
    let text =
        std::fs::read_to_string(&a.ratings).map_err(|e| format!("{}: {e}", a.ratings.display()))?;
    let (header, mut rows) = parse(&text, a)?;
    let n_rows = rows.len();
    rows.shuffle(&mut SmallRng::seed_from_u64(a.seed));
    let n_test = (rows.len() as f64 * a.test).round() as usize;
    let (test, pool) = rows.split_at_mut(n_test);
    pool.sort_by_key(|r| (r.3, r.0, r.1));
    let cut = pool.len() - (pool.len() as f64 * a.newest).round() as usize;
    let (early, newest) = pool.split_at(cut);

    let h = Harness::start("bench-finetune").await?;
    h.write_file("early", &csv(header, early))?;
    h.write_file("newest", &csv(header, newest))?;
    h.write_file("pool", &csv(header, pool))?;
    let c = h.client().await?;
    let (u, i) = (&a.user_col, &a.item_col);
    let using = format!(
        "user_id = '{u}', item_id = '{i}', rating_column = '{}', threshold = 4, epochs = {}, num_threads = {}{}{}",
        a.rating_col,
        a.epochs,
        a.threads,
        if a.using.is_empty() { "" } else { ", " },
        a.using
    );
    let mut out = serde_json::json!({
        "ratings": n_rows,
        "early": early.len(),
        "newest": newest.len(),
        "test": test.len(),
        "epochs": a.epochs,
        "threads": a.threads,
        "using": a.using,
    });

    // Each statement's wall time to complete, and the training time the models table reports.
    let timed = async |name: &str, sql: String| -> Result<serde_json::Value, String> {
        let t = Instant::now();
        c.simple_query(&sql)
            .await
            .map_err(|e| format!("{sql}: {e}"))?;
        let training = wait_complete(&c, name).await?;
        Ok(serde_json::json!({
            "to_complete_s": t.elapsed().as_secs_f64(),
            "training_time_s": training,
        }))
    };
    out["base"] = timed(
        "ft",
        format!("CREATE MODEL ft FROM files (SELECT * FROM early) PREDICT \"{i}\" USING {using}"),
    )
    .await?;
    out["finetune"] = timed(
        "ft",
        format!(
            "FINETUNE ft FROM files (SELECT * FROM newest){}",
            if a.finetune_using.is_empty() {
                String::new()
            } else {
                format!(" USING {}", a.finetune_using)
            }
        ),
    )
    .await?;
    out["full_retrain"] = timed(
        "full",
        format!("CREATE MODEL full FROM files (SELECT * FROM pool) PREDICT \"{i}\" USING {using}"),
    )
    .await?;

    // Held-out accuracy of both, over full rankings of each test user's unseen items.
    let mut positives: HashMap<i64, HashSet<i64>> = HashMap::new();
    for r in test.iter().filter(|r| r.2 >= 4.0) {
        positives.entry(r.0).or_default().insert(r.1);
    }
    let seen_early: HashSet<i64> = early.iter().map(|r| r.0).collect();
    let new_users: HashSet<i64> = newest
        .iter()
        .map(|r| r.0)
        .filter(|u| !seen_early.contains(u))
        .collect();
    let mut users: Vec<i64> = positives.keys().chain(&new_users).copied().collect();
    users.sort_unstable();
    users.dedup();
    let users: Vec<String> = users.iter().map(|u| u.to_string()).collect();
    let mut seen: HashMap<i64, HashSet<i64>> = HashMap::new();
    for r in pool.iter() {
        seen.entry(r.0).or_default().insert(r.1);
    }
    let unseen = |u: &i64, list: &[i64], k: usize| -> Vec<i64> {
        let s = seen.get(u);
        list.iter()
            .filter(|i| s.is_none_or(|s| !s.contains(i)))
            .take(k)
            .copied()
            .collect()
    };
    let popular = ranked_lists(
        &c,
        &format!("SELECT -1, \"{i}\" FROM ft WHERE \"{u}\" = -1 ORDER BY rank USING n_recommendations = 100"),
    )
    .await?
    .remove(&-1)
    .unwrap_or_default();
    // The popularity baseline: the most popular items each user has not rated in training.
    let pop_ranked: HashMap<i64, Vec<i64>> = positives
        .keys()
        .chain(&new_users)
        .map(|u| (*u, unseen(u, &popular, 10)))
        .collect();
    let pos_new: HashMap<i64, HashSet<i64>> = positives
        .iter()
        .filter(|(u, _)| new_users.contains(u))
        .map(|(u, p)| (*u, p.clone()))
        .collect();
    for model in ["ft", "full"] {
        let ranked = ranked_lists(
            &c,
            &format!(
                "SELECT \"{u}\", \"{i}\" FROM {model} WHERE \"{u}\" IN ({}) ORDER BY \"{u}\", rank USING n_recommendations = 100000",
                users.join(", ")
            ),
        )
        .await?;
        let all = measure(&ranked, &positives, 10);
        let new = measure(&ranked, &pos_new, 10);
        // A new user's list is personal when it is not the popularity list.
        let personal = new_users
            .iter()
            .filter(|u| {
                ranked
                    .get(u)
                    .is_some_and(|list| list[..list.len().min(10)] != pop_ranked[u][..])
            })
            .count();
        out[model]["held_out"] = serde_json::to_value(all).map_err(|e| e.to_string())?;
        out[model]["new_users"] = serde_json::json!({
            "count": new_users.len(),
            "with_test_positives": new.users,
            "precision_at_10": new.precision_at_k,
            "auc": new.auc,
            "personal_lists": personal,
        });
    }
    out["popularity"] = serde_json::json!({
        "held_out_precision_at_10": measure(&pop_ranked, &positives, 10).precision_at_k,
        "new_users_precision_at_10": measure(&pop_ranked, &pos_new, 10).precision_at_k,
    });
    h.stop().await;
    Ok(out)
}
