//! The factorisation model: user and item feature embeddings and biases (f32), their
//! learning-rate accumulators, and training with LightFM's losses and schedules.
//!
//! `fit` trains from a fresh initialisation; `fit_partial` continues from the current
//! parameters and can grow the model with new users and items (new identity features get
//! fresh embeddings, everything learned is kept). Scoring: `ŷ = b_u + b_i + p_u · q_i`,
//! where p_u and q_i are feature-weighted sums of embeddings. Pure and synchronous.

use std::fmt;

use aligned_vec::{AVec, ConstAlign};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use super::features::FeatureMatrix;
use super::interactions::Interactions;
use super::params::{Schedule, ValidParams};
use super::sgd;

/// Why training stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FitError {
    /// Parameters became NaN or infinite.
    Diverged { epoch: usize },
    /// Feature matrices that do not fit the interactions or the model.
    Shape(String),
    /// The caller asked to stop.
    Cancelled,
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitError::Diverged { epoch } => write!(
                f,
                "training diverged in epoch {epoch}: some parameters are no longer finite; lower learning_rate, or normalise feature values and sample weights"
            ),
            FitError::Shape(m) => f.write_str(m),
            FitError::Cancelled => f.write_str("training was cancelled"),
        }
    }
}

impl std::error::Error for FitError {}

/// Embedding-sized parameter arrays start on a cache line, so that with d a multiple of 16 no
/// row shares a line with the next one: a row update touches d/16 lines instead of one more,
/// and Hogwild threads updating neighbouring rows do not fight over a shared line (with the
/// bias lines of training, ml-100k WARP epochs on two threads took about 10% less time).
pub type Aligned = AVec<f32, ConstAlign<64>>;

/// One side (users or items) of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Side {
    pub features: FeatureMatrix,
    /// n_features × d, row-major.
    pub emb: Aligned,
    pub bias: Vec<f32>,
    /// Adagrad: sum of squared gradients (starts at 1). Adadelta: E[g²] (starts at 0).
    pub emb_g: Aligned,
    pub bias_g: Vec<f32>,
    /// Adadelta: E[Δ²] (starts at 0). Empty under adagrad, which has no second accumulator
    /// (at d = 64 on the 20M-interaction synthetic set, 42 MB not allocated).
    pub emb_m: Aligned,
    pub bias_m: Vec<f32>,
}

impl Side {
    fn init(features: FeatureMatrix, d: usize, schedule: Schedule, rng: &mut SmallRng) -> Side {
        let n = features.n_cols();
        let mut s = Side {
            features,
            emb: Aligned::new(0),
            bias: Vec::new(),
            emb_g: Aligned::new(0),
            bias_g: Vec::new(),
            emb_m: Aligned::new(0),
            bias_m: Vec::new(),
        };
        s.grow_params(n, d, schedule, rng);
        s
    }

    /// Adds parameters for features `n_features_now..n` (LightFM's initialisation).
    fn grow_params(&mut self, n: usize, d: usize, schedule: Schedule, rng: &mut SmallRng) {
        let g0 = match schedule {
            Schedule::Adagrad => 1.0,
            Schedule::Adadelta => 0.0,
        };
        let old = self.bias.len();
        for _ in old..n {
            for _ in 0..d {
                self.emb
                    .push(((rng.random::<f64>() - 0.5) / d as f64) as f32);
            }
        }
        self.bias.resize(n, 0.0);
        self.emb_g.resize(n * d, g0);
        self.bias_g.resize(n, g0);
        if schedule == Schedule::Adadelta {
            self.emb_m.resize(n * d, 0.0);
            self.bias_m.resize(n, 0.0);
        }
    }

    pub fn n_features(&self) -> usize {
        self.bias.len()
    }

