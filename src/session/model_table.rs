//! A model as a DataFusion table: the table function `recsql_model(project, name, version,
//! recommender_type, options)` returns a provider whose columns depend on the recommender
//! type, and which takes filters on its key columns (`user_id = x`, `user_id IN (...)`,
//! `item_id = x`, ...) as the set of users or items to answer for. Answers are computed off
//! the async runtime, from the model artifact (loaded once and cached).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Float32Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionImpl, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::catalog::{Catalog, ModelVersion, Status};
use crate::error::{Error, Result, sqlstate};
use crate::jobs::{Key, key_of};
use crate::recommender::{Artifact, Id, Ranked};

pub const FUNCTION_NAME: &str = "recsql_model";
const BATCH_ROWS: usize = 8192;

/// Loaded model artifacts, shared by all queries.
#[derive(Default)]
pub struct ModelStore {
    loaded: Mutex<HashMap<Key, Arc<Artifact>>>,
}

impl ModelStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<Artifact>>> {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, key: Key, artifact: Arc<Artifact>) {
        self.lock().insert(key, artifact);
    }

    pub fn remove(&self, key: &Key) {
        self.lock().remove(key);
    }

    /// The artifact of a complete version, loading it from disk on first use (blocking).
    pub fn get(&self, data_dir: &std::path::Path, mv: &ModelVersion) -> Result<Arc<Artifact>> {
        let key = key_of(mv);
        if let Some(a) = self.lock().get(&key) {
            return Ok(a.clone());
        }
        let path = data_dir.join(mv.file());
        let bytes = std::fs::read(&path)
            .map_err(|e| Error::io(&format!("cannot read model file {}", path.display()), e))?;
        let artifact = Arc::new(Artifact::from_bytes(&bytes).map_err(|e| {
            Error::new(
                sqlstate::IO_ERROR,
                format!("model file {}: {e}", path.display()),
            )
        })?);
        self.lock().insert(key, artifact.clone());
        Ok(artifact)
    }
}

/// Which question a model query asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecType {
    UserItem,
    ItemItem,
    UserUser,
}

impl RecType {
    pub fn parse(s: &str) -> Result<RecType> {
        match s.to_ascii_lowercase().as_str() {
            "user_item" => Ok(RecType::UserItem),
            "item_item" => Ok(RecType::ItemItem),
            "user_user" => Ok(RecType::UserUser),
            other => Err(Error::invalid_value(format!(
                "recommender_type must be 'user_item', 'item_item' or 'user_user', not '{other}'"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RecType::UserItem => "user_item",
            RecType::ItemItem => "item_item",
            RecType::UserUser => "user_user",
        }
    }

    /// Output columns: (query key, answer key).
    pub fn columns(self) -> (&'static str, &'static str) {
        match self {
            RecType::UserItem => ("user_id", "item_id"),
            RecType::ItemItem => ("item_id_one", "item_id_two"),
            RecType::UserUser => ("user_id_one", "user_id_two"),
        }
    }
}

/// Per-query options (from USING).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QueryOptions {
    pub n: Option<usize>,
    pub exclude_seen: bool,
    pub cold_start_error: bool,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            n: None,
            exclude_seen: true,
            cold_start_error: false,
        }
    }
}

/// The `recsql_model(...)` table function.
pub struct ModelFunction {
    pub catalog: Arc<Catalog>,
    pub store: Arc<ModelStore>,
    pub data_dir: PathBuf,
}

impl std::fmt::Debug for ModelFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModelFunction")
    }
}

fn literal_text(e: &Expr) -> DfResult<String> {
    match e {
        Expr::Literal(ScalarValue::Utf8(Some(s)), _) => Ok(s.clone()),
        Expr::Literal(v, _) => Ok(v.to_string()),
        other => Err(DataFusionError::Plan(format!(
            "{FUNCTION_NAME} takes literals, found {other}"
        ))),
    }
}

