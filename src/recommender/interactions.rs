//! Interactions: (user, item[, rating][, weight]) rows with external ids (integer or text)
//! mapped to contiguous indices, with the maps kept for answers.
//!
//! Semantics, as the reference handler's: with a threshold, a rating >= threshold is a
//! positive (+1) and anything below it a known negative (-1): logistic learns it as y = 0,
//! WARP/BPR never draw it as a negative. Without a rating every row is a positive.
//! **Duplicate (user, item) pairs: the last row wins**, as in the reference handler (its LIL
//! matrix assignment); the pair is stored once, with the last row's value and weight.
//! Indices follow the order of first appearance.

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

/// The training matrix in COO form (one entry per distinct pair) plus each user's known items.
#[derive(Debug, Clone, PartialEq)]
pub struct Interactions {
    pub users: IdMap,
    pub items: IdMap,
    /// COO rows, in order of first appearance of each pair.
    pub user_idx: Vec<u32>,
    pub item_idx: Vec<u32>,
    /// +1 for positives, -1 for known negatives.
    pub values: Vec<f32>,
    pub weights: Vec<f32>,
    /// Sorted known items (any value) per user: the CSR "positives lookup".
    known_ptr: Vec<usize>,
    known_items: Vec<u32>,
}

/// Builds [`Interactions`] row by row.
#[derive(Debug, Default)]
pub struct InteractionsBuilder {
    users: IdMap,
    items: IdMap,
    threshold: Option<f64>,
    pairs: HashMap<(u32, u32), usize>,
    user_idx: Vec<u32>,
    item_idx: Vec<u32>,
    values: Vec<f32>,
    weights: Vec<f32>,
}

impl InteractionsBuilder {
    /// With `threshold`, ratings below it are known negatives.
    pub fn new(threshold: Option<f64>) -> Self {
        InteractionsBuilder {
            threshold,
            ..Default::default()
        }
    }

    /// Starts from existing id maps (fine-tuning: old indices stay, new ids are appended).
    pub fn with_maps(users: IdMap, items: IdMap, threshold: Option<f64>) -> Self {
        InteractionsBuilder {
            users,
            items,
            threshold,
            ..Default::default()
        }
    }

    /// Adds one row. A missing rating is a positive; a NaN rating is a known negative.
    pub fn push(&mut self, user: Id, item: Id, rating: Option<f64>, weight: f32) {
        let u = self.users.intern(user);
        let i = self.items.intern(item);
        let value = match (rating, self.threshold) {
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
        };
        match self.pairs.get(&(u, i)) {
            Some(&at) => {
                self.values[at] = value;
                self.weights[at] = weight;
            }
            None => {
                self.pairs.insert((u, i), self.user_idx.len());
                self.user_idx.push(u);
                self.item_idx.push(i);
                self.values.push(value);
                self.weights.push(weight);
            }
        }
    }

    pub fn build(self) -> Interactions {
        let n_users = self.users.len();
        let mut counts = vec![0usize; n_users + 1];
        for &u in &self.user_idx {
            counts[u as usize + 1] += 1;
        }
        for i in 0..n_users {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut known_items = vec![0u32; self.user_idx.len()];
        for (&u, &i) in self.user_idx.iter().zip(&self.item_idx) {
            known_items[fill[u as usize]] = i;
            fill[u as usize] += 1;
        }
        for u in 0..n_users {
            known_items[counts[u]..counts[u + 1]].sort_unstable();
        }
        Interactions {
            users: self.users,
            items: self.items,
            user_idx: self.user_idx,
            item_idx: self.item_idx,
            values: self.values,
            weights: self.weights,
            known_ptr: counts,
            known_items,
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
        self.values.iter().filter(|&&v| v > 0.0).count()
    }

    /// The sorted items user `u` interacted with (positives and known negatives).
    #[inline]
    pub fn known(&self, u: u32) -> &[u32] {
        let u = u as usize;
        if u + 1 >= self.known_ptr.len() {
            return &[];
        }
        &self.known_items[self.known_ptr[u]..self.known_ptr[u + 1]]
    }

    #[inline]
    pub fn is_known(&self, u: u32, i: u32) -> bool {
        self.known(u).binary_search(&i).is_ok()
    }

    /// The sorted positive items of user `u`.
    pub fn positives_of(&self) -> Vec<Vec<u32>> {
        let mut out = vec![Vec::new(); self.n_users()];
        for ((&u, &i), &v) in self.user_idx.iter().zip(&self.item_idx).zip(&self.values) {
            if v > 0.0 {
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
            let (u, i) = (self.user_idx[k], self.item_idx[k]);
            b.pairs.insert((u, i), b.user_idx.len());
            b.user_idx.push(u);
            b.item_idx.push(i);
            b.values.push(self.values[k]);
            b.weights.push(self.weights[k]);
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
        assert_eq!(x.values, vec![-1.0, -1.0, 1.0]);
        assert_eq!(x.weights[0], 2.0);
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
        assert_eq!(b.build().n_positives(), 2);
    }
}