    /// Adds entities known by side features (`rows`, in the grown column numbering); with
    /// `identity`, each gets an identity feature, inserted after the existing ones with fresh
    /// parameters, and the side features' parameters move up with their columns.
    fn add_entities(
        &mut self,
        rows: &[Vec<(u32, f32)>],
        identity: bool,
        d: usize,
        schedule: Schedule,
        rng: &mut SmallRng,
    ) {
        let at = self.features.n_rows();
        let inserted = if identity { rows.len() } else { 0 };
        self.features.insert_rows(at as u32, inserted, rows);
        if inserted == 0 {
            return;
        }
        // Fresh parameters for the new identity features, appended and rotated into place.
        let n = self.bias.len();
        self.grow_params(n + inserted, d, schedule, rng);
        let rotate = |v: &mut [f32], width: usize| {
            if !v.is_empty() {
                v[at * width..].rotate_right(inserted * width);
            }
        };
        rotate(&mut self.emb, d);
        rotate(&mut self.emb_g, d);
        rotate(&mut self.emb_m, d);
        rotate(&mut self.bias, 1);
        rotate(&mut self.bias_g, 1);
        rotate(&mut self.bias_m, 1);
    }

    /// The representation (embedding, bias) of row `r` of the feature matrix.
    pub fn representation(&self, r: usize, d: usize, out: &mut [f32]) -> f32 {
        out.fill(0.0);
        let mut bias = 0.0f32;
        let (idx, w) = self.features.row(r);
        for (&f, &x) in idx.iter().zip(w) {
            let f = f as usize;
            for (o, e) in out.iter_mut().zip(&self.emb[f * d..(f + 1) * d]) {
                *o += x * e;
            }
            bias += x * self.bias[f];
        }
        bias
    }

    /// The representation of an arbitrary feature row (a cold-start entity).
    pub fn representation_of(&self, row: &[(u32, f32)], d: usize, out: &mut [f32]) -> f32 {
        out.fill(0.0);
        let mut bias = 0.0f32;
        for &(f, x) in row {
            let f = f as usize;
            if f >= self.bias.len() {
                continue;
            }
            for (o, e) in out.iter_mut().zip(&self.emb[f * d..(f + 1) * d]) {
                *o += x * e;
            }
            bias += x * self.bias[f];
        }
        bias
    }

    /// Every row's representation: (n_rows × d embeddings, n_rows biases).
    pub fn representations(&self, d: usize) -> (Vec<f32>, Vec<f32>) {
        let n = self.features.n_rows();
        if self.features.is_identity() {
            return (self.emb[..n * d].to_vec(), self.bias[..n].to_vec());
        }
        let mut emb = vec![0.0f32; n * d];
        let mut bias = vec![0.0f32; n];
        for r in 0..n {
            bias[r] = self.representation(r, d, &mut emb[r * d..(r + 1) * d]);
        }
        (emb, bias)
    }

    fn is_finite(&self) -> bool {
        self.emb.iter().all(|x| x.is_finite()) && self.bias.iter().all(|x| x.is_finite())
    }
}

/// A trained (or training) model.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub params: ValidParams,
    pub users: Side,
    pub items: Side,
    /// Seeds each call to `fit_partial` so that resumed training differs from the first.
    pub fits: u64,
}

/// Progress callback: called after each epoch with (epoch, epochs, seconds); returning
/// false cancels training.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize, f64) -> bool;

impl Model {
    /// A fresh model for these interactions, with identity features unless given.
    pub fn new(
        params: ValidParams,
        interactions: &Interactions,
        user_features: Option<FeatureMatrix>,
        item_features: Option<FeatureMatrix>,
    ) -> Result<Model, FitError> {
        let uf = user_features.unwrap_or_else(|| FeatureMatrix::identity(interactions.n_users()));
        let itf = item_features.unwrap_or_else(|| FeatureMatrix::identity(interactions.n_items()));
        check_rows(&uf, interactions.n_users(), "user")?;
        check_rows(&itf, interactions.n_items(), "item")?;
        let mut rng = SmallRng::seed_from_u64(params.random_state);
        let d = params.no_components;
        // Item embeddings are drawn first, as LightFM does.
        let items = Side::init(itf, d, params.schedule, &mut rng);
        let users = Side::init(uf, d, params.schedule, &mut rng);
        Ok(Model {
            params,
            users,
            items,
            fits: 0,
        })
    }

