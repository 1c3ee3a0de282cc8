//! A trained model with everything needed to answer from it: the id maps, each user's known
//! items (excluded from recommendations), item popularity (for users the model has never
//! seen), and the scoring factors derived from the model. Saved as one file.
//!
//! File layout: `b"RECSQLAR"` · version u32 · header JSON (ids, metadata) length-prefixed ·
//! the model file (see `io`) length-prefixed · known-items CSR · popularity · CRC-32.

use std::io::{Read, Write};
use std::sync::OnceLock;

use super::cold::ColdMap;
use super::encode::FeatureEncoder;
use super::evaluate::Popularity;
use super::interactions::{Id, IdMap, Interactions};
use super::io::{self, Checksummed, LoadError, Reader, put_f32s, put_len, put_u32s, put_u64s};
use super::model::Model;
use super::topk::{Factors, Ranked, top_k};

const MAGIC: &[u8; 8] = b"RECSQLAR";
const VERSION: u32 = 1;

/// What the SQL layer answers from.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub model: Model,
    pub users: IdMap,
    pub items: IdMap,
    /// Per user, the sorted items they interacted with in the training data.
    known_ptr: Vec<usize>,
    known_items: Vec<u32>,
    /// Positives per item in the training data.
    pub popularity: Vec<f32>,
    /// Item indices, most popular first (ties by index).
    by_popularity: Vec<u32>,
    user_factors: Factors,
    item_factors: Factors,
    /// How feature values become feature rows, for models with side features: what lets the
    /// model answer for users and items it has never seen.
    pub user_encoder: Option<FeatureEncoder>,
    pub item_encoder: Option<FeatureEncoder>,
    /// Feature-to-representation maps for new users and items, fitted on first use.
    cold_users: Derived<ColdMap>,
    cold_items: Derived<ColdMap>,
    /// Unit-length representations for cosine answers, computed on first use.
    unit_users: Derived<Factors>,
    unit_items: Derived<Factors>,
}

/// A value derived from the artifact on first use: not part of what the artifact is, so
/// artifacts compare equal whatever has been computed.
#[derive(Debug, Clone)]
struct Derived<T>(OnceLock<T>);

impl<T> Default for Derived<T> {
    fn default() -> Self {
        Derived(OnceLock::new())
    }
}

impl<T> Derived<T> {
    fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        self.0.get_or_init(f)
    }
}

impl<T> PartialEq for Derived<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The users or the items of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Users,
    Items,
}

/// Appends the union of two sorted, duplicate-free lists to `out`.
fn merge_sorted(a: &[u32], b: &[u32], out: &mut Vec<u32>) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
}

fn ids_to_json(map: &IdMap) -> serde_json::Value {
    serde_json::Value::Array(
        map.ids()
            .iter()
            .map(|id| match id {
                Id::Int(i) => serde_json::Value::from(*i),
                Id::Text(s) => serde_json::Value::from(s.clone()),
            })
            .collect(),
    )
}

fn ids_from_json(v: &serde_json::Value) -> Result<IdMap, LoadError> {
    let arr = v
        .as_array()
        .ok_or_else(|| LoadError("model file header is damaged: ids".into()))?;
    let mut map = IdMap::new();
    for x in arr {
        let id = match x {
            serde_json::Value::Number(n) => Id::Int(
                n.as_i64()
                    .ok_or_else(|| LoadError("model file header is damaged: id".into()))?,
            ),
            serde_json::Value::String(s) => Id::Text(s.clone()),
            _ => return Err(LoadError("model file header is damaged: id".into())),
        };
        map.intern(id);
    }
    Ok(map)
}

impl Artifact {
    /// Bundles a model with the interactions it was trained on.
    pub fn new(model: Model, x: &Interactions) -> Artifact {
        Self::combine(None, model, x)
    }

    /// The artifact of a fine-tuned model: `base`'s known items, popularity and feature
    /// encoders plus the known items and popularity of the new interactions `x` (whose id
    /// maps extend `base`'s).
    pub fn finetuned(base: &Artifact, model: Model, x: &Interactions) -> Artifact {
        Self::combine(Some(base), model, x)
            .with_encoders(base.user_encoder.clone(), base.item_encoder.clone())
    }

    /// Keeps the encoders that made the model's side features.
    pub fn with_encoders(
        mut self,
        users: Option<FeatureEncoder>,
        items: Option<FeatureEncoder>,
    ) -> Artifact {
        self.user_encoder = users;
        self.item_encoder = items;
        self
    }

