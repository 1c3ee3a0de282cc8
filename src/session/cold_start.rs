//! Who a model query asks about, and the feature rows of those the model has never seen
//! (cold start). Subjects come from the query's key filter, from the table of a prediction
//! join, or are all known ones; a new subject is described by its row in the joined table,
//! by its row in the model's own feature table, or by the feature values written in the
//! query (`WHERE age = 25 AND occupation = 'engineer'`). Lookups run through DataFusion; the
//! scoring is left to the model table.

use std::collections::{BTreeMap, HashMap};

use datafusion::arrow::array::RecordBatch;
use datafusion::catalog::Session;
use datafusion::dataframe::DataFrame;
use datafusion::execution::SessionState;
use datafusion::prelude::{SessionContext, ident, lit};

use crate::catalog::ModelVersion;
use crate::datasource::open_table;
use crate::error::{Error, Result};
use crate::recommender::artifact::Side;
use crate::recommender::encode::FeatureEncoder;
use crate::recommender::{Artifact, Id, IdMap};
use crate::side_features::FeatureTable;

/// A feature row in the model's feature space (no identity feature).
pub type Row = Vec<(u32, f32)>;

/// The other side of a prediction join: a query of its rows (the table or subquery with the
/// WHERE conditions on it alone), its name for messages, and the column holding the ids it
/// asks about.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Feed {
    pub query: String,
    pub name: String,
    pub column: String,
}

/// The subjects of one model query.
#[derive(Debug, Default)]
pub struct Subjects {
    /// The ids asked about, in order; None means every subject the model knows, or, with
    /// `anonymous`, one subject given only by features.
    pub ids: Option<Vec<Id>>,
    /// Feature rows of ids the model has not seen.
    pub rows: HashMap<Id, Row>,
    /// A subject with no id, described by the query's feature values.
    pub anonymous: Option<Row>,
    pub notices: Vec<String>,
}

fn context(state: &dyn Session) -> Result<SessionContext> {
    let state = state
        .as_any()
        .downcast_ref::<SessionState>()
        .ok_or_else(|| Error::internal("the model table needs DataFusion's session state"))?;
    Ok(SessionContext::new_with_state(state.clone()))
}

/// Reads the id column and those of `columns` (name, numeric) that `df` has, for `ids` only
/// when given. Returns the batches and the columns read.
async fn read(
    df: DataFrame,
    id_col: &str,
    columns: &[(String, bool)],
    ids: Option<&[Id]>,
) -> Result<(Vec<RecordBatch>, Vec<(String, bool)>)> {
    let present: Vec<(String, bool)> = columns
        .iter()
        .filter(|(c, _)| c != id_col && df.schema().has_column_with_unqualified_name(c))
        .cloned()
        .collect();
    let mut select = vec![ident(id_col)];
    select.extend(present.iter().map(|(c, _)| ident(c)));
    let mut df = df.select(select)?;
    if let Some(ids) = ids {
        let list = ids
            .iter()
            .map(|id| match id {
                Id::Int(i) => lit(*i),
                Id::Text(t) => lit(t.clone()),
            })
            .collect();
        df = df.filter(ident(id_col).in_list(list, false))?;
    }
    Ok((df.collect().await?, present))
}

/// How the feature rows of new users or items are made.
struct Describer<'a> {
    encoder: &'a FeatureEncoder,
    n_entities: usize,
    text_ids: bool,
    /// The ids the model knows.
    known: &'a IdMap,
}

impl Describer<'_> {
    /// Reads the ids and the feature columns `kinds` (a subset of the encoder's) of a
    /// table's rows, adds the feature rows of ids that are not known to `out`, and returns
    /// the ids in order.
    fn read_rows(
        &self,
        batches: &[RecordBatch],
        table: &str,
        id_col: &str,
        kinds: &[(String, bool)],
        out: &mut HashMap<Id, Row>,
    ) -> Result<Vec<Id>> {
        let t = FeatureTable::from_batches(batches, table, id_col, self.text_ids, kinds)?;
        if kinds.is_empty() {
            return Ok(t.ids);
        }
        // Columns the table lacks are missing values in every row.
        let position: Vec<Option<usize>> = self
            .encoder
            .columns
            .iter()
            .map(|c| t.columns.iter().position(|(n, _)| *n == c.name))
            .collect();
        for (r, id) in t.ids.iter().enumerate() {
            if self.known.get(id).is_some() {
                continue;
            }
            let values = t.row(r);
            let aligned: Vec<_> = position.iter().map(|p| p.and_then(|p| values[p])).collect();
            let row = self.encoder.row(None, self.n_entities, &aligned);
            if !row.is_empty() {
                out.insert(id.clone(), row);
            }
        }
        Ok(t.ids)
    }
}

