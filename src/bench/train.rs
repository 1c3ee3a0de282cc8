//! `recsql bench train`: trains on a CSV of train positives (identity features, all other
//! hyper-parameters at LightFM's defaults), evaluates on the test positives with the train
//! positives excluded, and prints one JSON object on its last line (fit_seconds,
//! epoch_seconds, precision_at_k, recall_at_k, auc, reciprocal_rank, k, users_evaluated,
//! n_users, n_items, peak_rss_mb). Users and items are the union of both files.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::csv::ReaderBuilder;
use datafusion::arrow::csv::reader::Format;
use datafusion::arrow::datatypes::{DataType, Int64Type};

use crate::recommender::{
    Id, IdMap, Interactions, InteractionsBuilder, Loss, Model, ModelScorer, Params, evaluate,
};

#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// CSV of train positives (with a header row).
    #[arg(long)]
    pub train: PathBuf,
    /// CSV of test positives.
    #[arg(long)]
    pub test: PathBuf,
    #[arg(long, default_value = "userId")]
    pub user_col: String,
    #[arg(long, default_value = "movieId")]
    pub item_col: String,
    /// logistic, bpr, warp or warp-kos.
    #[arg(long, default_value = "warp")]
    pub loss: String,
    #[arg(long, default_value_t = 10)]
    pub no_components: usize,
    #[arg(long, default_value_t = 0.05)]
    pub learning_rate: f64,
    #[arg(long, default_value_t = 10)]
    pub max_sampled: usize,
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// k of precision@k and recall@k.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Time training only.
    #[arg(long)]
    pub no_eval: bool,
    /// Print only the JSON line.
    #[arg(long)]
    pub json: bool,
}

/// Reads the (user, item) id columns of a CSV as indices, interning ids as it goes (so
/// memory stays at 8 bytes per row however long the ids are).
pub fn read_pairs(
    path: &Path,
    user_col: &str,
    item_col: &str,
    users: &mut IdMap,
    items: &mut IdMap,
) -> Result<Vec<(u32, u32)>, String> {
    let open = || File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()));
    let format = Format::default().with_header(true);
    let (schema, _) = format
        .infer_schema(open()?, Some(1000))
        .map_err(|e| format!("cannot read the header of {}: {e}", path.display()))?;
    let col = |name: &str| {
        schema
            .index_of(name)
            .map_err(|_| format!("{} has no column {name}", path.display()))
    };
    let (ui, ii) = (col(user_col)?, col(item_col)?);
    // Read the two id columns as integers when the file has integers, otherwise as text.
    let mut fields = schema.fields().to_vec();
    for idx in [ui, ii] {
        let f = &fields[idx];
        let dt = if f.data_type() == &DataType::Int64 {
            DataType::Int64
        } else {
            DataType::Utf8
        };
        fields[idx] = Arc::new(f.as_ref().clone().with_data_type(dt).with_nullable(true));
    }
    let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
    let reader = ReaderBuilder::new(schema)
        .with_header(true)
        .with_batch_size(64 * 1024)
        .with_projection(vec![ui, ii])
        .build(open()?)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| format!("{}: {e}", path.display()))?;
        let get = |c: usize, r: usize| -> Option<Id> {
            let a = batch.column(c);
            if a.is_null(r) {
                return None;
            }
            match a.data_type() {
                DataType::Int64 => Some(Id::Int(a.as_primitive::<Int64Type>().value(r))),
                _ => Some(Id::Text(a.as_string::<i32>().value(r).to_string())),
            }
        };
        for r in 0..batch.num_rows() {
            if let (Some(u), Some(i)) = (get(0, r), get(1, r)) {
                out.push((users.intern(u), items.intern(i)));
            }
        }
    }
    Ok(out)
}

fn interactions(pairs: &[(u32, u32)], users: &IdMap, items: &IdMap) -> Interactions {
    let mut b = InteractionsBuilder::with_maps(users.clone(), items.clone(), None);
    for &(u, i) in pairs {
        b.push_index(u, i, None, 1.0);
    }
    b.build()
}

/// Runs the benchmark and returns the JSON object it prints.
pub fn train(args: &TrainArgs) -> Result<serde_json::Value, String> {
    let loss = Loss::parse(&args.loss).ok_or_else(|| {
        format!(
            "unknown loss {}; use one of {}",
            args.loss,
            Loss::NAMES.join(", ")
        )
    })?;
    let mut users = IdMap::new();
    let mut items = IdMap::new();
    let train_pairs = read_pairs(
        &args.train,
        &args.user_col,
        &args.item_col,
        &mut users,
        &mut items,
    )?;
    let test_pairs = read_pairs(
        &args.test,
        &args.user_col,
        &args.item_col,
        &mut users,
        &mut items,
    )?;
    let train = interactions(&train_pairs, &users, &items);
    drop(train_pairs);
    let test = interactions(&test_pairs, &users, &items);
    drop(test_pairs);
    let params = Params {
        loss,
        no_components: args.no_components,
        learning_rate: args.learning_rate,
        max_sampled: args.max_sampled,
        epochs: args.epochs,
        num_threads: args.threads,
        random_state: args.seed,
        ..Params::default()
    }
    .validate()
    .map_err(|e| e.to_string())?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| e.to_string())?;
    let mut epoch_seconds = Vec::with_capacity(args.epochs);
    let model = pool
        .install(|| {
            Model::fit(params, &train, None, None, &mut |_, _, secs| {
                epoch_seconds.push(secs);
                true
            })
        })
        .map_err(|e| e.to_string())?;
    let mut out = serde_json::json!({
        "implementation": "recsql",
        "threads": args.threads,
        "fit_seconds": epoch_seconds.iter().sum::<f64>(),
        "epoch_seconds": epoch_seconds,
        "n_users": users.len(),
        "n_items": items.len(),
        "k": args.k,
    });
    if !args.no_eval {
        let m = pool.install(|| evaluate(&ModelScorer::new(&model), &train, &test, args.k));
        out["precision_at_k"] = m.precision_at_k.into();
        out["recall_at_k"] = m.recall_at_k.into();
        out["auc"] = m.auc.into();
        out["reciprocal_rank"] = m.reciprocal_rank.into();
        out["ndcg_at_k"] = m.ndcg_at_k.into();
        out["users_evaluated"] = m.users_evaluated.into();
    }
    // Batch answers: top-10 unseen items for every user, 10 most similar items for every item.
    let artifact = crate::recommender::Artifact::new(model, &train);
    let all_users: Vec<u32> = (0..train.n_users() as u32).collect();
    let all_items: Vec<u32> = (0..train.n_items() as u32).collect();
    let t = std::time::Instant::now();
    let recs = pool.install(|| artifact.recommend(&all_users, 10, true, None));
    out["topk_all_users_ms"] = (t.elapsed().as_secs_f64() * 1000.0).into();
    let t = std::time::Instant::now();
    let sims = pool.install(|| artifact.similar_items(&all_items, 10));
    out["similar_items_all_ms"] = (t.elapsed().as_secs_f64() * 1000.0).into();
    out["answer_rows"] = (recs.iter().map(Vec::len).sum::<usize>()
        + sims.iter().map(Vec::len).sum::<usize>())
    .into();
    out["peak_rss_mb"] = super::peak_rss_mb().into();
    Ok(out)
}
