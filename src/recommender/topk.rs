//! Top-k answers: items for users (known items excluded by default), and most similar items
//! or users by cosine of their learned representations. Scores are computed a block of rows at
//! a time with a matrix product (ndarray's GEMM), rows in parallel on rayon, with a per-row
//! selection of the k best; the full users × items matrix is never materialised.

use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;

/// Rows scored together in one matrix product.
const BLOCK: usize = 128;

/// Dense row-major representations with a bias column: the scoring form of one side.
#[derive(Debug, Clone, PartialEq)]
pub struct Factors {
    pub d: usize,
    /// n × d
    pub emb: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Factors {
    pub fn new(d: usize, emb: Vec<f32>, bias: Vec<f32>) -> Self {
        debug_assert_eq!(emb.len(), bias.len() * d);
        Factors { d, emb, bias }
    }

    pub fn len(&self) -> usize {
        self.bias.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bias.is_empty()
    }

    fn view(&self) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape((self.len(), self.d), &self.emb).expect("emb is n × d")
    }

    /// Unit-length rows (zero rows stay zero), for cosine similarity; no bias.
    pub fn normalized(&self) -> Factors {
        let d = self.d;
        let mut emb = self.emb.clone();
        for row in emb.chunks_mut(d) {
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|x| *x /= norm);
            }
        }
        Factors {
            d,
            emb,
            bias: vec![0.0; self.len()],
        }
    }
}

/// One answer row: (candidate index, score), best first.
pub type Ranked = Vec<(u32, f32)>;

/// Keeps the k best (index, score) pairs; ties go to the lower index.
fn select_top(
    scores: &[f32],
    k: usize,
    skip: impl Fn(u32) -> bool,
    allowed: Option<&[u32]>,
) -> Ranked {
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
    let mut consider = |i: u32, s: f32| {
        if s.is_nan() {
            return;
        }
        let full = best.len() == k;
        if full {
            let worst = best[k - 1];
            if s < worst.1 || (s == worst.1 && i > worst.0) {
                return;
            }
        }
        // Only a candidate that would enter the k best is checked against the exclusions (a
        // search of the user's known items): most are not, once the first k are in.
        if skip(i) {
            return;
        }
        if full {
            best.pop();
        }
        let at = best.partition_point(|&(j, t)| t > s || (t == s && j < i));
        best.insert(at, (i, s));
    };
    if k == 0 {
        return best;
    }
    match allowed {
        Some(list) => {
            for &i in list {
                if let Some(&s) = scores.get(i as usize) {
                    consider(i, s);
                }
            }
        }
        None => {
            for (i, &s) in scores.iter().enumerate() {
                consider(i as u32, s);
            }
        }
    }
    best
}

/// For each query row, the k best candidate rows by `q · c (+ biases)`.
///
/// `exclude(row, candidate)` removes candidates (seen items, the row itself); `allowed`
/// restricts candidates to a list. Results are in the order of `queries`.
pub fn top_k(
    queries: &Factors,
    query_rows: &[u32],
    candidates: &Factors,
    k: usize,
    with_bias: bool,
    exclude: &(dyn Fn(u32, u32) -> bool + Sync),
    allowed: Option<&[u32]>,
) -> Vec<Ranked> {
    let d = queries.d;
    let n = candidates.len();
    let cand = candidates.view();
    query_rows
        .par_chunks(BLOCK)
        .flat_map_iter(|rows| {
            let mut q = Array2::<f32>::zeros((rows.len(), d));
            for (r, &row) in rows.iter().enumerate() {
                let row = row as usize;
                q.slice_mut(s![r, ..])
                    .iter_mut()
                    .zip(&queries.emb[row * d..(row + 1) * d])
                    .for_each(|(a, b)| *a = *b);
            }
            let mut scores = Array2::<f32>::zeros((rows.len(), n));
            ndarray::linalg::general_mat_mul(1.0, &q, &cand.t(), 0.0, &mut scores);
            rows.iter()
                .enumerate()
                .map(|(r, &row)| {
                    let mut line = scores.row_mut(r);
                    let line = line
                        .as_slice_mut()
                        .expect("rows of a standard array are contiguous");
                    if with_bias {
                        let bq = queries.bias[row as usize];
                        line.iter_mut()
                            .zip(&candidates.bias)
                            .for_each(|(s, b)| *s += bq + b);
                    }
                    select_top(line, k, |c| exclude(row, c), allowed)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_best_with_exclusions_ties_and_allow_lists() {
        let scores = [0.5, 2.0, 2.0, -1.0, 3.0];
        assert_eq!(
            select_top(&scores, 2, |_| false, None),
            vec![(4, 3.0), (1, 2.0)]
        );
        assert_eq!(
            select_top(&scores, 3, |i| i == 4, None),
            vec![(1, 2.0), (2, 2.0), (0, 0.5)]
        );
        assert_eq!(
            select_top(&scores, 10, |_| false, Some(&[3, 0])),
            vec![(0, 0.5), (3, -1.0)]
        );
        assert!(select_top(&scores, 0, |_| false, None).is_empty());
    }

    #[test]
    fn blocked_products_match_direct_scores() {
        let d = 3;
        let users = Factors::new(
            d,
            (0..300 * d).map(|x| ((x * 7 % 11) as f32) - 5.0).collect(),
            vec![0.1; 300],
        );
        let items = Factors::new(
            d,
            (0..50 * d).map(|x| ((x * 5 % 13) as f32) - 6.0).collect(),
            (0..50).map(|i| i as f32 * 0.01).collect(),
        );
        let rows: Vec<u32> = (0..300).collect();
        let got = top_k(
            &users,
            &rows,
            &items,
            3,
            true,
            &|u, i| (u + i).is_multiple_of(7),
            None,
        );
        for (u, ranked) in got.iter().enumerate() {
            let mut direct: Vec<(u32, f32)> = (0..50u32)
                .filter(|&i| !(u as u32 + i).is_multiple_of(7))
                .map(|i| {
                    let dot: f32 = (0..d)
                        .map(|k| users.emb[u * d + k] * items.emb[i as usize * d + k])
                        .sum();
                    (i, dot + 0.1 + items.bias[i as usize])
                })
                .collect();
            direct.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let want: Vec<u32> = direct.iter().take(3).map(|x| x.0).collect();
            let have: Vec<u32> = ranked.iter().map(|x| x.0).collect();
            assert_eq!(have, want, "user {u}");
        }
    }
}
