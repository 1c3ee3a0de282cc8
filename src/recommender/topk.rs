//! Top-k answers: items for users (known items excluded by default), and most similar items
//! or users by cosine of their learned representations. Scores are computed a block of query
//! rows against a block of candidates at a time with a matrix product (ndarray's GEMM), query
//! blocks in parallel on rayon, and each row keeps its k best as the candidate blocks pass;
//! neither the full users × items matrix nor a full row block of it is ever materialised.

use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;

/// Query rows scored together in one matrix product.
const BLOCK: usize = 128;
/// Candidates scored together in one matrix product. A `BLOCK × COLUMNS` block of scores
/// (512 KiB) stays in the core's cache between the product that writes it and the selection
/// that reads it; a block as wide as a large catalogue went out to memory and back.
const COLUMNS: usize = 1024;

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

    /// The given rows (each < `len()`), in that order.
    fn rows(&self, rows: &[u32]) -> Factors {
        let d = self.d;
        let emb = rows
            .iter()
            .flat_map(|&r| &self.emb[r as usize * d..(r as usize + 1) * d])
            .copied()
            .collect();
        let bias = rows.iter().map(|&r| self.bias[r as usize]).collect();
        Factors { d, emb, bias }
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

/// The k best (index, score) pairs seen so far, best first; ties go to the lower index and
/// NaN scores never enter.
struct Best {
    k: usize,
    list: Ranked,
}

impl Best {
    fn new(k: usize) -> Self {
        Best {
            k,
            list: Vec::with_capacity(k + 1),
        }
    }

    #[inline]
    fn consider(&mut self, i: u32, s: f32, skip: impl Fn(u32) -> bool) {
        let k = self.k;
        let full = self.list.len() == k;
        if full {
            let worst = self.list[k - 1];
            if s < worst.1 || (s == worst.1 && i > worst.0) {
                return;
            }
        }
        // Only a candidate that would enter the k best is checked against the exclusions (a
        // search of the user's known items): most are not, once the first k are in.
        if s.is_nan() || skip(i) {
            return;
        }
        if full {
            self.list.pop();
        }
        let at = self
            .list
            .partition_point(|&(j, t)| t > s || (t == s && j < i));
        self.list.insert(at, (i, s));
    }
}

impl Best {
    /// Considers the candidates `first + j` with scores `dots[j] + add(j)`. A run of `RUN`
    /// candidates whose best score is below the current k-th is passed over as a whole: a
    /// branch-free maximum the compiler vectorises, where considering each score is a
    /// comparison and a branch. Once the k best are in, most runs are.
    #[inline]
    fn consider_all(
        &mut self,
        first: usize,
        dots: &[f32],
        add: impl Fn(usize) -> f32,
        skip: impl Fn(u32) -> bool + Copy,
    ) {
        const RUN: usize = 16;
        for (r, run) in dots.chunks(RUN).enumerate() {
            let base = r * RUN;
            if self.list.len() == self.k {
                let worst = self.list[self.k - 1].1;
                // NaN scores never win a comparison, so they neither raise the maximum nor
                // enter the k best.
                let top = run
                    .iter()
                    .enumerate()
                    .fold(f32::NEG_INFINITY, |m, (j, &dot)| {
                        let s = dot + add(base + j);
                        if s > m { s } else { m }
                    });
                // Candidates come in ascending order, so one that ties with the k-th has the
                // higher index and does not enter either.
                if top <= worst {
                    continue;
                }
            }
            for (j, &dot) in run.iter().enumerate() {
                self.consider((first + base + j) as u32, dot + add(base + j), skip);
            }
        }
    }
}

/// Keeps the k best (index, score) pairs; ties go to the lower index.
#[cfg(test)]
fn select_top(scores: &[f32], k: usize, skip: impl Fn(u32) -> bool) -> Ranked {
    let mut best = Best::new(k);
    if k > 0 {
        for (i, &s) in scores.iter().enumerate() {
            best.consider(i as u32, s, &skip);
        }
    }
    best.list
}

/// For each query row, the k best candidate rows by `q · c (+ biases)`.
///
/// `exclude(row, candidate)` removes candidates (seen items, the row itself); `allowed`
/// restricts candidates to a list (repeats and indices past the candidates are ignored).
/// Results are in the order of `queries`.
pub fn top_k(
    queries: &Factors,
    query_rows: &[u32],
    candidates: &Factors,
    k: usize,
    with_bias: bool,
    exclude: &(dyn Fn(u32, u32) -> bool + Sync),
    allowed: Option<&[u32]>,
) -> Vec<Ranked> {
    // With a list, only the allowed candidates are scored. In ascending order, their
    // positions in the subset break ties as their own indices do.
    let ids: Option<Vec<u32>> = allowed.map(|list| {
        let mut ids: Vec<u32> = list
            .iter()
            .copied()
            .filter(|&i| (i as usize) < candidates.len())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    });
    let subset = ids.as_ref().map(|ids| candidates.rows(ids));
    let original = |c: u32| ids.as_ref().map_or(c, |ids| ids[c as usize]);
    let exclude = |q: u32, c: u32| exclude(q, original(c));
    let scored = subset.as_ref().unwrap_or(candidates);
    let mut answers = top_k_in_blocks(queries, query_rows, scored, k, with_bias, &exclude, COLUMNS);
    for (c, _) in answers.iter_mut().flatten() {
        *c = original(*c);
    }
    answers
}

/// `top_k` over all candidates, scored `columns` candidates at a time.
fn top_k_in_blocks(
    queries: &Factors,
    query_rows: &[u32],
    candidates: &Factors,
    k: usize,
    with_bias: bool,
    exclude: &(dyn Fn(u32, u32) -> bool + Sync),
    columns: usize,
) -> Vec<Ranked> {
    let n = candidates.len();
    query_rows
        .par_chunks(BLOCK)
        .flat_map_iter(|rows| {
            let mut best: Vec<Best> = rows.iter().map(|_| Best::new(k)).collect();
            if k > 0 && n > 0 {
                score_block(
                    queries, rows, candidates, with_bias, exclude, columns, &mut best,
                );
            }
            best.into_iter().map(|b| b.list)
        })
        .collect()
}

/// Passes every candidate of `candidates` by the k best of each of the query `rows`.
fn score_block(
    queries: &Factors,
    rows: &[u32],
    candidates: &Factors,
    with_bias: bool,
    exclude: &(dyn Fn(u32, u32) -> bool + Sync),
    columns: usize,
    best: &mut [Best],
) {
    let d = queries.d;
    let n = candidates.len();
    let cand = candidates.view();
    let mut q = Array2::<f32>::zeros((rows.len(), d));
    for (r, &row) in rows.iter().enumerate() {
        let row = row as usize;
        q.slice_mut(s![r, ..])
            .iter_mut()
            .zip(&queries.emb[row * d..(row + 1) * d])
            .for_each(|(a, b)| *a = *b);
    }
    let mut block = Array2::<f32>::zeros((rows.len(), columns.min(n)));
    for start in (0..n).step_by(columns) {
        let end = (start + columns).min(n);
        let mut scores = block.slice_mut(s![.., ..end - start]);
        let c = cand.slice(s![start..end, ..]);
        ndarray::linalg::general_mat_mul(1.0, &q, &c.t(), 0.0, &mut scores);
        let biases = &candidates.bias[start..end];
        for ((r, &row), best) in rows.iter().enumerate().zip(best.iter_mut()) {
            let line = scores.row(r);
            let line = line
                .as_slice()
                .expect("a row of a block of a standard array is contiguous");
            let skip = |c: u32| exclude(row, c);
            if with_bias {
                let bq = queries.bias[row as usize];
                best.consider_all(start, line, |j| bq + biases[j], skip);
            } else {
                best.consider_all(start, line, |_| 0.0, skip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_best_with_exclusions_and_ties() {
        let scores = [0.5, 2.0, 2.0, -1.0, 3.0, f32::NAN];
        assert_eq!(select_top(&scores, 2, |_| false), vec![(4, 3.0), (1, 2.0)]);
        assert_eq!(
            select_top(&scores, 3, |i| i == 4),
            vec![(1, 2.0), (2, 2.0), (0, 0.5)]
        );
        assert_eq!(select_top(&scores, 10, |_| false).len(), 5);
        assert!(select_top(&scores, 0, |_| false).is_empty());
    }

    /// 300 users and 50 items with small integer factors (exact products, many ties).
    fn small_model() -> (Factors, Factors) {
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
        (users, items)
    }

    /// User `u`'s k best of `items` by brute force, ties to the lower index.
    fn direct(
        users: &Factors,
        items: &Factors,
        u: usize,
        k: usize,
        keep: impl Fn(u32) -> bool,
    ) -> Vec<u32> {
        let d = users.d;
        let mut all: Vec<(u32, f32)> = (0..items.len() as u32)
            .filter(|&i| keep(i))
            .map(|i| {
                let dot: f32 = (0..d)
                    .map(|c| users.emb[u * d + c] * items.emb[i as usize * d + c])
                    .sum();
                (i, dot + (users.bias[u] + items.bias[i as usize]))
            })
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.iter().take(k).map(|x| x.0).collect()
    }

    fn ids(answers: &[Ranked]) -> Vec<Vec<u32>> {
        answers
            .iter()
            .map(|r| r.iter().map(|x| x.0).collect())
            .collect()
    }

    #[test]
    fn blocked_products_match_direct_scores() {
        let (users, items) = small_model();
        let rows: Vec<u32> = (0..300).collect();
        let exclude = |u: u32, i: u32| (u + i).is_multiple_of(7);
        // One candidate block, and blocks of 7 candidates (k below, at and above the width).
        for (k, columns) in [(3, COLUMNS), (3, 7), (7, 7), (10, 7), (60, 7)] {
            let got = top_k_in_blocks(&users, &rows, &items, k, true, &exclude, columns);
            let want: Vec<Vec<u32>> = (0..300)
                .map(|u| direct(&users, &items, u, k, |i| !exclude(u as u32, i)))
                .collect();
            assert_eq!(ids(&got), want, "k {k}, {columns} columns");
        }
        let got = top_k(&users, &rows, &items, 3, true, &exclude, None);
        assert_eq!(
            ids(&got),
            ids(&top_k_in_blocks(
                &users, &rows, &items, 3, true, &exclude, 7
            ))
        );
        assert!(
            top_k(&users, &rows, &items, 0, true, &exclude, None)
                .iter()
                .all(Vec::is_empty)
        );
    }

    #[test]
    fn runs_passed_over_keep_ties_and_never_take_nan() {
        // 3,000 items in 3 candidate blocks and many 16-item runs; scores are small integers
        // (ties everywhere), and one item scores NaN for every user.
        let d = 2;
        let users = Factors::new(
            d,
            (0..40 * d).map(|x| ((x * 7 % 5) as f32) - 2.0).collect(),
            vec![0.0; 40],
        );
        let mut item_bias: Vec<f32> = (0..3000).map(|i| (i * 13 % 3) as f32).collect();
        item_bias[1500] = f32::NAN;
        let items = Factors::new(
            d,
            (0..3000 * d).map(|x| ((x * 11 % 7) as f32) - 3.0).collect(),
            item_bias,
        );
        let rows: Vec<u32> = (0..40).collect();
        let exclude = |u: u32, i: u32| (u * 31 + i).is_multiple_of(5);
        for k in [1, 10, 100] {
            let got = top_k(&users, &rows, &items, k, true, &exclude, None);
            let want: Vec<Vec<u32>> = (0..40)
                .map(|u| direct(&users, &items, u, k, |i| i != 1500 && !exclude(u as u32, i)))
                .collect();
            assert_eq!(ids(&got), want, "k {k}");
        }
    }

    #[test]
    fn allowed_lists_score_only_their_candidates() {
        let (users, items) = small_model();
        let rows: Vec<u32> = (0..300).collect();
        let exclude = |u: u32, i: u32| (u + i).is_multiple_of(7);
        // Out of order, repeated, and one index past the candidates.
        let allowed = [40, 3, 17, 3, 0, 99, 22];
        let got = top_k(&users, &rows, &items, 3, true, &exclude, Some(&allowed));
        let want: Vec<Vec<u32>> = (0..300)
            .map(|u| {
                direct(&users, &items, u, 3, |i| {
                    [0, 3, 17, 22, 40].contains(&i) && !exclude(u as u32, i)
                })
            })
            .collect();
        assert_eq!(ids(&got), want);
        for (u, ranked) in got.iter().enumerate() {
            for &(i, s) in ranked {
                let d = users.d;
                let dot: f32 = (0..d)
                    .map(|c| users.emb[u * d + c] * items.emb[i as usize * d + c])
                    .sum();
                assert_eq!(s, dot + (users.bias[u] + items.bias[i as usize]));
            }
        }
    }
}