    pub fn encoder(&self, side: Side) -> Option<&FeatureEncoder> {
        match side {
            Side::Users => self.user_encoder.as_ref(),
            Side::Items => self.item_encoder.as_ref(),
        }
    }

    /// Representations of users or items the model has not seen, from their feature rows
    /// (made by the side's encoder, without identity features). The map from features to
    /// representations is fitted on first use only: a query without new users or items never
    /// pays for it (for a model without side features it would regress every representation
    /// on the identity features: on the 20M synthetic set, 360 MB and seconds of work).
    pub fn cold_factors(&self, side: Side, rows: &[Vec<(u32, f32)>]) -> Factors {
        if rows.is_empty() {
            return Factors::new(self.model.d(), Vec::new(), Vec::new());
        }
        let (cell, features, targets, encoder) = match side {
            Side::Users => (
                &self.cold_users,
                &self.model.users.features,
                &self.user_factors,
                &self.user_encoder,
            ),
            Side::Items => (
                &self.cold_items,
                &self.model.items.features,
                &self.item_factors,
                &self.item_encoder,
            ),
        };
        let offset = match encoder {
            Some(e) if e.identity => features.n_rows() as u32,
            _ => 0,
        };
        cell.get_or_init(|| ColdMap::fit(features, offset, targets))
            .predict(rows)
    }

    /// The number of rows of a side's feature matrix (the identity features' offset).
    pub fn feature_rows(&self, side: Side) -> usize {
        match side {
            Side::Users => self.model.n_users(),
            Side::Items => self.model.n_items(),
        }
    }

    /// Top-k items for users given as representations (cold-start users).
    pub fn recommend_cold(
        &self,
        users: &Factors,
        k: usize,
        allowed: Option<&[u32]>,
    ) -> Vec<Ranked> {
        let rows: Vec<u32> = (0..users.len() as u32).collect();
        top_k(
            users,
            &rows,
            &self.item_factors,
            k,
            true,
            &|_, _| false,
            allowed,
        )
    }

    /// The users or items most similar to each given representation, by cosine.
    pub fn similar_to(&self, side: Side, queries: &Factors, k: usize) -> Vec<Ranked> {
        let rows: Vec<u32> = (0..queries.len() as u32).collect();
        top_k(
            &queries.normalized(),
            &rows,
            self.unit(side),
            k,
            false,
            &|_, _| false,
            None,
        )
    }

    fn combine(base: Option<&Artifact>, model: Model, x: &Interactions) -> Artifact {
        let n_users = x.n_users();
        let mut known_ptr = Vec::with_capacity(n_users + 1);
        let mut known_items = Vec::with_capacity(base.map_or(0, |b| b.known_items.len()) + x.nnz());
        known_ptr.push(0);
        for u in 0..n_users as u32 {
            let old = base.map_or(&[][..], |b| b.known(u));
            merge_sorted(old, x.known(u), &mut known_items);
            known_ptr.push(known_items.len());
        }
        let mut popularity = base.map_or_else(Vec::new, |b| b.popularity.clone());
        popularity.resize(x.n_items(), 0.0);
        for (p, c) in popularity.iter_mut().zip(Popularity::new(x).counts()) {
            *p += c;
        }
        Self::assemble(
            model,
            x.users.clone(),
            x.items.clone(),
            known_ptr,
            known_items,
            popularity,
        )
    }

    fn assemble(
        model: Model,
        users: IdMap,
        items: IdMap,
        known_ptr: Vec<usize>,
        known_items: Vec<u32>,
        popularity: Vec<f32>,
    ) -> Artifact {
        let d = model.d();
        let (ue, ub) = model.users.representations(d);
        let (ie, ib) = model.items.representations(d);
        let mut by_popularity: Vec<u32> = (0..popularity.len() as u32).collect();
        by_popularity.sort_by(|&a, &b| {
            popularity[b as usize]
                .total_cmp(&popularity[a as usize])
                .then(a.cmp(&b))
        });
        Artifact {
            user_factors: Factors::new(d, ue, ub),
            item_factors: Factors::new(d, ie, ib),
            model,
            users,
            items,
            known_ptr,
            known_items,
            popularity,
            by_popularity,
            user_encoder: None,
            item_encoder: None,
            cold_users: Derived::default(),
            cold_items: Derived::default(),
            unit_users: Derived::default(),
            unit_items: Derived::default(),
        }
    }

    pub fn known(&self, u: u32) -> &[u32] {
        let u = u as usize;
        if u + 1 >= self.known_ptr.len() {
            return &[];
        }
        &self.known_items[self.known_ptr[u]..self.known_ptr[u + 1]]
    }

    pub fn n_interactions(&self) -> usize {
        self.known_items.len()
    }

