//! The `models` table (`SELECT * FROM models`, `SHOW MODELS`): one row per model version with
//! the reference's columns (lower-case, so they can be named without quotes), built from the
//! catalog and the progress of running jobs each time it is read.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use crate::catalog::{Catalog, ModelVersion};
use crate::error::{Error, Result};
use crate::jobs::{Jobs, key_of};

pub fn schema() -> SchemaRef {
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        s("name"),
        s("engine"),
        s("project"),
        Field::new("active", DataType::Boolean, false),
        Field::new("version", DataType::Int64, false),
        s("status"),
        Field::new("accuracy", DataType::Float64, true),
        s("predict"),
        s("update_status"),
        s("mindsdb_version"),
        s("error"),
        s("select_data_query"),
        s("training_options"),
        Field::new("current_training_phase", DataType::Int64, true),
        Field::new("total_training_phases", DataType::Int64, true),
        s("training_phase_name"),
        s("tag"),
        s("created_at"),
        Field::new("training_time", DataType::Float64, true),
    ]))
}

/// The rows for `versions`, with live progress from `jobs`.
pub fn batch(versions: &[ModelVersion], jobs: &Jobs) -> Result<RecordBatch> {
    let text = |f: &dyn Fn(&ModelVersion) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from(
            versions.iter().map(f).collect::<Vec<_>>(),
        ))
    };
    // (current phase, total phases, phase name): live from a running job, else from status.
    let phases: Vec<(i64, i64, String)> = versions
        .iter()
        .map(|m| match jobs.progress(&key_of(m)) {
            Some(p) => (p.current as i64, p.total as i64, p.phase.to_string()),
            None => {
                let total = total_phases(m);
                let done = if m.status == crate::catalog::Status::Complete {
                    total
                } else {
                    0
                };
                (done, total, m.status.as_str().to_string())
            }
        })
        .collect();
    let accuracy: Vec<Option<f64>> = versions
        .iter()
        .map(|m| {
            m.metrics
                .as_ref()
                .and_then(|x| x["test"]["precision_at_k"].as_f64())
        })
        .collect();
    let columns: Vec<ArrayRef> = vec![
        text(&|m| Some(m.name.clone())),
        text(&|m| Some(m.engine.clone())),
        text(&|m| Some(m.project.clone())),
        Arc::new(BooleanArray::from(
            versions.iter().map(|m| m.active).collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            versions
                .iter()
                .map(|m| m.version as i64)
                .collect::<Vec<_>>(),
        )),
        text(&|m| Some(m.status.as_str().to_string())),
        Arc::new(Float64Array::from(accuracy)),
        text(&|m| Some(m.predict.clone())),
        text(&|_| Some("up_to_date".to_string())),
        text(&|_| Some(env!("CARGO_PKG_VERSION").to_string())),
        text(&|m| m.error.clone()),
        text(&|m| Some(m.select_data_query.clone())),
        text(&|m| Some(serde_json::Value::Object(m.training_options.clone()).to_string())),
        Arc::new(Int64Array::from(
            phases.iter().map(|p| Some(p.0)).collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            phases.iter().map(|p| Some(p.1)).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            phases.iter().map(|p| Some(p.2.clone())).collect::<Vec<_>>(),
        )),
        text(&|m| m.spec.tag.clone()),
        text(&|m| Some(m.created_at.clone())),
        Arc::new(Float64Array::from(
            versions.iter().map(|m| m.training_time).collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(schema(), columns).map_err(|e| Error::internal(e.to_string()))
}

fn total_phases(m: &ModelVersion) -> i64 {
    let e = m.spec.params.epochs as i64;
    if m.spec.evaluation { 2 * e } else { e }
}

/// `mindsdb.models` as a table.
pub struct ModelsTable {
    /// The project whose models the table lists.
    pub project: String,
    pub catalog: Arc<Catalog>,
    pub jobs: Arc<Jobs>,
}

impl std::fmt::Debug for ModelsTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModelsTable")
    }
}

#[async_trait]
impl TableProvider for ModelsTable {
    fn schema(&self) -> SchemaRef {
        schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let models: Vec<_> = self
            .catalog
            .models()
            .into_iter()
            .filter(|m| m.project == self.project)
            .collect();
        let b = batch(&models, &self.jobs)
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![b]],
            schema(),
            projection.cloned(),
        )?)
    }
}
