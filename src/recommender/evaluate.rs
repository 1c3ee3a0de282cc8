//! Evaluation with LightFM's definitions: a seeded random train/test split; per test user,
//! ranks of the test positives among all items that are not the user's train items (ties
//! count against the item); precision@k, recall@k, AUC, reciprocal rank and NDCG@k, averaged
//! over users with at least one test positive. A popularity baseline scores every user alike.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use super::interactions::Interactions;
use super::model::Model;

/// Mean metrics over the evaluated users.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Metrics {
    pub k: usize,
    pub precision_at_k: f64,
    pub recall_at_k: f64,
    pub auc: f64,
    pub reciprocal_rank: f64,
    pub ndcg_at_k: f64,
    pub users_evaluated: usize,
}

/// Splits the entries at random: `test_fraction` of them (rounded down) go to test. Both
/// halves keep the full id maps, so indices agree.
pub fn random_split(
    x: &Interactions,
    test_fraction: f64,
    seed: u64,
) -> (Interactions, Interactions) {
    let nnz = x.nnz();
    let mut order: Vec<usize> = (0..nnz).collect();
    let mut rng = SmallRng::seed_from_u64(seed);
    for i in (1..nnz).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let cutoff = ((1.0 - test_fraction) * nnz as f64) as usize;
    let (train, test) = order.split_at(cutoff.min(nnz));
    (x.subset(train), x.subset(test))
}

/// Scores every item for one user into `out`.
pub trait Scorer: Sync {
    fn n_items(&self) -> usize;
    fn score_user(&self, u: usize, out: &mut [f32]);
}

/// Precomputed representations of a model, for fast scoring.
pub struct ModelScorer {
    d: usize,
    user_emb: Vec<f32>,
    user_bias: Vec<f32>,
    item_emb: Vec<f32>,
    item_bias: Vec<f32>,
}

impl ModelScorer {
    pub fn new(model: &Model) -> Self {
        let d = model.d();
        let (user_emb, user_bias) = model.users.representations(d);
        let (item_emb, item_bias) = model.items.representations(d);
        ModelScorer {
            d,
            user_emb,
            user_bias,
            item_emb,
            item_bias,
        }
    }
}

impl Scorer for ModelScorer {
    fn n_items(&self) -> usize {
        self.item_bias.len()
    }

    fn score_user(&self, u: usize, out: &mut [f32]) {
        let d = self.d;
        let p = &self.user_emb[u * d..(u + 1) * d];
        let bu = self.user_bias[u];
        for (i, o) in out.iter_mut().enumerate() {
            let q = &self.item_emb[i * d..(i + 1) * d];
            *o = bu + self.item_bias[i] + super::sgd::dot(p, q);
        }
    }
}

/// Scores items by their number of train positives.
pub struct Popularity(Vec<f32>);

impl Popularity {
    pub fn new(train: &Interactions) -> Self {
        let mut counts = vec![0.0f32; train.n_items()];
        for (k, &i) in train.item_idx.iter().enumerate() {
            if train.is_positive(k) {
                counts[i as usize] += 1.0;
            }
        }
        Popularity(counts)
    }
}

impl Popularity {
    /// Train positives per item.
    pub fn counts(&self) -> &[f32] {
        &self.0
    }
}

impl Scorer for Popularity {
    fn n_items(&self) -> usize {
        self.0.len()
    }

    fn score_user(&self, _u: usize, out: &mut [f32]) {
        out.copy_from_slice(&self.0[..out.len()]);
    }
}

/// Per-user metrics from the ranks of the user's test positives.
fn user_metrics(ranks: &mut [usize], n_candidates: usize, k: usize) -> [f64; 5] {
    ranks.sort_unstable();
    let p = ranks.len();
    let hits = ranks.iter().filter(|&&r| r < k).count() as f64;
    let precision = hits / k as f64;
    let recall = hits / p as f64;
    let negatives = n_candidates.saturating_sub(p);
    let auc = if negatives == 0 {
        0.5
    } else {
        ranks
            .iter()
            .enumerate()
            .map(|(j, &r)| 1.0 - (r.saturating_sub(j)) as f64 / negatives as f64)
            .sum::<f64>()
            / p as f64
    };
    let rr = 1.0 / (ranks[0] as f64 + 1.0);
    let dcg: f64 = ranks
        .iter()
        .filter(|&&r| r < k)
        .map(|&r| 1.0 / (r as f64 + 2.0).log2())
        .sum();
    let idcg: f64 = (0..p.min(k)).map(|r| 1.0 / (r as f64 + 2.0).log2()).sum();
    [precision, recall, auc, rr, dcg / idcg]
}