    /// Trains a fresh model for `params.epochs` epochs.
    pub fn fit(
        params: ValidParams,
        interactions: &Interactions,
        user_features: Option<FeatureMatrix>,
        item_features: Option<FeatureMatrix>,
        progress: Progress,
    ) -> Result<Model, FitError> {
        let mut m = Model::new(params, interactions, user_features, item_features)?;
        let epochs = m.params.epochs;
        m.fit_partial(interactions, epochs, progress)?;
        Ok(m)
    }

    /// Continues training for `epochs` epochs. Users and items beyond the current ones
    /// (appended to the id maps, e.g. by fine-tuning data) get identity features and fresh
    /// parameters first.
    pub fn fit_partial(
        &mut self,
        interactions: &Interactions,
        epochs: usize,
        progress: Progress,
    ) -> Result<(), FitError> {
        self.grow(interactions.n_users(), interactions.n_items())?;
        let seed = self
            .params
            .random_state
            .wrapping_add(0x9e37_79b9_7f4a_7c15u64.wrapping_mul(self.fits + 1));
        self.fits += 1;
        let mut rng = SmallRng::seed_from_u64(seed);
        let positives = sgd::kos_positives(self.params.loss, interactions);
        for epoch in 0..epochs {
            let started = std::time::Instant::now();
            sgd::run_epoch(self, interactions, positives.as_deref(), &mut rng);
            if !(self.users.is_finite() && self.items.is_finite()) {
                return Err(FitError::Diverged { epoch: epoch + 1 });
            }
            if !progress(epoch + 1, epochs, started.elapsed().as_secs_f64()) {
                return Err(FitError::Cancelled);
            }
        }
        Ok(())
    }

    /// Adds users (or items, with `items`) that have side features, in a model whose users
    /// (items) have side features: see `Side::add_entities`.
    pub fn add_entities(&mut self, items: bool, rows: &[Vec<(u32, f32)>], identity: bool) {
        let d = self.params.no_components;
        let schedule = self.params.schedule;
        let mut rng = SmallRng::seed_from_u64(
            self.params.random_state ^ (rows.len() as u64) << 24 ^ u64::from(items),
        );
        let side = if items {
            &mut self.items
        } else {
            &mut self.users
        };
        side.add_entities(rows, identity, d, schedule, &mut rng);
    }

    /// Grows identity-featured sides to `n_users` × `n_items` rows.
    pub fn grow(&mut self, n_users: usize, n_items: usize) -> Result<(), FitError> {
        let d = self.params.no_components;
        let mut rng = SmallRng::seed_from_u64(
            self.params.random_state ^ (n_users as u64) << 20 ^ n_items as u64,
        );
        for (side, n, what) in [
            (&mut self.items, n_items, "item"),
            (&mut self.users, n_users, "user"),
        ] {
            let have = side.features.n_rows();
            if n > have {
                if !side.features.is_identity() {
                    return Err(FitError::Shape(format!(
                        "{} new {what}s need feature rows; this model's {what}s have side features",
                        n - have
                    )));
                }
                side.features.grow_identity(n - have);
                let cols = side.features.n_cols();
                side.grow_params(cols, d, self.params.schedule, &mut rng);
            }
        }
        Ok(())
    }

    pub fn n_users(&self) -> usize {
        self.users.features.n_rows()
    }

    pub fn n_items(&self) -> usize {
        self.items.features.n_rows()
    }

    pub fn d(&self) -> usize {
        self.params.no_components
    }
}

fn check_rows(f: &FeatureMatrix, n: usize, what: &str) -> Result<(), FitError> {
    if f.n_rows() < n {
        return Err(FitError::Shape(format!(
            "{what} features have {} rows for {n} {what}s",
            f.n_rows()
        )));
    }
    if !f.is_finite() {
        return Err(FitError::Shape(format!(
            "{what} features contain values that are not finite"
        )));
    }
    Ok(())
}