    /// Top-k items for each user index; known items are skipped when `exclude_seen`;
    /// `allowed` restricts the candidate items.
    pub fn recommend(
        &self,
        users: &[u32],
        k: usize,
        exclude_seen: bool,
        allowed: Option<&[u32]>,
    ) -> Vec<Ranked> {
        let exclude = |u: u32, i: u32| exclude_seen && self.known(u).binary_search(&i).is_ok();
        top_k(
            &self.user_factors,
            users,
            &self.item_factors,
            k,
            true,
            &exclude,
            allowed,
        )
    }

    /// The most popular items (by training positives), for a user the model does not know.
    pub fn popular(&self, k: usize, allowed: Option<&[u32]>) -> Ranked {
        let ranked = |i: u32| (i, self.popularity[i as usize]);
        match allowed {
            None => self
                .by_popularity
                .iter()
                .take(k)
                .map(|&i| ranked(i))
                .collect(),
            Some(list) => {
                let mut all: Vec<(u32, f32)> = list.iter().map(|&i| ranked(i)).collect();
                all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                all.truncate(k);
                all
            }
        }
    }

    /// Items most similar to each given item: cosine of item embeddings (biases ignored,
    /// as the reference handler does), the item itself excluded.
    pub fn similar_items(&self, items: &[u32], k: usize) -> Vec<Ranked> {
        let f = self.unit(Side::Items);
        top_k(f, items, f, k, false, &|a, b| a == b, None)
    }

    /// Users most similar to each given user, by cosine of user embeddings.
    pub fn similar_users(&self, users: &[u32], k: usize) -> Vec<Ranked> {
        let f = self.unit(Side::Users);
        top_k(f, users, f, k, false, &|a, b| a == b, None)
    }

    /// A side's unit-length representations, computed once.
    fn unit(&self, side: Side) -> &Factors {
        match side {
            Side::Users => self
                .unit_users
                .get_or_init(|| self.user_factors.normalized()),
            Side::Items => self
                .unit_items
                .get_or_init(|| self.item_factors.normalized()),
        }
    }

    /// Writes the artifact to `w`, streamed with its checksum last: saving a model needs no
    /// second copy of it in memory (training a WARP d = 64 model on 20M synthetic rows through
    /// the server: peak memory 995 MB while the file was built in memory first, 762 MB now).
    pub fn save(&self, w: impl Write) -> std::io::Result<()> {
        let header = serde_json::json!({
            "users": ids_to_json(&self.users),
            "items": ids_to_json(&self.items),
            "user_encoder": self.user_encoder,
            "item_encoder": self.item_encoder,
        });
        let header = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
        let mut out = Checksummed::new(w);
        out.write_all(MAGIC)?;
        out.write_all(&VERSION.to_le_bytes())?;
        put_len(&mut out, header.len())?;
        out.write_all(&header)?;
        put_len(&mut out, io::saved_len(&self.model))?;
        io::save(&self.model, &mut out)?;
        put_u64s(&mut out, &self.known_ptr)?;
        put_u32s(&mut out, &self.known_items)?;
        put_f32s(&mut out, &self.popularity)?;
        out.finish()
    }

