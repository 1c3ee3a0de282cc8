//! A model as a DataFusion table: the table function `recsql_model(project, name, version,
//! recommender_type, options)` returns a provider whose columns depend on the recommender
//! type, and which takes filters on its key columns (`user_id = x`, `user_id IN (...)`,
//! `item_id = x`, ...) as the set of users or items to answer for. Answers are computed off
//! the async runtime, from the model artifact (loaded once and cached).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionImpl, TableProvider};
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::catalog::{Catalog, ModelVersion, Status};
use crate::error::{Error, Result, sqlstate};
use crate::jobs::{Key, key_of};
use crate::recommender::artifact::Side;
use crate::recommender::{Artifact, Id, IdMap, Ranked};

use super::cold_start::{self, Feed, Row, Subjects};

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
        let cannot = |e| Error::io(&format!("cannot read model file {}", path.display()), e);
        let file = std::fs::File::open(&path).map_err(cannot)?;
        let len = file.metadata().map_err(cannot)?.len();
        let reader = std::io::BufReader::with_capacity(1 << 20, file);
        let artifact = Arc::new(Artifact::load(reader, len).map_err(|e| {
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

/// Per-query options: from USING, and the table of a prediction join.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QueryOptions {
    pub n: Option<usize>,
    pub exclude_seen: bool,
    pub cold_start_error: bool,
    #[serde(default)]
    pub feed: Option<Feed>,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            n: None,
            exclude_seen: true,
            cold_start_error: false,
            feed: None,
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
    pub fn new(
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
        // The side features of whom the query asks about: `age = 25` describes a new user.
        let side = match kind {
            RecType::ItemItem => mv.spec.item_features.clone(),
            _ => mv.spec.user_features.clone(),
        };
        let (features, numeric) = side.map(|f| (f.columns, f.numeric)).unwrap_or_default();
        let mut fields = vec![
            // NULL for a subject described only by features.
            Field::new(a, id_type(ta), true),
            Field::new(b, id_type(tb), false),
            Field::new("score", DataType::Float32, false),
            Field::new("rank", DataType::Int32, false),
        ];
        fields.extend(
            features
                .iter()
                .filter(|c| ![a, b, "score", "rank"].contains(&c.as_str()))
                .map(|c| {
                    let dt = if numeric.contains(c) {
                        DataType::Float64
                    } else {
                        DataType::Utf8
                    };
                    Field::new(c, dt, true)
                }),
        );
        ModelTable {
            mv,
            kind,
            options,
            schema: Arc::new(Schema::new(fields)),
            store,
            data_dir,
        }
    }

    /// A filter `feature = value` on one of the feature columns: (column, value as text).
    fn feature_filter(&self, e: &Expr) -> Option<(String, String)> {
        let Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) = e
        else {
            return None;
        };
        let (c, v) = column_literal(left, right)?;
        if self.schema.index_of(&c.name).is_ok_and(|i| i >= 4) && !v.is_null() {
            let text = match v {
                ScalarValue::Utf8(Some(s))
                | ScalarValue::LargeUtf8(Some(s))
                | ScalarValue::Utf8View(Some(s)) => s.clone(),
                other => other.to_string(),
            };
            Some((c.name.clone(), text))
        } else {
            None
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
            let (c, v) = column_literal(l, r)?;
            keys.contains(&c.name.as_str())
                .then(|| (c.name.clone(), v.clone()))
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

/// `column = literal` in either order, the column possibly cast (`age = 25` on a text column
/// arrives as `CAST(age AS Int64) = 25`).
fn column_literal<'a>(l: &'a Expr, r: &'a Expr) -> Option<(&'a Column, &'a ScalarValue)> {
    let column = |e: &'a Expr| match e {
        Expr::Column(c) => Some(c),
        Expr::Cast(cast) => match cast.expr.as_ref() {
            Expr::Column(c) => Some(c),
            _ => None,
        },
        _ => None,
    };
    match (l, r) {
        (e, Expr::Literal(v, _)) | (Expr::Literal(v, _), e) => Some((column(e)?, v)),
        _ => None,
    }
}

/// The distinct ids among filter values, in order (values that cannot be ids are skipped).
fn distinct_ids(values: &[ScalarValue], text: bool) -> Vec<Id> {
    let mut seen = std::collections::HashSet::new();
    values
        .iter()
        .filter_map(|v| scalar_to_id(v, text))
        .filter(|id| seen.insert(id.clone()))
        .collect()
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
            .map(|f| {
                if self.key_filter(f).is_some() || self.feature_filter(f).is_some() {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
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
        let artifact = {
            let (store, dir, mv) = (self.store.clone(), self.data_dir.clone(), self.mv.clone());
            tokio::task::spawn_blocking(move || store.get(&dir, &mv))
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))?
                .map_err(ext)?
        };
        let (col, side, text) = match self.kind {
            RecType::ItemItem => ("item_id_one", Side::Items, self.mv.item_id_text),
            RecType::UserItem => ("user_id", Side::Users, self.mv.user_id_text),
            RecType::UserUser => ("user_id_one", Side::Users, self.mv.user_id_text),
        };
        let restricted = restrict.get(col).map(|values| distinct_ids(values, text));
        let mut given: BTreeMap<String, String> = BTreeMap::new();
        for f in filters {
            if let Some((col, value)) = self.feature_filter(f)
                && let Some(old) = given.insert(col.clone(), value.clone())
                && old != value
            {
                // `age = 25 AND age = 30` describes nobody.
                return Ok(MemorySourceConfig::try_new_exec(
                    &[vec![]],
                    self.schema.clone(),
                    projection.cloned(),
                )?);
            }
        }
        let subjects = cold_start::subjects(
            state,
            &artifact,
            &self.mv,
            side,
            restricted,
            self.options.feed.as_ref(),
            &given,
        )
        .await
        .map_err(ext)?;
        // A statement cancelled or timed out drops this future; the blocking job then stops
        // at its next block of subjects instead of answering for all of them.
        let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
        let job = Answer {
            given,
            mv: self.mv.clone(),
            kind: self.kind,
            options: self.options.clone(),
            restrict,
            schema: self.schema.clone(),
            artifact,
            subjects,
            stop: stop.0.clone(),
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
    /// Feature values given in the query, repeated in their columns of every answer row.
    given: BTreeMap<String, String>,
    mv: ModelVersion,
    kind: RecType,
    options: QueryOptions,
    restrict: HashMap<String, Vec<ScalarValue>>,
    schema: SchemaRef,
    artifact: Arc<Artifact>,
    subjects: Subjects,
    /// Set when the answer is no longer awaited.
    stop: Arc<AtomicBool>,
}

/// Subjects answered between two looks at `Answer::stop`.
const SUBJECTS_PER_BLOCK: usize = 4096;

/// Sets its flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// `answer` of `subjects`, a block at a time, until `stop` is set (57014).
fn in_blocks(
    stop: &AtomicBool,
    subjects: &[u32],
    answer: impl Fn(&[u32]) -> Vec<Ranked>,
) -> Result<Vec<Ranked>> {
    let mut out = Vec::with_capacity(subjects.len());
    for block in subjects.chunks(SUBJECTS_PER_BLOCK) {
        if stop.load(Ordering::Relaxed) {
            return Err(Error::new(
                sqlstate::QUERY_CANCELED,
                "canceling statement: its model answer is no longer awaited",
            ));
        }
        out.extend(answer(block));
    }
    Ok(out)
}

/// One answer row: (the subject asked about, the answer, score, rank).
type OutRow = (Option<Id>, Id, f32, i32);

/// Whom one group of answer rows is for.
enum Subject {
    Known(u32),
    /// Not in the training data: described by a feature row, or not at all.
    New(Option<Id>, Option<Row>),
}

impl Subject {
    fn all(subjects: &mut Subjects, map: &IdMap) -> Vec<Subject> {
        if let Some(row) = subjects.anonymous.take() {
            return vec![Subject::New(None, (!row.is_empty()).then_some(row))];
        }
        match subjects.ids.take() {
            None => (0..map.len() as u32).map(Subject::Known).collect(),
            Some(ids) => ids
                .into_iter()
                .map(|id| match map.get(&id) {
                    Some(i) => Subject::Known(i),
                    None => {
                        let row = subjects.rows.remove(&id);
                        Subject::New(Some(id), row)
                    }
                })
                .collect(),
        }
    }
}

fn push(rows: &mut Vec<OutRow>, q: Option<&Id>, ranked: &Ranked, map: &IdMap) {
    for (r, (i, s)) in ranked.iter().enumerate() {
        rows.push((q.cloned(), map.id(*i).clone(), *s, r as i32 + 1));
    }
}

impl Answer {
    fn run(mut self) -> Result<(Vec<RecordBatch>, Vec<String>)> {
        let mut notices = std::mem::take(&mut self.subjects.notices);
        let a = self.artifact.clone();
        let k = self.options.n.unwrap_or(self.mv.spec.n_recommendations);
        let (side, map, what) = match self.kind {
            RecType::ItemItem => (Side::Items, &a.items, "item"),
            _ => (Side::Users, &a.users, "user"),
        };
        let subjects = Subject::all(&mut self.subjects, map);
        // The feature rows of new subjects, scored together.
        let described: Vec<Row> = subjects
            .iter()
            .filter_map(|s| match s {
                Subject::New(_, Some(row)) => Some(row.clone()),
                _ => None,
            })
            .collect();
        let n_new = subjects
            .iter()
            .filter(|s| matches!(s, Subject::New(..)))
            .count();
        if n_new > 0 {
            let model = format!("{}.{}", self.mv.project, self.mv.name);
            let fallback = n_new - described.len();
            // How many, when there are several; a single subject needs no count.
            let count = |n: usize| {
                if n_new == 1 {
                    String::new()
                } else {
                    format!("{n} ")
                }
            };
            let mut parts = Vec::new();
            if !described.is_empty() {
                parts.push(format!(
                    "{}answered from {} features",
                    count(described.len()),
                    if n_new == 1 { "its" } else { "their" }
                ));
            }
            if fallback > 0 {
                parts.push(match self.kind {
                    RecType::UserItem if !self.options.cold_start_error => format!(
                        "{}answered with the most popular items (USING cold_start = 'error' makes this an error)",
                        count(fallback)
                    ),
                    _ => format!("{}without features to answer from", count(fallback)),
                });
            }
            let who = match subjects.iter().find_map(|s| match s {
                Subject::New(id, _) => Some(id),
                _ => None,
            }) {
                Some(Some(id)) if n_new == 1 => format!("{what} {id} is"),
                Some(None) => format!("the {what} described by the query is"),
                _ => format!("{n_new} {what}s are"),
            };
            notices.push(format!(
                "{who} not in the training data of model {model}: {}",
                parts.join("; ")
            ));
        }
        let cold = a.cold_factors(side, &described);
        let mut rows: Vec<OutRow> = Vec::new();
        match self.kind {
            RecType::UserItem => {
                let allowed: Option<Vec<u32>> = match self.restrict.get("item_id") {
                    None => None,
                    Some(values) => Some(
                        distinct_ids(values, self.mv.item_id_text)
                            .iter()
                            .map(|id| {
                                a.items
                                    .get(id)
                                    .ok_or_else(|| unknown("item", id, &self.mv, false))
                            })
                            .collect::<Result<Vec<u32>>>()?,
                    ),
                };
                // Asking for particular items scores them even if the user has seen them.
                let exclude = self.options.exclude_seen && allowed.is_none();
                let k = match &allowed {
                    Some(list) => list.len().min(k),
                    None => k,
                };
                let known: Vec<u32> = subjects
                    .iter()
                    .filter_map(|s| match s {
                        Subject::Known(u) => Some(*u),
                        Subject::New(..) => None,
                    })
                    .collect();
                let mut answers = in_blocks(&self.stop, &known, |block| {
                    a.recommend(block, k, exclude, allowed.as_deref())
                })?
                .into_iter();
                let mut cold_answers = a.recommend_cold(&cold, k, allowed.as_deref()).into_iter();
                for s in &subjects {
                    match s {
                        Subject::Known(u) => {
                            let ranked = answers.next().unwrap_or_default();
                            push(&mut rows, Some(a.users.id(*u)), &ranked, &a.items);
                        }
                        Subject::New(id, Some(_)) => {
                            let ranked = cold_answers.next().unwrap_or_default();
                            push(&mut rows, id.as_ref(), &ranked, &a.items);
                        }
                        Subject::New(id, None) => {
                            if self.options.cold_start_error || id.is_none() {
                                return Err(match id {
                                    Some(id) => unknown("user", id, &self.mv, true),
                                    None => undescribed("user", &self.mv),
                                });
                            }
                            let ranked = a.popular(k, allowed.as_deref());
                            push(&mut rows, id.as_ref(), &ranked, &a.items);
                        }
                    }
                }
            }
            RecType::ItemItem | RecType::UserUser => {
                let mut list = Vec::with_capacity(subjects.len());
                for s in &subjects {
                    match s {
                        Subject::Known(i) => list.push(*i),
                        Subject::New(_, Some(_)) => {}
                        Subject::New(Some(id), None) => {
                            return Err(unknown(what, id, &self.mv, true));
                        }
                        Subject::New(None, None) => return Err(undescribed(what, &self.mv)),
                    }
                }
                let mut answers = in_blocks(&self.stop, &list, |block| {
                    if self.kind == RecType::ItemItem {
                        a.similar_items(block, k)
                    } else {
                        a.similar_users(block, k)
                    }
                })?
                .into_iter();
                let mut cold_answers = a.similar_to(side, &cold, k).into_iter();
                for s in &subjects {
                    let (q, ranked) = match s {
                        Subject::Known(i) => (Some(map.id(*i)), answers.next()),
                        Subject::New(id, _) => (id.as_ref(), cold_answers.next()),
                    };
                    push(&mut rows, q, &ranked.unwrap_or_default(), map);
                }
            }
        }
        Ok((to_batches(&self.schema, &rows, &self.given)?, notices))
    }
}

fn undescribed(what: &str, mv: &ModelVersion) -> Error {
    Error::new(
        sqlstate::UNDEFINED_OBJECT,
        format!(
            "none of the {what} feature values in the query is known to model {}.{}",
            mv.project, mv.name
        ),
    )
    .with_hint(format!(
        "give values that occur in the {what} feature table the model was trained with"
    ))
}

/// An id the model has not seen; `subject` when it is whom the query asks about (which side
/// features could describe), not a candidate answer.
fn unknown(what: &str, id: &Id, mv: &ModelVersion, subject: bool) -> Error {
    Error::new(
        sqlstate::UNDEFINED_OBJECT,
        format!("{what} id {id} is not in the training data of model {}.{}", mv.project, mv.name),
    )
    .with_hint(if subject && match what {
        "user" => mv.spec.user_features.is_some(),
        _ => mv.spec.item_features.is_some(),
    } {
        format!("add the {what} to the model's {what} feature table, or describe it with feature values in WHERE; or FINETUNE the model with data that includes it")
    } else {
        format!("only {what}s seen in training can be asked about; FINETUNE the model with data that includes them")
    })
}

fn id_column(ids: &[Option<&Id>], dt: &DataType) -> ArrayRef {
    match dt {
        DataType::Utf8 => Arc::new(StringArray::from_iter(
            ids.iter().map(|i| i.map(|i| i.to_string())),
        )),
        _ => Arc::new(Int64Array::from_iter(ids.iter().map(|i| {
            i.map(|i| match i {
                Id::Int(v) => *v,
                Id::Text(_) => 0,
            })
        }))),
    }
}

fn to_batches(
    schema: &SchemaRef,
    rows: &[OutRow],
    given: &BTreeMap<String, String>,
) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for chunk in rows.chunks(BATCH_ROWS) {
        let a: Vec<Option<&Id>> = chunk.iter().map(|r| r.0.as_ref()).collect();
        let b: Vec<Option<&Id>> = chunk.iter().map(|r| Some(&r.1)).collect();
        let mut columns: Vec<ArrayRef> = vec![
            id_column(&a, schema.field(0).data_type()),
            id_column(&b, schema.field(1).data_type()),
            Arc::new(Float32Array::from_iter_values(chunk.iter().map(|r| r.2))),
            Arc::new(Int32Array::from_iter_values(chunk.iter().map(|r| r.3))),
        ];
        for field in &schema.fields()[4..] {
            let value = given.get(field.name()).cloned();
            let n = chunk.len();
            columns.push(match field.data_type() {
                DataType::Float64 => {
                    let x = value.and_then(|v| v.trim().parse::<f64>().ok());
                    Arc::new(Float64Array::from(vec![x; n]))
                }
                _ => Arc::new(StringArray::from(vec![value; n])),
            });
        }
        let batch = RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| Error::internal(e.to_string()))?;
        out.push(batch);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn answers_come_in_blocks_until_they_are_no_longer_awaited() {
        let subjects: Vec<u32> = (0..(2 * SUBJECTS_PER_BLOCK + 1) as u32).collect();
        let calls = AtomicUsize::new(0);
        let answer = |block: &[u32]| {
            calls.fetch_add(1, Ordering::Relaxed);
            block
                .iter()
                .map(|&s| vec![(s, 1.0)])
                .collect::<Vec<Ranked>>()
        };
        let stop = AtomicBool::new(false);
        let all = in_blocks(&stop, &subjects, answer).unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), 3);
        let firsts: Vec<u32> = all.iter().map(|r| r[0].0).collect();
        assert_eq!(firsts, subjects);

        stop.store(true, Ordering::Relaxed);
        let err = in_blocks(&stop, &subjects, answer).unwrap_err();
        assert_eq!(err.code, sqlstate::QUERY_CANCELED);
        assert_eq!(
            calls.load(Ordering::Relaxed),
            3,
            "no block answered once stopped"
        );
    }
}