fn ext(e: Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

impl TableFunctionImpl for ModelFunction {
    fn call_with_args(
        &self,
        args: datafusion::catalog::TableFunctionArgs,
    ) -> DfResult<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if exprs.len() != 5 {
            return Err(DataFusionError::Plan(format!(
                "{FUNCTION_NAME} takes 5 arguments"
            )));
        }
        let project = literal_text(&exprs[0])?;
        let name = literal_text(&exprs[1])?;
        let version: u32 = literal_text(&exprs[2])?.parse().unwrap_or(0);
        let kind = RecType::parse(&literal_text(&exprs[3])?).map_err(ext)?;
        let options: QueryOptions = serde_json::from_str(&literal_text(&exprs[4])?)
            .map_err(|e| DataFusionError::Plan(format!("bad model query options: {e}")))?;
        let mv = self
            .catalog
            .model(&project, &name, (version > 0).then_some(version))
            .ok_or_else(|| {
                ext(Error::new(
                    sqlstate::UNDEFINED_TABLE,
                    match version {
                        0 => format!("model {project}.{name} does not exist"),
                        v => format!("model {project}.{name} has no version {v}"),
                    },
                ))
            })?;
        if mv.status != Status::Complete {
            let detail = match (&mv.status, &mv.error) {
                (Status::Error, Some(e)) => format!(" ({e})"),
                _ => String::new(),
            };
            return Err(ext(Error::new(
                sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "model {}.{} version {} cannot answer: its status is {}{detail}",
                    mv.project,
                    mv.name,
                    mv.version,
                    mv.status.as_str()
                ),
            )
            .with_hint(match mv.status {
                Status::Error => "fix the cause and RETRAIN the model, or DROP it",
                _ => "wait until SELECT status FROM models shows complete",
            })));
        }
        Ok(Arc::new(ModelTable::new(
            mv,
            kind,
            options,
            self.store.clone(),
            self.data_dir.clone(),
        )))
    }
}

/// One model, asked one kind of question.
#[derive(Debug)]
pub struct ModelTable {
    mv: ModelVersion,
    kind: RecType,
    options: QueryOptions,
    schema: SchemaRef,
    store: Arc<ModelStore>,
    data_dir: PathBuf,
}

impl std::fmt::Debug for ModelStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModelStore")
    }
}

fn id_type(text: bool) -> DataType {
    if text {
        DataType::Utf8
    } else {
        DataType::Int64
    }
}

impl ModelTable {
    fn new(
        mv: ModelVersion,
        kind: RecType,
        options: QueryOptions,
        store: Arc<ModelStore>,
        data_dir: PathBuf,
    ) -> Self {
        let (a, b) = kind.columns();
        let (ta, tb) = match kind {
            RecType::UserItem => (mv.user_id_text, mv.item_id_text),
            RecType::ItemItem => (mv.item_id_text, mv.item_id_text),
            RecType::UserUser => (mv.user_id_text, mv.user_id_text),
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new(a, id_type(ta), false),
            Field::new(b, id_type(tb), false),
            Field::new("score", DataType::Float32, false),
            Field::new("rank", DataType::Int32, false),
        ]));
        ModelTable {
            mv,
            kind,
            options,
            schema,
            store,
            data_dir,
        }
    }

    /// The column a filter restricts, if it is one this table answers exactly.
    fn key_filter(&self, e: &Expr) -> Option<(String, Vec<ScalarValue>)> {
        let keys: &[&str] = match self.kind {
            RecType::UserItem => &["user_id", "item_id"],
            RecType::ItemItem => &["item_id_one"],
            RecType::UserUser => &["user_id_one"],
        };
        let col_lit = |l: &Expr, r: &Expr| -> Option<(String, ScalarValue)> {
            match (l, r) {
                (Expr::Column(c), Expr::Literal(v, _)) | (Expr::Literal(v, _), Expr::Column(c))
                    if keys.contains(&c.name.as_str()) =>
                {
                    Some((c.name.clone(), v.clone()))
                }
                (Expr::Cast(c), lit) | (lit, Expr::Cast(c)) => match (c.expr.as_ref(), lit) {
                    (Expr::Column(col), Expr::Literal(v, _))
                        if keys.contains(&col.name.as_str()) =>
                    {
                        Some((col.name.clone(), v.clone()))
                    }
                    _ => None,
                },
                _ => None,
            }
        };
        match e {
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Eq,
                right,
            }) => col_lit(left, right).map(|(c, v)| (c, vec![v])),
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Or,
                right,
            }) => {
                let (c1, mut v1) = self.key_filter(left)?;
                let (c2, v2) = self.key_filter(right)?;
                (c1 == c2).then(|| {
                    v1.extend(v2);
                    (c1, v1)
                })
            }
            Expr::InList(list) if !list.negated => {
                let Expr::Column(c) = list.expr.as_ref() else {
                    return None;
                };
                if !keys.contains(&c.name.as_str()) {
                    return None;
                }
                let mut values = Vec::new();
                for item in &list.list {
                    match item {
                        Expr::Literal(v, _) => values.push(v.clone()),
                        _ => return None,
                    }
                }
                Some((c.name.clone(), values))
            }
            _ => None,
        }
    }
}

