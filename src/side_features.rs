//! Side-feature tables as Arrow batches → per-entity column values: the feature matrices a
//! hybrid model trains with, and the feature rows that describe users or items the model has
//! never seen (cold start). It converts data it is given; it runs no queries and trains
//! nothing.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};

use crate::error::{Error, Result};
use crate::recommender::encode::{ColumnValues, FeatureEncoder, ValueRef, value_at};
use crate::recommender::{FeatureMatrix, Id, IdMap};

/// The rows of the user and item feature tables, when the model has side features.
#[derive(Debug, Default)]
pub struct SideRows {
    pub users: Option<Vec<RecordBatch>>,
    pub items: Option<Vec<RecordBatch>>,
}

/// Whether an Arrow type can hold ids, and whether they are text.
pub fn id_kind(dt: &DataType) -> Option<bool> {
    match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Some(false),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(true),
        _ => None,
    }
}

/// The ids of a column, as text or as integers (None for NULL).
pub fn ids(col: &dyn Array, text: bool) -> Result<Vec<Option<Id>>> {
    let to = if text {
        DataType::Utf8
    } else {
        DataType::Int64
    };
    let arr = cast(col, &to).map_err(|e| Error::invalid_value(format!("cannot read ids: {e}")))?;
    Ok(if text {
        let a = arr.as_string::<i32>();
        (0..a.len())
            .map(|i| (!a.is_null(i)).then(|| Id::Text(a.value(i).to_string())))
            .collect()
    } else {
        let a = arr.as_primitive::<Int64Type>();
        (0..a.len())
            .map(|i| (!a.is_null(i)).then(|| Id::Int(a.value(i))))
            .collect()
    })
}

/// A feature table read into memory: one entry per distinct id (the last row of an id wins),
/// and each feature column's values in that order.
#[derive(Debug)]
pub struct FeatureTable {
    pub ids: Vec<Id>,
    pub columns: Vec<(String, ColumnValues)>,
}

