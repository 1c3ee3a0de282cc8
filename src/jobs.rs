//! Training jobs: run on a dedicated rayon pool, never on tokio's threads. A job turns the
//! source rows into interactions, optionally evaluates on a seeded 80/20 split, trains the
//! model that answers on all rows, saves it atomically, and records status, progress,
//! metrics and training time in the catalog. Jobs can be cancelled (DROP MODEL).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};

use crate::catalog::{Catalog, ModelVersion, Status, write_atomic_with};
use crate::error::{Error, Result, sqlstate};
use crate::recommender::artifact::Side;
use crate::recommender::encode::FeatureEncoder;
use crate::recommender::{
    Artifact, FeatureMatrix, IdMap, Interactions, InteractionsBuilder, Model, ModelScorer,
    Popularity, evaluate, random_split,
};
use crate::side_features::{SideRows, id_kind, ids, new_entity_rows, side_matrix};
use crate::source_rows::SourceRows;

/// Identifies a model version.
pub type Key = (String, String, u32);

pub fn key_of(m: &ModelVersion) -> Key {
    (m.project.clone(), m.name.clone(), m.version)
}

/// Progress of a running job.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub phase: &'static str,
    pub current: usize,
    pub total: usize,
}

struct Running {
    progress: Progress,
    cancel: Arc<AtomicBool>,
}

/// The training pool and the jobs on it.
pub struct Jobs {
    pool: rayon::ThreadPool,
    running: Mutex<HashMap<Key, Running>>,
}