fn scalar_to_id(v: &ScalarValue, text: bool) -> Option<Id> {
    if v.is_null() {
        return None;
    }
    let s = match v {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.clone(),
        other => other.to_string(),
    };
    if text {
        Some(Id::Text(s))
    } else {
        s.trim().parse::<i64>().ok().map(Id::Int)
    }
}

#[async_trait]
impl TableProvider for ModelTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match self.key_filter(f) {
                Some(_) => TableProviderFilterPushDown::Exact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        // Intersect the key restrictions per column.
        let mut restrict: HashMap<String, Vec<ScalarValue>> = HashMap::new();
        for f in filters {
            if let Some((col, values)) = self.key_filter(f) {
                match restrict.get_mut(&col) {
                    Some(existing) => existing.retain(|v| values.contains(v)),
                    None => {
                        restrict.insert(col, values);
                    }
                }
            }
        }
        let job = Answer {
            mv: self.mv.clone(),
            kind: self.kind,
            options: self.options.clone(),
            restrict,
            schema: self.schema.clone(),
            store: self.store.clone(),
            data_dir: self.data_dir.clone(),
        };
        let (batches, notices) = tokio::task::spawn_blocking(move || job.run())
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?
            .map_err(ext)?;
        for n in notices {
            super::notices::notice(n);
        }
        Ok(MemorySourceConfig::try_new_exec(
            &[batches],
            self.schema.clone(),
            projection.cloned(),
        )?)
    }
}

/// The work of one scan, run on a blocking thread.
struct Answer {
    mv: ModelVersion,
    kind: RecType,
    options: QueryOptions,
    restrict: HashMap<String, Vec<ScalarValue>>,
    schema: SchemaRef,
    store: Arc<ModelStore>,
    data_dir: PathBuf,
}

enum Subject {
    Known(u32),
    Unknown(Id),
}

impl Answer {
    fn subjects(
        &self,
        col: &str,
        text: bool,
        map: &crate::recommender::IdMap,
        n: usize,
    ) -> Option<Vec<Subject>> {
        self.restrict.get(col).map(|values| {
            let mut seen = std::collections::HashSet::new();
            values
                .iter()
                .filter_map(|v| scalar_to_id(v, text))
                .filter(|id| seen.insert(id.clone()))
                .map(|id| match map.get(&id) {
                    Some(i) if (i as usize) < n => Subject::Known(i),
                    _ => Subject::Unknown(id),
                })
                .collect()
        })
    }