/// Works out the subjects of a query on `side` of the model `a` (version `mv`).
pub async fn subjects(
    state: &dyn Session,
    a: &Artifact,
    mv: &ModelVersion,
    side: Side,
    restricted: Option<Vec<Id>>,
    feed: Option<&Feed>,
    given: &BTreeMap<String, String>,
) -> Result<Subjects> {
    let (map, text_ids, id_col, feature_table) = match side {
        Side::Users => (
            &a.users,
            mv.user_id_text,
            &mv.spec.user_col,
            mv.spec.user_features.as_ref(),
        ),
        Side::Items => (
            &a.items,
            mv.item_id_text,
            &mv.spec.item_col,
            mv.spec.item_features.as_ref(),
        ),
    };
    let what = match side {
        Side::Users => "user",
        Side::Items => "item",
    };
    let encoder = a.encoder(side);
    let n_entities = a.feature_rows(side);
    let known = |id: &Id| map.get(id).is_some();
    let mut s = Subjects {
        ids: restricted,
        ..Subjects::default()
    };
    let mut ctx = None;
    let describer = encoder.map(|encoder| Describer {
        encoder,
        n_entities,
        text_ids,
        known: map,
    });

    // A prediction join asks about the ids of the joined table, described by its feature
    // columns when it has them.
    if s.ids.is_none()
        && let Some(feed) = feed
    {
        let c = ctx.insert(context(state)?);
        let kinds = encoder.map(|e| e.column_kinds()).unwrap_or_default();
        let rows = c
            .sql(&feed.query)
            .await
            .map_err(|e| Error::from(e).context(format_args!("table {}", feed.name)))?;
        let (batches, kinds) = read(rows, &feed.column, &kinds, None).await?;
        let ids = match &describer {
            Some(d) => d.read_rows(&batches, &feed.name, &feed.column, &kinds, &mut s.rows)?,
            None => {
                FeatureTable::from_batches(&batches, &feed.name, &feed.column, text_ids, &[])?.ids
            }
        };
        s.ids = Some(ids);
    }

    // Features written in the query describe the new ids asked about, or one subject
    // without an id.
    if !given.is_empty() {
        let Some(e) = encoder else {
            return Err(Error::invalid_value(format!(
                "model {}.{} version {} has no {what} feature encoder, so {what}s cannot be described by features",
                mv.project, mv.name, mv.version
            ))
            .with_hint("RETRAIN the model to rebuild it with this version of recsql"));
        };
        let row = e.row(None, n_entities, &e.values_of(given));
        if row.is_empty() {
            let listed: Vec<String> = given.iter().map(|(k, v)| format!("{k} = '{v}'")).collect();
            s.notices.push(format!(
                "none of the {what} feature values {} occurs in the training data of model {}.{}",
                listed.join(", "),
                mv.project,
                mv.name
            ));
        }
        match &s.ids {
            None => s.anonymous = Some(row),
            Some(ids) => {
                if !row.is_empty() {
                    for id in ids.iter().filter(|id| !known(id)) {
                        s.rows.insert(id.clone(), row.clone());
                    }
                }
            }
        }
    }

    // New ids still without features: their rows in the model's own feature table.
    let missing: Vec<Id> = s
        .ids
        .iter()
        .flatten()
        .filter(|id| !known(id) && !s.rows.contains_key(id))
        .cloned()
        .collect();
    if let (false, Some(d), Some(table)) = (missing.is_empty(), &describer, feature_table) {
        let c = match ctx {
            Some(c) => c,
            None => context(state)?,
        };
        let kinds = d.encoder.column_kinds();
        let rows = &mut s.rows;
        let found = async {
            let df = open_table(&c, &table.table).await?;
            let (batches, kinds) = read(df, id_col, &kinds, Some(&missing)).await?;
            d.read_rows(&batches, &table.table, id_col, &kinds, rows)
                .map(|_| ())
        }
        .await;
        if let Err(err) = found {
            s.notices.push(format!(
                "cannot read the features of new {what}s from {}: {}",
                table.table, err.message
            ));
        }
    }
    Ok(s)
}
