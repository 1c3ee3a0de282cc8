//! `DESCRIBE [MODEL] m[.version][.attribute]`: the model's row, or one of its attributes:
//! `info` (held-out auc, precision, recall and the id columns), `features` (sizes and factor
//! shapes), `model` (parameters), `metrics` (every metric on test, train and the popularity
//! baseline) and `training` (seconds per epoch).

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::sql::sqlparser::ast::ObjectName;

use super::{Engine, Output, models_table};
use crate::catalog::ModelVersion;
use crate::error::{Error, Result, sqlstate};
use crate::sql::model_name_from_parts;

/// `table (column, ...)` of a model's side features, or NULL.
fn side_features(side: Option<&crate::catalog::SideFeatures>) -> ArrayRef {
    Arc::new(StringArray::from(vec![
        side.map(|f| format!("{} ({})", f.table, f.columns.join(", "))),
    ]))
}

pub const ATTRIBUTES: &[&str] = &["info", "features", "model", "metrics", "training"];

/// Splits `DESCRIBE` names into the model and an optional attribute.
pub fn resolve(engine: &Engine, name: &ObjectName) -> Option<(ModelVersion, Option<String>)> {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident().map(|i| i.value.clone()))
        .collect();
    let lookup = |n: &ObjectName| -> Option<ModelVersion> {
        let m = model_name_from_parts(n).ok()?;
        let project = m
            .project
            .map(|p| p.value)
            .unwrap_or_else(|| "mindsdb".into());
        engine.catalog().model(&project, &m.name.value, m.version)
    };
    if let Some(m) = lookup(name) {
        return Some((m, None));
    }
    if parts.len() >= 2 {
        let prefix = ObjectName(name.0[..name.0.len() - 1].to_vec());
        if let Some(m) = lookup(&prefix) {
            return Some((m, parts.last().cloned()));
        }
    }
    None
}

fn f64s(v: Vec<Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from(v))
}

fn texts(v: Vec<String>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}

pub fn schema(attribute: Option<&str>) -> Option<SchemaRef> {
    let f = |n: &str, t: DataType| Field::new(n, t, true);
    Some(Arc::new(match attribute {
        None => {
            let mut fields: Vec<Field> = models_table::schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            fields.push(f("tables", DataType::Utf8));
            Schema::new(fields)
        }
        Some("info") => Schema::new(vec![
            f("auc", DataType::Float64),
            f("precision", DataType::Float64),
            f("recall", DataType::Float64),
            f("user_id", DataType::Utf8),
            f("item_id", DataType::Utf8),
        ]),
        Some("features") => Schema::new(vec![
            f("n_users_items", DataType::Utf8),
            f("n_users", DataType::Int64),
            f("n_items", DataType::Int64),
            f("n_interactions", DataType::Int64),
            f("user_factors", DataType::Utf8),
            f("item_factors", DataType::Utf8),
            f("user_features", DataType::Utf8),
            f("item_features", DataType::Utf8),
            f("identity_features", DataType::Boolean),
        ]),
        Some("model") => Schema::new(vec![f("model_params", DataType::Utf8)]),
        Some("metrics") => Schema::new(vec![
            f("split", DataType::Utf8),
            f("k", DataType::Int64),
            f("precision_at_k", DataType::Float64),
            f("recall_at_k", DataType::Float64),
            f("auc", DataType::Float64),
            f("reciprocal_rank", DataType::Float64),
            f("ndcg_at_k", DataType::Float64),
            f("users_evaluated", DataType::Int64),
        ]),
        Some("training") => Schema::new(vec![
            f("epoch", DataType::Int64),
            f("seconds", DataType::Float64),
            f("status", DataType::Utf8),
        ]),
        Some(_) => return None,
    }))
}

