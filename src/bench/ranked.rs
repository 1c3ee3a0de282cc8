//! Accuracy of answers read back over the wire: precision@k and AUC of each user's ranked
//! list of candidate items against their held-out positives, averaged over users with at
//! least one positive. With a full ranking of the candidates (all items the user has not
//! interacted with in training), these are LightFM's definitions.

use std::collections::{HashMap, HashSet};

/// Mean metrics over the users evaluated.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RankedMetrics {
    pub precision_at_k: f64,
    /// NaN when the lists are not full rankings (no negatives to compare with).
    pub auc: f64,
    pub users: usize,
}

/// `ranked`: per user, items best first; `positives`: per user, held-out positive items.
pub fn measure(
    ranked: &HashMap<i64, Vec<i64>>,
    positives: &HashMap<i64, HashSet<i64>>,
    k: usize,
) -> RankedMetrics {
    let (mut precision, mut auc, mut auc_users, mut users) = (0.0, 0.0, 0usize, 0usize);
    for (user, pos) in positives {
        if pos.is_empty() {
            continue;
        }
        users += 1;
        let Some(list) = ranked.get(user) else {
            continue;
        };
        precision += list.iter().take(k).filter(|i| pos.contains(i)).count() as f64 / k as f64;
        let n_pos = list.iter().filter(|i| pos.contains(i)).count();
        let n_neg = list.len() - n_pos;
        if n_neg == 0 {
            continue;
        }
        // Each positive counts the negatives ranked below it; positives missing from the
        // list rank below everything.
        let (mut neg_above, mut correct) = (0usize, 0usize);
        for i in list {
            if pos.contains(i) {
                correct += n_neg - neg_above;
            } else {
                neg_above += 1;
            }
        }
        auc += correct as f64 / (pos.len() * n_neg) as f64;
        auc_users += 1;
    }
    RankedMetrics {
        precision_at_k: precision / users.max(1) as f64,
        auc: if auc_users > 0 {
            auc / auc_users as f64
        } else {
            f64::NAN
        },
        users,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_and_auc_by_hand() {
        let ranked = HashMap::from([(1, vec![10, 11, 12, 13]), (2, vec![20, 21])]);
        let positives = HashMap::from([
            (1, HashSet::from([11, 13])),
            (2, HashSet::from([20])),
            (3, HashSet::new()),
        ]);
        let m = measure(&ranked, &positives, 2);
        assert_eq!(m.users, 2);
        // User 1: one hit in the top 2; user 2: one hit.
        assert!((m.precision_at_k - (0.5 + 0.5) / 2.0).abs() < 1e-12);
        // User 1: 11 is above 1 of 2 negatives, 13 above none → 1/4; user 2: 1/1.
        assert!((m.auc - (0.25 + 1.0) / 2.0).abs() < 1e-12);
    }
}
