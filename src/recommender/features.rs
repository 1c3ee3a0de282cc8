//! Sparse feature matrices (CSR, f32): one row per user or item, one column per feature.
//! Identity matrices give plain collaborative filtering; side features make a hybrid model.

/// A CSR matrix of feature weights.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    indptr: Vec<usize>,
    indices: Vec<u32>,
    data: Vec<f32>,
    n_cols: usize,
}

impl FeatureMatrix {
    /// The n × n identity: each row is its own feature.
    pub fn identity(n: usize) -> Self {
        FeatureMatrix {
            indptr: (0..=n).collect(),
            indices: (0..n as u32).collect(),
            data: vec![1.0; n],
            n_cols: n,
        }
    }

    /// Builds from rows of (column, weight); duplicate columns in a row are summed.
    pub fn from_rows(rows: &[Vec<(u32, f32)>], n_cols: usize) -> Self {
        let mut indptr = Vec::with_capacity(rows.len() + 1);
        let mut indices = Vec::new();
        let mut data = Vec::new();
        indptr.push(0);
        for row in rows {
            let mut r = row.clone();
            r.sort_by_key(|&(c, _)| c);
            for (c, w) in r {
                debug_assert!((c as usize) < n_cols);
                if indices.len() > *indptr.last().unwrap_or(&0) && indices.last() == Some(&c) {
                    if let Some(last) = data.last_mut() {
                        *last += w;
                    }
                } else {
                    indices.push(c);
                    data.push(w);
                }
            }
            indptr.push(indices.len());
        }
        FeatureMatrix {
            indptr,
            indices,
            data,
            n_cols,
        }
    }

    /// Divides every row by the sum of its absolute weights (LightFM's Dataset `normalize`).
    pub fn normalize_rows(mut self) -> Self {
        for r in 0..self.n_rows() {
            let (s, e) = (self.indptr[r], self.indptr[r + 1]);
            let norm: f32 = self.data[s..e].iter().map(|w| w.abs()).sum();
            if norm > 0.0 {
                for w in &mut self.data[s..e] {
                    *w /= norm;
                }
            }
        }
        self
    }

    pub fn n_rows(&self) -> usize {
        self.indptr.len() - 1
    }

    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// The (feature, weight) pairs of row `r`.
    #[inline]
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (s, e) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[s..e], &self.data[s..e])
    }

    /// Whether every row is exactly its own single feature with weight 1.
    pub fn is_identity(&self) -> bool {
        self.n_rows() == self.n_cols
            && self.nnz() == self.n_rows()
            && self
                .indices
                .iter()
                .enumerate()
                .all(|(i, &c)| c as usize == i)
            && self.data.iter().all(|&w| w == 1.0)
    }

    /// Appends identity rows for `extra` new entities (new columns at the end).
    pub fn grow_identity(&mut self, extra: usize) {
        for _ in 0..extra {
            self.indices.push(self.n_cols as u32);
            self.data.push(1.0);
            self.n_cols += 1;
            self.indptr.push(self.indices.len());
        }
    }

    /// Adds entities with side features: `inserted` new columns are inserted at column `at`
    /// (the new entities' identity features; the columns from `at` on move up), then `rows`,
    /// which are already in the new column numbering, are appended.
    pub fn insert_rows(&mut self, at: u32, inserted: usize, rows: &[Vec<(u32, f32)>]) {
        for c in &mut self.indices {
            if *c >= at {
                *c += inserted as u32;
            }
        }
        self.n_cols += inserted;
        let extra = FeatureMatrix::from_rows(rows, self.n_cols);
        let base = self.indices.len();
        self.indices.extend_from_slice(&extra.indices);
        self.data.extend_from_slice(&extra.data);
        self.indptr
            .extend(extra.indptr[1..].iter().map(|p| p + base));
    }

    /// The raw CSR arrays (indptr, indices, data).
    pub fn parts(&self) -> (&[usize], &[u32], &[f32]) {
        (&self.indptr, &self.indices, &self.data)
    }

    /// Rebuilds from raw CSR arrays, checking that they are consistent.
    pub fn from_parts(
        indptr: Vec<usize>,
        indices: Vec<u32>,
        data: Vec<f32>,
        n_cols: usize,
    ) -> Result<Self, String> {
        if indptr.is_empty() || indptr[0] != 0 {
            return Err("feature row pointers must start at 0".into());
        }
        if indptr.windows(2).any(|w| w[0] > w[1]) || indptr[indptr.len() - 1] != indices.len() {
            return Err("feature row pointers are inconsistent".into());
        }
        if indices.len() != data.len() || indices.iter().any(|&c| c as usize >= n_cols) {
            return Err("feature indices are out of range".into());
        }
        Ok(FeatureMatrix {
            indptr,
            indices,
            data,
            n_cols,
        })
    }

    /// True if every weight is finite.
    pub fn is_finite(&self) -> bool {
        self.data.iter().all(|w| w.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_rows_and_normalisation() {
        let id = FeatureMatrix::identity(3);
        assert!(id.is_identity());
        assert_eq!(id.row(2), (&[2u32][..], &[1.0f32][..]));
        let m = FeatureMatrix::from_rows(&[vec![(0, 1.0), (2, 1.0), (2, 1.0)], vec![]], 3)
            .normalize_rows();
        assert_eq!(m.row(0).0, &[0, 2]);
        let w = m.row(0).1;
        assert!((w[0] - 1.0 / 3.0).abs() < 1e-6 && (w[1] - 2.0 / 3.0).abs() < 1e-6);
        assert!(m.row(1).0.is_empty());
    }

    #[test]
    fn inserting_identity_columns_moves_side_features_up() {
        // Two entities: identity (0, 1) and side features 2..4.
        let mut m =
            FeatureMatrix::from_rows(&[vec![(0, 0.8), (2, 0.2)], vec![(1, 0.8), (3, 0.2)]], 4);
        // One new entity: identity column 2, side feature 3 (old column 2, now 3).
        m.insert_rows(2, 1, &[vec![(2, 0.8), (3, 0.2)]]);
        assert_eq!(m.n_rows(), 3);
        assert_eq!(m.n_cols(), 5);
        assert_eq!(m.row(0).0, &[0, 3]);
        assert_eq!(m.row(1).0, &[1, 4]);
        assert_eq!(m.row(2).0, &[2, 3]);
    }
}