    fn run(self) -> Result<(Vec<RecordBatch>, Vec<String>)> {
        let mut notices = Vec::new();
        let a = self.store.get(&self.data_dir, &self.mv)?;
        let k = self.options.n.unwrap_or(self.mv.spec.n_recommendations);
        let n_users = a.users.len();
        let n_items = a.items.len();
        let mut rows: Vec<(Id, Id, f32, i32)> = Vec::new();
        let push = |rows: &mut Vec<(Id, Id, f32, i32)>,
                    q: &Id,
                    ranked: &Ranked,
                    map: &crate::recommender::IdMap| {
            for (r, (i, s)) in ranked.iter().enumerate() {
                rows.push((q.clone(), map.id(*i).clone(), *s, r as i32 + 1));
            }
        };
        match self.kind {
            RecType::UserItem => {
                let users = self
                    .subjects("user_id", self.mv.user_id_text, &a.users, n_users)
                    .unwrap_or_else(|| (0..n_users as u32).map(Subject::Known).collect());
                let allowed: Option<Vec<u32>> =
                    match self.subjects("item_id", self.mv.item_id_text, &a.items, n_items) {
                        None => None,
                        Some(items) => {
                            let mut list = Vec::new();
                            for s in items {
                                match s {
                                    Subject::Known(i) => list.push(i),
                                    Subject::Unknown(id) => {
                                        return Err(unknown("item", &id, &self.mv));
                                    }
                                }
                            }
                            Some(list)
                        }
                    };
                // Asking for particular items scores them even if the user has seen them.
                let exclude = self.options.exclude_seen && allowed.is_none();
                let k = match &allowed {
                    Some(list) => list.len().min(k),
                    None => k,
                };
                let known: Vec<u32> = users
                    .iter()
                    .filter_map(|s| match s {
                        Subject::Known(u) => Some(*u),
                        Subject::Unknown(_) => None,
                    })
                    .collect();
                let answers = a.recommend(&known, k, exclude, allowed.as_deref());
                let mut answers = answers.into_iter();
                for s in &users {
                    match s {
                        Subject::Known(u) => {
                            let ranked = answers.next().unwrap_or_default();
                            push(&mut rows, a.users.id(*u), &ranked, &a.items);
                        }
                        Subject::Unknown(id) => {
                            if self.options.cold_start_error {
                                return Err(unknown("user", id, &self.mv));
                            }
                            notices.push(format!(
                                "user {id} is not in the training data of model {}.{}; recommending the most popular items (USING cold_start = 'error' makes this an error)",
                                self.mv.project, self.mv.name
                            ));
                            let ranked = a.popular(k, allowed.as_deref());
                            push(&mut rows, id, &ranked, &a.items);
                        }
                    }
                }
            }
            RecType::ItemItem | RecType::UserUser => {
                let (col, text, map, n, what) = match self.kind {
                    RecType::ItemItem => (
                        "item_id_one",
                        self.mv.item_id_text,
                        &a.items,
                        n_items,
                        "item",
                    ),
                    _ => (
                        "user_id_one",
                        self.mv.user_id_text,
                        &a.users,
                        n_users,
                        "user",
                    ),
                };
                let subjects = self
                    .subjects(col, text, map, n)
                    .unwrap_or_else(|| (0..n as u32).map(Subject::Known).collect());
                let mut list = Vec::with_capacity(subjects.len());
                for s in subjects {
                    match s {
                        Subject::Known(i) => list.push(i),
                        Subject::Unknown(id) => return Err(unknown(what, &id, &self.mv)),
                    }
                }
                let answers = if self.kind == RecType::ItemItem {
                    a.similar_items(&list, k)
                } else {
                    a.similar_users(&list, k)
                };
                for (q, ranked) in list.iter().zip(&answers) {
                    push(&mut rows, map.id(*q), ranked, map);
                }
            }
        }
        Ok((to_batches(&self.schema, &rows)?, notices))
    }
}

fn unknown(what: &str, id: &Id, mv: &ModelVersion) -> Error {
    Error::new(
        sqlstate::UNDEFINED_OBJECT,
        format!("{what} id {id} is not in the training data of model {}.{}", mv.project, mv.name),
    )
    .with_hint(format!("only {what}s seen in training can be asked about; FINETUNE the model with data that includes them"))
}

fn id_column(ids: &[&Id], dt: &DataType) -> ArrayRef {
    match dt {
        DataType::Utf8 => Arc::new(StringArray::from_iter_values(
            ids.iter().map(|i| i.to_string()),
        )),
        _ => Arc::new(Int64Array::from_iter_values(ids.iter().map(|i| match i {
            Id::Int(v) => *v,
            Id::Text(_) => 0,
        }))),
    }
}

fn to_batches(schema: &SchemaRef, rows: &[(Id, Id, f32, i32)]) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for chunk in rows.chunks(BATCH_ROWS) {
        let a: Vec<&Id> = chunk.iter().map(|r| &r.0).collect();
        let b: Vec<&Id> = chunk.iter().map(|r| &r.1).collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                id_column(&a, schema.field(0).data_type()),
                id_column(&b, schema.field(1).data_type()),
                Arc::new(Float32Array::from_iter_values(chunk.iter().map(|r| r.2))),
                Arc::new(Int32Array::from_iter_values(chunk.iter().map(|r| r.3))),
            ],
        )
        .map_err(|e| Error::internal(e.to_string()))?;
        out.push(batch);
    }
    Ok(out)
}