impl Jobs {
    pub fn new() -> Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("recsql-train-{i}"))
            .build()
            .map_err(|e| Error::internal(format!("cannot start the training pool: {e}")))?;
        Ok(Jobs {
            pool,
            running: Mutex::new(HashMap::new()),
        })
    }

    pub fn progress(&self, key: &Key) -> Option<Progress> {
        self.lock().get(key).map(|r| r.progress.clone())
    }

    /// Stops every running job (server shutdown) and waits, up to `limit`, until they end.
    pub fn shutdown(&self, limit: std::time::Duration) {
        for r in self.lock().values() {
            r.cancel.store(true, Ordering::SeqCst);
        }
        let started = Instant::now();
        while !self.lock().is_empty() && started.elapsed() < limit {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Asks a running job to stop at its next epoch boundary.
    pub fn cancel(&self, key: &Key) {
        if let Some(r) = self.lock().get(key) {
            r.cancel.store(true, Ordering::SeqCst);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_progress(&self, key: &Key, phase: &'static str, current: usize, total: usize) {
        if let Some(r) = self.lock().get_mut(key) {
            r.progress = Progress {
                phase,
                current,
                total,
            };
        }
    }

    /// Starts training `version` from `batches`; `done` receives the artifact on success.
    /// The receiver answers when the job has ended and the catalog says how: Ok for a
    /// complete version, the training's error otherwise (for `join_learn_process`).
    pub fn start(
        self: &Arc<Self>,
        catalog: Arc<Catalog>,
        data_dir: PathBuf,
        job: Job,
        done: impl FnOnce(&ModelVersion, Arc<Artifact>) + Send + 'static,
    ) -> tokio::sync::oneshot::Receiver<Result<()>> {
        let (ended, receiver) = tokio::sync::oneshot::channel();
        let Job {
            version,
            rows,
            features,
            base,
        } = job;
        let key = key_of(&version);
        let cancel = Arc::new(AtomicBool::new(false));
        self.lock().insert(
            key.clone(),
            Running {
                progress: Progress {
                    phase: "generating",
                    current: 0,
                    total: version.spec.params.epochs * if version.spec.evaluation { 2 } else { 1 },
                },
                cancel: cancel.clone(),
            },
        );
        let jobs = self.clone();
        self.pool.spawn(move || {
            let started = Instant::now();
            let result = jobs.train(
                &catalog,
                &data_dir,
                &version,
                rows,
                &features,
                base.as_deref(),
                &cancel,
                started,
            );
            jobs.lock().remove(&key);
            let (project, name, v) = &key;
            let outcome = match result {
                Ok((artifact, finished)) => {
                    tracing::info!(model = %name, version = v, seconds = finished.training_time, "model trained");
                    done(&finished, Arc::new(artifact));
                    Ok(())
                }
                Err(e) => {
                    if cancel.load(Ordering::SeqCst) {
                        tracing::info!(model = %name, version = v, "training stopped: {}", e.message);
                    } else {
                        tracing::warn!(model = %name, version = v, "training failed: {}", e.message);
                    }
                    let _ = catalog.update_model(project, name, *v, |m| {
                        m.status = Status::Error;
                        m.error = Some(e.message.clone());
                        m.training_time = Some(started.elapsed().as_secs_f64());
                    });
                    Err(e)
                }
            };
            // Nobody may be waiting (an asynchronous CREATE MODEL, or a client gone).
            let _ = ended.send(outcome);
        });
        receiver
    }

    /// Trains `mv` from the source `rows`: from scratch, or, with `base`, by continuing to
    /// train the base version's model on the new rows (fine-tuning; new users and items grow
    /// it).
    #[allow(clippy::too_many_arguments)]
    fn train(
        &self,
        catalog: &Catalog,
        data_dir: &std::path::Path,
        mv: &ModelVersion,
        rows: SourceRows,
        features: &SideRows,
        base: Option<&Artifact>,
        cancel: &AtomicBool,
        started: Instant,
    ) -> Result<(Artifact, ModelVersion)> {
        let key = key_of(mv);
        let spec = &mv.spec;
        let x = interactions(rows, &mv.spec, base, cancel)?;
        if x.n_positives() == 0 {
            return Err(Error::invalid_value(
                "the training data has no positive interactions: every rating is below the threshold",
            )
            .with_hint("lower USING threshold, or check rating_column"));
        }
        let params = spec
            .params
            .clone()
            .validate()
            .map_err(|e| Error::invalid_value(e.to_string()))?;
        let epochs = params.epochs;
        let [user_side, item_side] = SideInput::both(mv, features, &x);
        let (user_matrix, user_encoder) = user_side.matrix(spec.identity_features)?;
        let (item_matrix, item_encoder) = item_side.matrix(spec.identity_features)?;
        let evaluation = spec.evaluation && base.is_none();
        let total = if evaluation { 2 * epochs } else { epochs };
        catalog.update_model(&mv.project, &mv.name, mv.version, |m| {
            m.status = Status::Training
        })?;

        let mut metrics = serde_json::Map::new();
        let mut offset = 0;
        if evaluation {
            let (train, test) = random_split(&x, 0.2, 42);
            let model = Model::fit(
                params.clone(),
                &train,
                user_matrix.clone(),
                item_matrix.clone(),
                &mut |e, _, _| {
                    self.set_progress(&key, "evaluation", e, total);
                    !cancel.load(Ordering::SeqCst)
                },
            )
            .map_err(fit_error)?;
            let m = evaluate(&ModelScorer::new(&model), &train, &test, 10);
            let base = evaluate(&Popularity::new(&train), &train, &test, 10);
            metrics.insert("test".into(), metrics_json(&m));
            metrics.insert("popularity_baseline".into(), metrics_json(&base));
            metrics.insert(
                "train".into(),
                metrics_json(&evaluate(&ModelScorer::new(&model), &test, &train, 10)),
            );
            offset = epochs;
        }
        let mut epoch_seconds = Vec::with_capacity(epochs);
        let mut progress = |e: usize, _: usize, secs: f64| {
            epoch_seconds.push(secs);
            self.set_progress(&key, "training", offset + e, total);
            !cancel.load(Ordering::SeqCst)
        };
        let artifact = match base {
            None => {
                let model = Model::fit(params, &x, user_matrix, item_matrix, &mut progress)
                    .map_err(fit_error)?;
                Artifact::new(model, &x).with_encoders(user_encoder, item_encoder)
            }
            Some(base) => {
                let mut model = base.model.clone();
                // New users and items of a hybrid model come with their feature rows.
                for input in [&user_side, &item_side] {
                    let from = match input.side {
                        Side::Users => model.n_users(),
                        Side::Items => model.n_items(),
                    };
                    if let (Some(encoder), Some(side), Some(rows)) =
                        (base.encoder(input.side), input.features, input.rows)
                        && input.map.len() > from
                    {
                        let new = new_entity_rows(
                            rows,
                            side,
                            input.id_col,
                            input.map,
                            input.text_ids,
                            encoder,
                            from,
                        )?;
                        model.add_entities(input.side == Side::Items, &new, encoder.identity);
                    }
                }
                model
                    .fit_partial(&x, epochs, &mut progress)
                    .map_err(fit_error)?;
                Artifact::finetuned(base, model, &x)
            }
        };
        let path = data_dir.join(mv.file());
        write_atomic_with(&path, |w| artifact.save(w))
            .map_err(|e| Error::io(&format!("cannot save model to {}", path.display()), e))?;
        if cancel.load(Ordering::SeqCst) {
            let _ = std::fs::remove_file(&path);
            return Err(cancelled());
        }
        let training_time = started.elapsed().as_secs_f64();
        let finished = catalog
            .update_model(&mv.project, &mv.name, mv.version, |m| {
                m.status = Status::Complete;
                m.error = None;
                m.training_time = Some(training_time);
                m.metrics =
                    (!metrics.is_empty()).then(|| serde_json::Value::Object(metrics.clone()));
                m.epoch_seconds = epoch_seconds.clone();
                m.n_users = artifact.users.len();
                m.n_items = artifact.items.len();
                m.n_interactions = artifact.n_interactions();
            })?
            .ok_or_else(cancelled)?;
        Ok((artifact, finished))
    }
}

/// One side of a training job: its feature settings, feature rows and ids.
struct SideInput<'a> {
    side: Side,
    features: Option<&'a crate::catalog::SideFeatures>,
    rows: Option<&'a Vec<RecordBatch>>,
    id_col: &'a str,
    map: &'a IdMap,
    text_ids: bool,
}

impl<'a> SideInput<'a> {
    fn both(mv: &'a ModelVersion, rows: &'a SideRows, x: &'a Interactions) -> [SideInput<'a>; 2] {
        [
            SideInput {
                side: Side::Users,
                features: mv.spec.user_features.as_ref(),
                rows: rows.users.as_ref(),
                id_col: &mv.spec.user_col,
                map: &x.users,
                text_ids: mv.user_id_text,
            },
            SideInput {
                side: Side::Items,
                features: mv.spec.item_features.as_ref(),
                rows: rows.items.as_ref(),
                id_col: &mv.spec.item_col,
                map: &x.items,
                text_ids: mv.item_id_text,
            },
        ]
    }

    /// The side's feature matrix and encoder, when it has side features.
    fn matrix(&self, identity: bool) -> Result<(Option<FeatureMatrix>, Option<FeatureEncoder>)> {
        match (self.features, self.rows) {
            (Some(side), Some(rows)) => {
                let (m, e) =
                    side_matrix(rows, side, self.id_col, self.map, self.text_ids, identity)?;
                Ok((Some(m), Some(e)))
            }
            _ => Ok((None, None)),
        }
    }
}

/// The error of a job stopped by DROP MODEL or shutdown.
fn cancelled() -> Error {
    Error::new(sqlstate::QUERY_CANCELED, "training was cancelled")
}

fn fit_error(e: crate::recommender::FitError) -> Error {
    match e {
        crate::recommender::FitError::Cancelled => cancelled(),
        other => Error::invalid_value(other.to_string()),
    }
}

fn metrics_json(m: &crate::recommender::Metrics) -> serde_json::Value {
    serde_json::json!({
        "k": m.k,
        "precision_at_k": m.precision_at_k,
        "recall_at_k": m.recall_at_k,
        "auc": m.auc,
        "reciprocal_rank": m.reciprocal_rank,
        "ndcg_at_k": m.ndcg_at_k,
        "users_evaluated": m.users_evaluated,
    })
}

/// What one training job works from.
pub struct Job {
    pub version: ModelVersion,
    /// The source rows, arriving while the job reads them.
    pub rows: SourceRows,
    pub features: SideRows,
    /// For FINETUNE: the version to continue from.
    pub base: Option<Arc<Artifact>>,
}

/// Builds interactions from the source rows (rows with a NULL id are skipped). Each batch is
/// freed as soon as its rows are in, so the source rows and the interactions are never both
/// held whole. Stops early when `cancel` is set.
pub fn interactions(
    rows: SourceRows,
    spec: &crate::catalog::ModelSpec,
    base: Option<&Artifact>,
    cancel: &AtomicBool,
) -> Result<crate::recommender::Interactions> {
    let mut b = match base {
        Some(a) => InteractionsBuilder::with_maps(a.users.clone(), a.items.clone(), spec.threshold),
        None => InteractionsBuilder::new(spec.threshold),
    };
    // Fine-tuning trains on the new rows only, but what users interacted with before stays
    // known: with the sampling losses it is never drawn as a negative. The old rows enter as
    // known negatives (value -1), which WARP, k-OS and BPR skip as training rows; a new row
    // for the same pair replaces its old one. Logistic samples no negatives and would train
    // on them, so it goes without. (`recsql bench finetune` on ml-100k, WARP, 10 epochs:
    // held-out P@10 0.1451 against 0.1470 when old items could be drawn as negatives, and
    // 0.1538 for a full retrain; the difference between the two is within run-to-run noise.)
    if let Some(a) = base
        && spec.params.loss != crate::recommender::Loss::Logistic
    {
        for u in 0..a.users.len() as u32 {
            for &i in a.known(u) {
                b.push_index(u, i, Some(f64::NAN), 1.0);
            }
        }
    }
    for batch in rows {
        let batch = batch?;
        if cancel.load(Ordering::SeqCst) {
            return Err(cancelled());
        }
        let schema = batch.schema();
        let col = |name: &str| schema.index_of(name).ok().map(|i| batch.column(i).clone());
        let users = col(&spec.user_col)
            .ok_or_else(|| Error::invalid_value(format!("no column {}", spec.user_col)))?;
        let items = col(&spec.item_col)
            .ok_or_else(|| Error::invalid_value(format!("no column {}", spec.item_col)))?;
        let u_text = id_kind(users.data_type()).unwrap_or(true);
        let i_text = id_kind(items.data_type()).unwrap_or(true);
        let us = ids(users.as_ref(), u_text)?;
        let is = ids(items.as_ref(), i_text)?;
        let ratings = match col(&spec.rating_col) {
            Some(r) => Some(cast(r.as_ref(), &DataType::Float64).map_err(|e| {
                Error::invalid_value(format!("column {} is not numeric: {e}", spec.rating_col))
            })?),
            None => None,
        };
        let ratings = ratings
            .as_ref()
            .map(|r| r.as_primitive::<Float64Type>().clone());
        for row in 0..batch.num_rows() {
            let (Some(u), Some(i)) = (us[row].clone(), is[row].clone()) else {
                continue;
            };
            let rating = ratings.as_ref().map(|r| {
                if r.is_null(row) {
                    f64::NAN
                } else {
                    r.value(row)
                }
            });
            b.push(u, i, rating, 1.0);
        }
    }
    Ok(b.build())
}
