//! The recommender: LightFM's factorisation model in Rust. Interactions with external ids,
//! sparse features, the four losses and two schedules, Hogwild training on rayon, and
//! evaluation with LightFM's metric definitions.
//!
//! Pure and synchronous: no tokio, pgwire or DataFusion in here; callers run it off the async
//! runtime.

pub mod artifact;
pub mod cold;
pub mod encode;
pub mod evaluate;
pub mod features;
pub mod interactions;
pub mod io;
pub mod model;
pub mod params;
mod sgd;
pub mod topk;

pub use artifact::Artifact;
pub use evaluate::{Metrics, ModelScorer, Popularity, Scorer, evaluate, random_split};
pub use features::FeatureMatrix;
pub use interactions::{Id, IdMap, Interactions, InteractionsBuilder, RowValues};
pub use model::{FitError, Model};
pub use params::{Loss, ParamError, Params, Schedule, ValidParams};
pub use topk::{Factors, Ranked, top_k};

#[cfg(test)]
mod tests;