    /// The artifact's file contents, in memory.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing to a Vec never fails.
        let _ = self.save(&mut out);
        out
    }

    pub fn from_bytes(buf: &[u8]) -> Result<Artifact, LoadError> {
        Artifact::load(buf, buf.len() as u64)
    }

    /// Reads an artifact of `len` bytes from `r`, streamed: loading holds no copy of the file
    /// (the arrays are read in small chunks) and nothing is trusted until both the model's
    /// and the file's checksums match.
    pub fn load(r: impl Read, len: u64) -> Result<Artifact, LoadError> {
        let mut r = Reader::open(r, len, MAGIC, VERSION)?;
        let hl = r.len(1)?;
        let header: serde_json::Value = serde_json::from_slice(&r.section(hl)?)
            .map_err(|e| LoadError(format!("model file header is damaged: {e}")))?;
        let users = ids_from_json(&header["users"])?;
        let items = ids_from_json(&header["items"])?;
        let encoder = |key: &str| -> Result<Option<FeatureEncoder>, LoadError> {
            match header.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(v) => {
                    let mut e: FeatureEncoder = serde_json::from_value(v.clone())
                        .map_err(|e| LoadError(format!("model file header is damaged: {e}")))?;
                    e.reindex();
                    Ok(Some(e))
                }
            }
        };
        let (user_encoder, item_encoder) = (encoder("user_encoder")?, encoder("item_encoder")?);
        let ml = r.len(1)?;
        let model = io::load(&mut r, ml as u64)?;
        let known_ptr = r.u64s()?;
        let known_items = r.u32s()?;
        let popularity = r.f32s()?;
        let consistent = known_ptr.len() == users.len() + 1
            && known_ptr.first() == Some(&0)
            && known_ptr.windows(2).all(|w| w[0] <= w[1])
            && known_ptr.last() == Some(&known_items.len())
            && known_items.iter().all(|&i| (i as usize) < items.len())
            && popularity.len() == items.len()
            && model.n_users() >= users.len()
            && model.n_items() >= items.len();
        if !consistent {
            return Err(LoadError("model file is damaged: sizes disagree".into()));
        }
        r.finish()?;
        Ok(
            Self::assemble(model, users, items, known_ptr, known_items, popularity)
                .with_encoders(user_encoder, item_encoder),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommender::{InteractionsBuilder, Loss, Params};

    fn trained() -> Artifact {
        let mut b = InteractionsBuilder::new(Some(4.0));
        for u in 0..40i64 {
            for k in 0..6 {
                let item = Id::Text(format!("m{}", (u % 4) * 10 + (u + k) % 10));
                b.push(Id::Int(u), item, Some(if k == 5 { 1.0 } else { 5.0 }), 1.0);
            }
        }
        let x = b.build();
        let p = Params::default()
            .loss(Loss::Warp)
            .epochs(20)
            .validate()
            .unwrap();
        let m = Model::fit(p, &x, None, None, &mut |_, _, _| true).unwrap();
        Artifact::new(m, &x)
    }

    #[test]
    fn recommendations_exclude_known_items_and_round_trip() {
        let a = trained();
        let all: Vec<u32> = (0..a.users.len() as u32).collect();
        for (u, recs) in all.iter().zip(a.recommend(&all, 5, true, None)) {
            assert_eq!(recs.len(), 5);
            for (i, _) in &recs {
                assert!(
                    a.known(*u).binary_search(i).is_err(),
                    "user {u} got known item {i}"
                );
            }
        }
        let with_seen = a.recommend(&[0], 40, false, None);
        assert!(with_seen[0].iter().any(|(i, _)| a.known(0).contains(i)));
        let sim = a.similar_items(&[0, 1], 3);
        assert!(
            sim.iter()
                .zip([0u32, 1])
                .all(|(r, q)| r.len() == 3 && r.iter().all(|(i, _)| *i != q))
        );
        let bytes = a.to_bytes();
        let b = Artifact::from_bytes(&bytes).unwrap();
        assert_eq!(a, b);
        assert!(Artifact::from_bytes(&bytes[..bytes.len() - 10]).is_err());
        assert!(Artifact::from_bytes(b"hello").is_err());
    }

    /// Answering known users fits no cold-start map: with no new rows there is nothing to
    /// predict, and for a model without side features the fit would be large and useless.
    #[test]
    fn no_new_rows_fit_no_cold_map() {
        let a = trained();
        let cold = a.cold_factors(Side::Users, &[]);
        assert!(cold.is_empty());
        assert!(a.cold_users.0.get().is_none() && a.cold_items.0.get().is_none());
        let some = a.cold_factors(Side::Items, &[vec![(0, 1.0)]]);
        assert_eq!(some.len(), 1);
        assert!(a.cold_items.0.get().is_some());
    }

    /// Loading streams the file and checks the checksums last, so every damage must still be
    /// an error (never a panic, never a silently different model): a flipped bit anywhere, a
    /// file cut anywhere, a byte too many, or a length that claims more than the file has.
    #[test]
    fn any_damage_to_a_file_is_an_error() {
        let bytes = trained().to_bytes();
        let step = (bytes.len() / 400).max(1);
        for at in (0..bytes.len()).step_by(step).chain([bytes.len() - 1]) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            assert!(
                Artifact::from_bytes(&damaged).is_err(),
                "bit flipped at {at}"
            );
            assert!(Artifact::from_bytes(&bytes[..at]).is_err(), "cut at {at}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Artifact::from_bytes(&longer).is_err());
        // The header length (bytes 12..20) set to more than the whole file.
        let mut huge = bytes.clone();
        huge[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
        let err = Artifact::from_bytes(&huge).unwrap_err();
        assert!(err.0.contains("longer than the file"), "{err}");
        // A stream that fails while reading is an error that says so.
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk unplugged"))
            }
        }
        let err = Artifact::load(Failing, bytes.len() as u64).unwrap_err();
        assert!(err.0.contains("disk unplugged"), "{err}");
    }
}
