//! Interactions: (user, item[, rating][, weight]) rows with external ids (integer or text)
//! mapped to contiguous indices, with the maps kept for answers.
//!
//! Semantics, as the reference handler's: with a threshold, a rating >= threshold is a
//! positive (+1) and anything below it a known negative (-1): logistic learns it as y = 0,
//! WARP/BPR never draw it as a negative. Without a rating every row is a positive.
//! **Duplicate (user, item) pairs: the last row wins**, as in the reference handler (its LIL
//! matrix assignment); the pair is stored once, with the last row's value and weight.
//! Indices follow the order of first appearance.
//!
//! Storage is compact for large data: 8 bytes per interaction for implicit feedback (16 with
//! ratings or weights). The entries are kept sorted by (user, item), so each user's known
//! items are a slice of the item column, and no hash of pairs is kept.

use std::collections::HashMap;
use std::fmt;

/// An external id: the type of the source column is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Id {
    Int(i64),
    Text(String),
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Int(i) => write!(f, "{i}"),
            Id::Text(s) => f.write_str(s),
        }
    }
}

/// External ids ↔ contiguous indices, in order of first appearance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdMap {
    ids: Vec<Id>,
    index: HashMap<Id, u32>,
}

impl IdMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of `id`, adding it if new.
    pub fn intern(&mut self, id: Id) -> u32 {
        if let Some(&i) = self.index.get(&id) {
            return i;
        }
        let i = self.ids.len() as u32;
        self.index.insert(id.clone(), i);
        self.ids.push(id);
        i
    }

    pub fn get(&self, id: &Id) -> Option<u32> {
        self.index.get(id).copied()
    }

    pub fn id(&self, index: u32) -> &Id {
        &self.ids[index as usize]
    }

    pub fn ids(&self) -> &[Id] {
        &self.ids
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// One f32 per interaction row, stored only once some row differs from the default: with
/// implicit feedback (every value +1, every weight 1) the two columns take no memory, 160 MB
/// fewer at 20M interactions.
#[derive(Debug, Clone, PartialEq)]
pub struct RowValues {
    default: f32,
    /// Empty while every row holds `default`; otherwise one entry per row.
    rows: Vec<f32>,
}

impl RowValues {
    /// A column where every row holds `v`, whatever the number of rows.
    pub fn constant(v: f32) -> Self {
        RowValues {
            default: v,
            rows: Vec::new(),
        }
    }

    /// The value of row `k`.
    #[inline]
    pub fn get(&self, k: usize) -> f32 {
        self.rows.get(k).copied().unwrap_or(self.default)
    }

    /// The address of row `k`'s stored value, for prefetching only (meaningless while
    /// nothing is stored; a prefetch never faults).
    #[inline]
    pub fn row_ptr(&self, k: usize) -> *const f32 {
        self.rows.as_ptr().wrapping_add(k)
    }

    /// Whether every row holds `v`.
    pub fn all_equal(&self, v: f32) -> bool {
        if self.rows.is_empty() {
            self.default == v
        } else {
            self.rows.iter().all(|&r| r == v)
        }
    }

    /// Appends the value of row `n` (the column holds `n` rows so far).
    fn push(&mut self, v: f32, n: usize) {
        if self.rows.is_empty() {
            if v == self.default {
                return;
            }
            self.rows = vec![self.default; n];
        }
        self.rows.push(v);
    }

    /// The rows `keep`, in that order.
    fn gather(self, keep: &[u32]) -> Self {
        if self.rows.is_empty() {
            return self;
        }
        let rows = keep.iter().map(|&k| self.rows[k as usize]).collect();
        RowValues { rows, ..self }
    }
}

/// The training matrix: one entry per distinct pair, sorted by (user, item).
#[derive(Debug, Clone, PartialEq)]
pub struct Interactions {
    pub users: IdMap,
    pub items: IdMap,
    pub user_idx: Vec<u32>,
    pub item_idx: Vec<u32>,
    /// +1 for positives, -1 for known negatives.
    pub values: RowValues,
    pub weights: RowValues,
    /// Entries of user u are `user_ptr[u]..user_ptr[u + 1]`.
    user_ptr: Vec<usize>,
}

/// Builds [`Interactions`] row by row.
#[derive(Debug)]
pub struct InteractionsBuilder {
    users: IdMap,
    items: IdMap,
    threshold: Option<f64>,
    user_idx: Vec<u32>,
    item_idx: Vec<u32>,
    values: RowValues,
    weights: RowValues,
}

impl InteractionsBuilder {
    /// With `threshold`, ratings below it are known negatives.
    pub fn new(threshold: Option<f64>) -> Self {
        Self::with_maps(IdMap::new(), IdMap::new(), threshold)
    }

    /// Starts from existing id maps (fine-tuning: old indices stay, new ids are appended).
    pub fn with_maps(users: IdMap, items: IdMap, threshold: Option<f64>) -> Self {
        InteractionsBuilder {
            users,
            items,
            threshold,
            user_idx: Vec::new(),
            item_idx: Vec::new(),
            values: RowValues::constant(1.0),
            weights: RowValues::constant(1.0),
        }
    }

    /// The id maps so far, for interning ids before `push_index`.
    pub fn maps_mut(&mut self) -> (&mut IdMap, &mut IdMap) {
        (&mut self.users, &mut self.items)
    }

    /// The +1/-1 value of a rating under this builder's threshold.
    fn value_of(&self, rating: Option<f64>) -> f32 {
        match (rating, self.threshold) {
            (Some(r), Some(t)) => {
                if r >= t {
                    1.0
                } else {
                    -1.0
                }
            }
            (Some(r), None) => {
                if r > 0.0 {
                    1.0
                } else {
                    -1.0
                }
            }
            (None, _) => 1.0,
        }
    }

    /// Adds one row. A missing rating is a positive; a NaN rating is a known negative.
    pub fn push(&mut self, user: Id, item: Id, rating: Option<f64>, weight: f32) {
        let u = self.users.intern(user);
        let i = self.items.intern(item);
        self.push_index(u, i, rating, weight);
    }

    /// Adds one row by indices already interned in this builder's maps.
    pub fn push_index(&mut self, u: u32, i: u32, rating: Option<f64>, weight: f32) {
        let value = self.value_of(rating);
        self.push_row(u, i, value, weight);
    }

    /// Appends one entry to the four columns.
    fn push_row(&mut self, u: u32, i: u32, value: f32, weight: f32) {
        let n = self.user_idx.len();
        self.values.push(value, n);
        self.weights.push(weight, n);
        self.user_idx.push(u);
        self.item_idx.push(i);
    }

    /// Sorts by (user, item), keeping the last row of each duplicate pair.
    pub fn build(self) -> Interactions {
        let n_users = self.users.len();
        let n = self.user_idx.len();
        // Counting sort by user (stable), then a stable sort by item within each user.
        let mut user_ptr = vec![0usize; n_users + 1];
        for &u in &self.user_idx {
            user_ptr[u as usize + 1] += 1;
        }
        for u in 0..n_users {
            user_ptr[u + 1] += user_ptr[u];
        }
        let mut fill = user_ptr.clone();
        let mut perm = vec![0u32; n];
        for (k, &u) in self.user_idx.iter().enumerate() {
            perm[fill[u as usize]] = k as u32;
            fill[u as usize] += 1;
        }
        drop(fill);
        let mut keep = Vec::with_capacity(n);
        let mut new_ptr = Vec::with_capacity(n_users + 1);
        new_ptr.push(0);
        for u in 0..n_users {
            let rows = &mut perm[user_ptr[u]..user_ptr[u + 1]];
            rows.sort_by_key(|&k| self.item_idx[k as usize]);
            for (j, &k) in rows.iter().enumerate() {
                let last_of_run = rows
                    .get(j + 1)
                    .is_none_or(|&next| self.item_idx[next as usize] != self.item_idx[k as usize]);
                if last_of_run {
                    keep.push(k);
                }
            }
            new_ptr.push(keep.len());
        }
        drop(perm);
        let gather_u32 =
            |col: Vec<u32>| -> Vec<u32> { keep.iter().map(|&k| col[k as usize]).collect() };
        let user_idx = gather_u32(self.user_idx);
        let item_idx = gather_u32(self.item_idx);
        let values = self.values.gather(&keep);
        let weights = self.weights.gather(&keep);
        Interactions {
            users: self.users,
            items: self.items,
            user_idx,
            item_idx,
            values,
            weights,
            user_ptr: new_ptr,
        }
    }
}

impl Interactions {
    pub fn n_users(&self) -> usize {
        self.users.len()
    }

    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    pub fn nnz(&self) -> usize {
        self.user_idx.len()
    }

    pub fn n_positives(&self) -> usize {
        (0..self.nnz()).filter(|&k| self.is_positive(k)).count()
    }

    /// Whether entry `k` is a positive (otherwise a known negative).
    #[inline]
    pub fn is_positive(&self, k: usize) -> bool {
        self.values.get(k) > 0.0
    }

    /// Whether every entry is a positive of weight 1 (implicit feedback).
    pub fn is_implicit(&self) -> bool {
        self.values.all_equal(1.0) && self.weights.all_equal(1.0)
    }

    /// The sorted items user `u` interacted with (positives and known negatives).
    #[inline]
    pub fn known(&self, u: u32) -> &[u32] {
        let u = u as usize;
        if u + 1 >= self.user_ptr.len() {
            return &[];
        }
        &self.item_idx[self.user_ptr[u]..self.user_ptr[u + 1]]
    }

    #[inline]
    pub fn is_known(&self, u: u32, i: u32) -> bool {
        self.known(u).binary_search(&i).is_ok()
    }

    /// Each user's sorted positive items, indexed by user.
    pub fn positives_of(&self) -> Vec<Vec<u32>> {
        let mut out = vec![Vec::new(); self.n_users()];
        for (k, (&u, &i)) in self.user_idx.iter().zip(&self.item_idx).enumerate() {
            if self.is_positive(k) {
                out[u as usize].push(i);
            }
        }
        for v in &mut out {
            v.sort_unstable();
        }
        out
    }

    /// Keeps only the entries whose index is selected (used by the train/test split); the id
    /// maps stay whole so both halves share indices.
    pub fn subset(&self, keep: &[usize]) -> Interactions {
        let mut b = InteractionsBuilder::with_maps(self.users.clone(), self.items.clone(), None);
        for &k in keep {
            b.push_row(
                self.user_idx[k],
                self.item_idx[k],
                self.values.get(k),
                self.weights.get(k),
            );
        }
        b.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_duplicates_and_maps() {
        let mut b = InteractionsBuilder::new(Some(4.0));
        b.push(Id::Int(10), Id::Text("a".into()), Some(5.0), 1.0);
        b.push(Id::Int(10), Id::Text("b".into()), Some(2.0), 1.0);
        b.push(Id::Int(20), Id::Text("a".into()), Some(4.0), 1.0);
        // A duplicate pair: the last row wins.
        b.push(Id::Int(10), Id::Text("a".into()), Some(1.0), 2.0);
        let x = b.build();
        assert_eq!(x.n_users(), 2);
        assert_eq!(x.n_items(), 2);
        assert_eq!(x.nnz(), 3);
        // Sorted by (user, item): (10, a), (10, b), (20, a).
        assert_eq!(
            (0..3).map(|k| x.values.get(k)).collect::<Vec<_>>(),
            [-1.0, -1.0, 1.0]
        );
        assert_eq!(
            (0..3).map(|k| x.weights.get(k)).collect::<Vec<_>>(),
            [2.0, 1.0, 1.0]
        );
        assert!(!x.is_implicit());
        assert_eq!(x.user_idx, vec![0, 0, 1]);
        assert_eq!(x.users.get(&Id::Int(20)), Some(1));
        assert_eq!(x.items.id(1), &Id::Text("b".into()));
        assert_eq!(x.known(0), &[0, 1]);
        assert!(x.is_known(1, 0) && !x.is_known(1, 1));
        assert_eq!(x.n_positives(), 1);
    }

    #[test]
    fn without_rating_every_row_is_positive() {
        let mut b = InteractionsBuilder::new(None);
        b.push(Id::Int(1), Id::Int(1), None, 1.0);
        b.push(Id::Int(1), Id::Int(2), None, 1.0);
        let x = b.build();
        assert_eq!(x.n_positives(), 2);
        assert!(x.is_implicit());
        assert_eq!(
            x.values,
            RowValues::constant(1.0),
            "implicit rows store no values"
        );
        assert_eq!(x.weights, RowValues::constant(1.0), "nor weights");
    }
}
