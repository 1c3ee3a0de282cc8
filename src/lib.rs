//! recsql: a PostgreSQL wire-protocol server that trains and serves recommendation models
//! with MindsDB's SQL, over DataFusion.
//!
//! Layers, each in its own module: `wire` (pgwire handlers) → `sql` (the dialect) →
//! `session` (statement execution) → `catalog` / `datasource`. The binary in `main.rs` only
//! parses the command line and calls [`server::run`].

pub mod bench;
pub mod catalog;
pub mod datasource;
pub mod error;
pub mod jobs;
pub mod recommender;
pub mod server;
pub mod session;
pub mod settings;
pub mod side_features;
pub mod source_rows;
pub mod sql;
pub mod wire;

pub use error::{Error, Result};