/// Evaluates `scorer` on the positives of `test`, excluding each user's `train` items.
pub fn evaluate(
    scorer: &dyn Scorer,
    train: &Interactions,
    test: &Interactions,
    k: usize,
) -> Metrics {
    let test_pos = test.positives_of();
    let n_items = scorer.n_items();
    let users: Vec<usize> = (0..test_pos.len())
        .filter(|&u| !test_pos[u].is_empty())
        .collect();
    let sums = users
        .par_iter()
        .map_init(
            || (vec![0.0f32; n_items], Vec::new()),
            |(scores, candidates), &u| {
                scorer.score_user(u, scores);
                let train_items = if u < train.n_users() {
                    train.known(u as u32)
                } else {
                    &[]
                };
                // Candidate scores: every item that is not a train item, sorted descending.
                candidates.clear();
                let mut t = 0;
                for (i, &s) in scores.iter().enumerate() {
                    while t < train_items.len() && (train_items[t] as usize) < i {
                        t += 1;
                    }
                    if t < train_items.len() && train_items[t] as usize == i {
                        continue;
                    }
                    candidates.push(s);
                }
                candidates.sort_unstable_by(|a: &f32, b: &f32| b.total_cmp(a));
                let mut ranks: Vec<usize> = test_pos[u]
                    .iter()
                    .filter(|&&i| (i as usize) < n_items && train_items.binary_search(&i).is_err())
                    .map(|&i| {
                        let s = scores[i as usize];
                        // Items (other than i itself) scoring >= s: ties count against i.
                        candidates.partition_point(|&c| c >= s) - 1
                    })
                    .collect();
                if ranks.is_empty() {
                    return None;
                }
                Some(user_metrics(&mut ranks, candidates.len(), k))
            },
        )
        .flatten()
        .fold(
            || (0usize, [0.0f64; 5]),
            |(n, mut acc), m| {
                for (a, v) in acc.iter_mut().zip(m) {
                    *a += v;
                }
                (n + 1, acc)
            },
        )
        .reduce(
            || (0, [0.0; 5]),
            |(n1, a1), (n2, a2)| {
                let mut a = a1;
                for (x, y) in a.iter_mut().zip(a2) {
                    *x += y;
                }
                (n1 + n2, a)
            },
        );
    let (n, acc) = sums;
    let mean = |i: usize| if n == 0 { 0.0 } else { acc[i] / n as f64 };
    Metrics {
        k,
        precision_at_k: mean(0),
        recall_at_k: mean(1),
        auc: mean(2),
        reciprocal_rank: mean(3),
        ndcg_at_k: mean(4),
        users_evaluated: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_ranks_with_ties() {
        // 5 candidates, test positives at ranks 0 and 3.
        let m = user_metrics(&mut [3, 0], 5, 2);
        assert_eq!(m[0], 0.5); // one hit in the top 2
        assert_eq!(m[1], 0.5);
        // negatives = 3; first positive has 0 negatives above, second has 3 - 1 = 2.
        assert!((m[2] - (1.0 + (1.0 - 2.0 / 3.0)) / 2.0).abs() < 1e-12);
        assert_eq!(m[3], 1.0);
        let idcg = 1.0 + 1.0 / 3f64.log2();
        assert!((m[4] - 1.0 / idcg).abs() < 1e-12);
    }

    struct Fixed(Vec<f32>);
    impl Scorer for Fixed {
        fn n_items(&self) -> usize {
            self.0.len()
        }
        fn score_user(&self, _u: usize, out: &mut [f32]) {
            out.copy_from_slice(&self.0);
        }
    }

    #[test]
    fn ties_count_against_the_item_and_train_items_are_excluded() {
        use crate::recommender::interactions::{Id, InteractionsBuilder};
        let build = |pairs: &[(i64, i64)]| {
            let mut b = InteractionsBuilder::new(None);
            for i in 0..4 {
                b.push(Id::Int(0), Id::Int(i), None, 1.0);
            }
            let all = b.build();
            let keep: Vec<usize> = (0..4)
                .filter(|&k| pairs.iter().any(|p| p.1 == k as i64))
                .collect();
            all.subset(&keep)
        };
        let train = build(&[(0, 0)]);
        let test = build(&[(0, 1)]);
        // All scores equal: the test item is ranked below the two other candidates.
        let m = evaluate(&Fixed(vec![1.0; 4]), &train, &test, 1);
        assert_eq!(m.users_evaluated, 1);
        assert_eq!(m.precision_at_k, 0.0);
        assert!((m.reciprocal_rank - 1.0 / 3.0).abs() < 1e-12);
        // The train item scoring highest does not push the test item down.
        let m = evaluate(&Fixed(vec![9.0, 5.0, 1.0, 1.0]), &train, &test, 1);
        assert_eq!(m.precision_at_k, 1.0);
        assert_eq!(m.auc, 1.0);
    }
}
