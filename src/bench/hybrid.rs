//! `recsql bench hybrid`: what side features buy, measured through SQL on an in-process
//! server. A seeded 10% of the users is held out entirely; a pure collaborative model and a
//! hybrid model (user and item features) are trained on the other users' ratings with
//! `evaluation = true`, whose seeded 80/20 split gives the warm users' held-out precision@10
//! and AUC. The held-out users are then joined with each model as a table of new users with
//! their features: the hybrid answers from their features, the pure model with the most
//! popular items (the popularity baseline). Prints one JSON object; asserts nothing.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;

use super::harness::{Harness, held_out_metrics, item_sets, ranked_lists, wait_complete};
use super::ranked::measure;

#[derive(Debug, Clone, clap::Args)]
pub struct HybridArgs {
    /// Ratings CSV (user, item, rating columns).
    #[arg(long)]
    pub ratings: PathBuf,
    /// User features CSV (the user id column and the feature columns).
    #[arg(long)]
    pub users: PathBuf,
    /// Item features CSV.
    #[arg(long)]
    pub items: PathBuf,
    #[arg(long, default_value = "userId")]
    pub user_col: String,
    #[arg(long, default_value = "movieId")]
    pub item_col: String,
    #[arg(long, default_value = "age,gender,occupation")]
    pub user_features: String,
    #[arg(long, default_value = "genres,release_year")]
    pub item_features: String,
    /// The fraction of users held out entirely (the cold-start users).
    #[arg(long, default_value_t = 0.1)]
    pub holdout: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// More USING options for both models, e.g. "loss = 'bpr', no_components = 32".
    #[arg(long, default_value = "")]
    pub using: String,
}

fn list(columns: &str) -> String {
    let quoted: Vec<String> = columns
        .split(',')
        .map(|c| format!("'{}'", c.trim()))
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// The header line and the lines of a CSV whose `column` value is in `keep`.
fn filter_csv(path: &PathBuf, column: &str, keep: &HashSet<i64>) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header = lines.next().ok_or("empty users file")?;
    let at = header
        .split(',')
        .position(|c| c == column)
        .ok_or_else(|| format!("{} has no column {column}", path.display()))?;
    let mut out = format!("{header}\n");
    for line in lines {
        let id = line.split(',').nth(at).and_then(|v| v.trim().parse().ok());
        if id.is_some_and(|id| keep.contains(&id)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

pub async fn run(a: &HybridArgs) -> Result<serde_json::Value, String> {
    let h = Harness::start("bench-hybrid").await?;
    h.add_file(&a.ratings, "ratings")?;
    h.add_file(&a.users, "users")?;
    h.add_file(&a.items, "items")?;
    let c = h.client().await?;
    let (u, i) = (&a.user_col, &a.item_col);

    // The held-out users and a table of them with their features.
    let mut all: Vec<i64> = c
        .query(
            &format!("SELECT DISTINCT \"{u}\" FROM files.ratings ORDER BY 1"),
            &[],
        )
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|r| r.get(0))
        .collect();
    all.shuffle(&mut SmallRng::seed_from_u64(a.seed));
    let n_out = ((all.len() as f64) * a.holdout).round() as usize;
    let held: HashSet<i64> = all[..n_out].iter().copied().collect();
    h.write_file("new_users", &filter_csv(&a.users, u, &held)?)?;

    let common = format!(
        "user_id = '{u}', item_id = '{i}', threshold = 4, evaluation = true, epochs = {}, num_threads = {}{}{}",
        a.epochs,
        a.threads,
        if a.using.is_empty() { "" } else { ", " },
        a.using
    );
    let source = format!(
        "files (SELECT * FROM ratings WHERE \"{u}\" NOT IN (SELECT \"{u}\" FROM new_users))"
    );
    let features = format!(
        "user_features = 'files.users', user_feature_columns = {}, item_features = 'files.items', item_feature_columns = {}",
        list(&a.user_features),
        list(&a.item_features)
    );
    let mut out = serde_json::json!({
        "users": all.len(),
        "held_out_users": n_out,
        "epochs": a.epochs,
        "threads": a.threads,
        "using": a.using,
    });
    for (name, extra) in [("cf", String::new()), ("hybrid", format!(", {features}"))] {
        let t = Instant::now();
        c.simple_query(&format!(
            "CREATE MODEL bench_{name} FROM {source} PREDICT \"{i}\" USING {common}{extra}"
        ))
        .await
        .map_err(|e| format!("CREATE MODEL bench_{name}: {e}"))?;
        let training = wait_complete(&c, &format!("bench_{name}")).await?;
        out[name] = serde_json::json!({
            "create_to_complete_s": t.elapsed().as_secs_f64(),
            "training_time_s": training,
            "warm": held_out_metrics(&c, &format!("bench_{name}")).await?,
        });
    }

    // The new users: their positives, and each model's full ranking for them.
    let positives = item_sets(
        &c,
        &format!(
            "SELECT \"{u}\", \"{i}\" FROM files.ratings WHERE rating >= 4 AND \"{u}\" IN (SELECT \"{u}\" FROM files.new_users)"
        ),
    )
    .await?;
    for (name, label) in [("hybrid", "from_features"), ("cf", "popularity")] {
        let t = Instant::now();
        let ranked = ranked_lists(
            &c,
            &format!(
                "SELECT n.\"{u}\", m.\"{i}\" FROM files.new_users AS n JOIN bench_{name} AS m ORDER BY n.\"{u}\", m.rank USING n_recommendations = 100000"
            ),
        )
        .await?;
        let m = measure(&ranked, &positives, 10);
        out["new_users"][label] = serde_json::json!({
            "precision_at_10": m.precision_at_k,
            "auc": m.auc,
            "users_evaluated": m.users,
            "query_ms": t.elapsed().as_secs_f64() * 1000.0,
        });
    }
    h.stop().await;
    Ok(out)
}