impl FeatureTable {
    /// Reads `columns` (name, numeric?) of `rows`, keyed by `id_col`. Numeric columns are
    /// read as numbers and the others as text, whatever their type in the table.
    pub fn from_batches(
        rows: &[RecordBatch],
        table: &str,
        id_col: &str,
        text_ids: bool,
        columns: &[(String, bool)],
    ) -> Result<FeatureTable> {
        let mut at: HashMap<Id, usize> = HashMap::new();
        let mut ids_in_order: Vec<Id> = Vec::new();
        let mut slots: Vec<(usize, usize)> = Vec::new();
        for (b, batch) in rows.iter().enumerate() {
            let idx = batch.schema().index_of(id_col).map_err(|_| {
                Error::invalid_value(format!("feature table {table} has no id column {id_col}"))
            })?;
            for (r, id) in ids(batch.column(idx).as_ref(), text_ids)?
                .into_iter()
                .enumerate()
            {
                let Some(id) = id else { continue };
                match at.get(&id) {
                    Some(&e) => slots[e] = (b, r),
                    None => {
                        at.insert(id.clone(), ids_in_order.len());
                        ids_in_order.push(id);
                        slots.push((b, r));
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(columns.len());
        for (name, numeric) in columns {
            let to = if *numeric {
                DataType::Float64
            } else {
                DataType::Utf8
            };
            let cols: Vec<Arc<dyn Array>> = rows
                .iter()
                .map(|b| {
                    let i = b.schema().index_of(name).map_err(|_| {
                        Error::invalid_value(format!("feature table {table} has no column {name}"))
                    })?;
                    cast(b.column(i).as_ref(), &to).map_err(|e| {
                        Error::invalid_value(format!(
                            "feature column {name} of {table} cannot be read as {}: {e}",
                            if *numeric { "numbers" } else { "text" }
                        ))
                    })
                })
                .collect::<Result<_>>()?;
            let values = if *numeric {
                ColumnValues::Numeric(
                    slots
                        .iter()
                        .map(|&(b, r)| {
                            let a = cols[b].as_primitive::<Float64Type>();
                            (!a.is_null(r)).then(|| a.value(r))
                        })
                        .collect(),
                )
            } else {
                ColumnValues::Text(
                    slots
                        .iter()
                        .map(|&(b, r)| {
                            let a = cols[b].as_string::<i32>();
                            (!a.is_null(r)).then(|| a.value(r).to_string())
                        })
                        .collect(),
                )
            };
            out.push((name.clone(), values));
        }
        Ok(FeatureTable {
            ids: ids_in_order,
            columns: out,
        })
    }

    /// The values of one row, in column order.
    pub fn row(&self, r: usize) -> Vec<Option<ValueRef<'_>>> {
        self.columns.iter().map(|(_, v)| value_at(v, r)).collect()
    }

    /// The columns' values rearranged to follow `map`'s entities (None where an entity has
    /// no row).
    fn for_entities(&self, map: &IdMap) -> Vec<(String, ColumnValues)> {
        let index: HashMap<&Id, usize> =
            self.ids.iter().enumerate().map(|(i, id)| (id, i)).collect();
        let rows: Vec<Option<usize>> = map.ids().iter().map(|id| index.get(id).copied()).collect();
        self.columns
            .iter()
            .map(|(name, values)| {
                let v = match values {
                    ColumnValues::Numeric(v) => {
                        ColumnValues::Numeric(rows.iter().map(|r| r.and_then(|r| v[r])).collect())
                    }
                    ColumnValues::Text(v) => ColumnValues::Text(
                        rows.iter().map(|r| r.and_then(|r| v[r].clone())).collect(),
                    ),
                };
                (name.clone(), v)
            })
            .collect()
    }
}

/// Fits the encoder of one side and builds the feature matrix of the entities of `map` from
/// their rows in a feature table. Numeric columns of the table become quantile buckets.
pub fn side_matrix(
    rows: &[RecordBatch],
    side: &crate::catalog::SideFeatures,
    id_col: &str,
    map: &IdMap,
    text_ids: bool,
    identity: bool,
) -> Result<(FeatureMatrix, FeatureEncoder)> {
    let numeric = |name: &String| {
        rows.first()
            .and_then(|b| {
                b.schema()
                    .field_with_name(name)
                    .ok()
                    .map(|f| f.data_type().is_numeric())
            })
            .unwrap_or(false)
    };
    let columns: Vec<(String, bool)> = side
        .columns
        .iter()
        .map(|c| (c.clone(), numeric(c)))
        .collect();
    let table = FeatureTable::from_batches(rows, &side.table, id_col, text_ids, &columns)?;
    let columns = table.for_entities(map);
    let n = map.len();
    let encoder = FeatureEncoder::fit(&columns, n, identity);
    let matrix = encoder.matrix(&columns, n);
    if (0..n).any(|r| matrix.row(r).0.is_empty()) {
        return Err(Error::invalid_value(format!(
            "some entities have no features in {} and identity_features is false",
            side.table
        ))
        .with_hint("keep identity_features = true, or give every entity a feature row"));
    }
    Ok((matrix, encoder))
}

/// Feature rows for the entities `from..` of `map` (new in a fine-tuning), in the model's
/// column numbering once they are added: identity features (when the encoder has them)
/// numbered after the old entities', side features after all entities'.
pub fn new_entity_rows(
    rows: &[RecordBatch],
    side: &crate::catalog::SideFeatures,
    id_col: &str,
    map: &IdMap,
    text_ids: bool,
    encoder: &FeatureEncoder,
    from: usize,
) -> Result<Vec<Vec<(u32, f32)>>> {
    let table =
        FeatureTable::from_batches(rows, &side.table, id_col, text_ids, &encoder.column_kinds())?;
    let index: HashMap<&Id, usize> = table
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id, i))
        .collect();
    let n = map.len();
    let none = vec![None; encoder.columns.len()];
    let mut out = Vec::with_capacity(n.saturating_sub(from));
    for e in from..n {
        let values = match index.get(map.id(e as u32)) {
            Some(&r) => table.row(r),
            None => none.clone(),
        };
        let row = encoder.row(Some(e), n, &values);
        if row.is_empty() {
            return Err(Error::invalid_value(format!(
                "{} has no features in {} and the model has no identity features",
                map.id(e as u32),
                side.table
            ))
            .with_hint("add a feature row for every new user and item"));
        }
        out.push(row);
    }
    Ok(out)
}