pub fn execute(engine: &Engine, name: &ObjectName) -> Result<Output> {
    let (m, attribute) = resolve(engine, name).ok_or_else(|| {
        Error::new(
            sqlstate::UNDEFINED_TABLE,
            format!("model {name} does not exist"),
        )
        .with_hint("SHOW MODELS lists the models")
    })?;
    let attribute = attribute.map(|a| a.to_ascii_lowercase());
    let schema = schema(attribute.as_deref()).ok_or_else(|| {
        Error::undefined_object(format!(
            "model {} has no attribute {}",
            m.name,
            attribute.clone().unwrap_or_default()
        ))
        .with_hint(format!(
            "DESCRIBE {}.<attribute> takes one of: {}",
            m.name,
            ATTRIBUTES.join(", ")
        ))
    })?;
    let test = |key: &str| m.metrics.as_ref().and_then(|x| x["test"][key].as_f64());
    let d = m.spec.params.no_components;
    let columns: Vec<ArrayRef> = match attribute.as_deref() {
        None => {
            let row = models_table::batch(std::slice::from_ref(&m), engine.jobs())?;
            let mut cols = row.columns().to_vec();
            cols.push(texts(vec![format!("{ATTRIBUTES:?}")]));
            cols
        }
        Some("info") => vec![
            f64s(vec![test("auc")]),
            f64s(vec![test("precision_at_k")]),
            f64s(vec![test("recall_at_k")]),
            texts(vec![m.spec.user_col.clone()]),
            texts(vec![m.spec.item_col.clone()]),
        ],
        Some("features") => vec![
            texts(vec![format!("[{}, {}]", m.n_users, m.n_items)]),
            Arc::new(Int64Array::from(vec![m.n_users as i64])),
            Arc::new(Int64Array::from(vec![m.n_items as i64])),
            Arc::new(Int64Array::from(vec![m.n_interactions as i64])),
            texts(vec![format!("[{}, {d}]", m.n_users)]),
            texts(vec![format!("[{}, {d}]", m.n_items)]),
            side_features(m.spec.user_features.as_ref()),
            side_features(m.spec.item_features.as_ref()),
            Arc::new(BooleanArray::from(vec![m.spec.identity_features])),
        ],
        Some("model") => {
            let p = &m.spec.params;
            vec![texts(vec![
                serde_json::json!({
                    "loss": p.loss.to_string(),
                    "no_components": p.no_components,
                    "learning_rate": p.learning_rate,
                    "learning_schedule": p.schedule.to_string(),
                    "rho": p.rho,
                    "epsilon": p.epsilon,
                    "item_alpha": p.item_alpha,
                    "user_alpha": p.user_alpha,
                    "max_sampled": p.max_sampled,
                    "k": p.k,
                    "n": p.n,
                    "epochs": p.epochs,
                    "num_threads": p.num_threads,
                    "random_state": p.random_state,
                    "threshold": m.spec.threshold,
                    "n_recommendations": m.spec.n_recommendations,
                })
                .to_string(),
            ])]
        }
        Some("metrics") => {
            let splits = ["test", "train", "popularity_baseline"];
            let present: Vec<&str> = splits
                .iter()
                .copied()
                .filter(|s| m.metrics.as_ref().is_some_and(|x| x.get(s).is_some()))
                .collect();
            let get = |s: &str, k: &str| m.metrics.as_ref().and_then(|x| x[s][k].as_f64());
            vec![
                texts(present.iter().map(|s| s.to_string()).collect()),
                Arc::new(Int64Array::from(
                    present
                        .iter()
                        .map(|s| get(s, "k").map(|v| v as i64))
                        .collect::<Vec<_>>(),
                )),
                f64s(present.iter().map(|s| get(s, "precision_at_k")).collect()),
                f64s(present.iter().map(|s| get(s, "recall_at_k")).collect()),
                f64s(present.iter().map(|s| get(s, "auc")).collect()),
                f64s(present.iter().map(|s| get(s, "reciprocal_rank")).collect()),
                f64s(present.iter().map(|s| get(s, "ndcg_at_k")).collect()),
                Arc::new(Int64Array::from(
                    present
                        .iter()
                        .map(|s| get(s, "users_evaluated").map(|v| v as i64))
                        .collect::<Vec<_>>(),
                )),
            ]
        }
        _ => {
            let n = m.epoch_seconds.len();
            vec![
                Arc::new(Int64Array::from((1..=n as i64).collect::<Vec<_>>())),
                f64s(m.epoch_seconds.iter().map(|s| Some(*s)).collect()),
                texts(vec![m.status.as_str().to_string(); n]),
            ]
        }
    };
    let batch = RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| Error::internal(e.to_string()))?;
    Ok(Output::Rows {
        schema,
        batches: vec![batch],
    })
}
