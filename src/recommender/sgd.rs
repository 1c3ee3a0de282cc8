//! One training epoch: shuffled examples, LightFM's four losses, adagrad/adadelta updates and
//! lazy L2 regularisation, run Hogwild-style (lock-free shared parameters) over rayon on
//! contiguous blocks of the shuffled order, as LightFM's OpenMP loop does.
//!
//! Hogwild means threads read and write the shared f32 parameters without synchronisation.
//! Races only lose or mix individual updates of sparse, mostly disjoint rows, which is the
//! algorithm's documented trade-off; with one thread training is deterministic for a seed.
//! Each quirk of LightFM that is kept is marked QUIRK; each departure is marked DEPARTURE.

use std::sync::Mutex;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use super::features::FeatureMatrix;
use super::interactions::Interactions;
use super::model::{Model, Side};
use super::params::{Loss, Schedule};

const MAX_LOSS: f64 = 10.0;
const MAX_REG_SCALE: f64 = 1e6;
/// Blocks of the shuffled order per training thread (see `run_epoch`).
const BLOCKS_PER_THREAD: usize = 8;
/// How many examples ahead of the current one the parameter rows of an example are
/// prefetched; its entries of the interaction columns are prefetched twice as far ahead.
const PREFETCH_AHEAD: usize = 8;

/// Asks the CPU to bring the cache line holding `p` closer. A hint only: it never faults and
/// changes no memory, so any address is fine; other architectures skip it.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching reads nothing into the program and cannot fault.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch(p as *const i8, _MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Prefetches row `r` of a row-major table of width `d` (16 f32s to a cache line).
#[inline]
fn prefetch_row(table: *const f32, r: usize, d: usize) {
    let start = table.wrapping_add(r * d);
    for line in (0..d).step_by(16) {
        prefetch(start.wrapping_add(line));
    }
}

/// A raw pointer to shared f32 parameters.
#[derive(Clone, Copy)]
struct Raw(*mut f32);
// SAFETY: Hogwild training writes through these pointers from several threads by design;
// every index is bounds-checked against the owning Vec's length by construction, and the
// Vecs outlive the epoch (they are borrowed mutably for its whole duration).
unsafe impl Send for Raw {}
unsafe impl Sync for Raw {}

impl Raw {
    #[inline(always)]
    fn get(self, i: usize) -> f32 {
        // SAFETY: see the type's comment; `i` is within the allocation.
        unsafe { *self.0.add(i) }
    }
    #[inline(always)]
    fn set(self, i: usize, v: f32) {
        // SAFETY: as above.
        unsafe { *self.0.add(i) = v }
    }
}

#[derive(Clone, Copy)]
struct RawF64(*mut f64);
unsafe impl Send for RawF64 {}
unsafe impl Sync for RawF64 {}

impl RawF64 {
    #[inline(always)]
    fn get(self) -> f64 {
        // SAFETY: points into `Scales`, alive for the epoch; racy reads are Hogwild's.
        unsafe { *self.0 }
    }
    #[inline(always)]
    fn set(self, v: f64) {
        // SAFETY: as above.
        unsafe { *self.0 = v }
    }
}

/// A feature's bias and its two accumulators, alone on one cache line while an epoch runs: an
/// update touches one line instead of two or three, and threads updating neighbouring
/// features never share one (see `Aligned` in model.rs for the measured effect).
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct BiasLine([f32; 3]);

/// Distance in f32s between consecutive features' values in the bias lines.
const BIAS_STRIDE: usize = std::mem::size_of::<BiasLine>() / std::mem::size_of::<f32>();

/// A side's biases as bias lines, for one epoch.
fn bias_lines(side: &Side) -> Vec<BiasLine> {
    (0..side.bias.len())
        .map(|f| {
            BiasLine([
                side.bias[f],
                side.bias_g[f],
                side.bias_m.get(f).copied().unwrap_or(0.0),
            ])
        })
        .collect()
}

/// Writes an epoch's bias lines back into the side.
fn store_bias_lines(lines: &[BiasLine], side: &mut Side) {
    for (f, BiasLine([b, g, m])) in lines.iter().enumerate() {
        side.bias[f] = *b;
        side.bias_g[f] = *g;
        if let Some(slot) = side.bias_m.get_mut(f) {
            *slot = *m;
        }
    }
}

/// One side's parameters, shared by the epoch's threads. The bias arrays point into bias
/// lines: feature f's values are at index `f * BIAS_STRIDE`.
#[derive(Clone, Copy)]
struct SideRaw<'a> {
    features: &'a FeatureMatrix,
    emb: Raw,
    bias: Raw,
    emb_g: Raw,
    bias_g: Raw,
    emb_m: Raw,
    bias_m: Raw,
    alpha: f64,
    scale: RawF64,
    n_params: usize,
    /// Identity features: row r is feature r with weight 1 (plain collaborative filtering).
    identity: bool,
}

impl<'a> SideRaw<'a> {
    fn new(side: &'a mut Side, lines: &'a mut [BiasLine], alpha: f64, scale: &mut f64) -> Self {
        let values = lines.as_mut_ptr() as *mut f32;
        SideRaw {
            features: &side.features,
            emb: Raw(side.emb.as_mut_ptr()),
            bias: Raw(values),
            emb_g: Raw(side.emb_g.as_mut_ptr()),
            bias_g: Raw(values.wrapping_add(1)),
            emb_m: Raw(side.emb_m.as_mut_ptr()),
            bias_m: Raw(values.wrapping_add(2)),
            alpha,
            scale: RawF64(scale as *mut f64),
            n_params: side.bias.len(),
            identity: side.features.is_identity(),
        }
    }

    /// The embedding row of feature `f` as a slice.
    #[inline(always)]
    fn emb_row(&self, f: usize, d: usize) -> &[f32] {
        debug_assert!((f + 1) * d <= self.n_params * d);
        // SAFETY: within the n_params × d allocation; Hogwild reads may race with writes.
        unsafe { std::slice::from_raw_parts(self.emb.0.add(f * d), d) }
    }

    /// (β_r, p · q_r) for row `r` and a given p, bit for bit what `representation` and `dot`
    /// give, without materialising q_r when the features are the identity (a row's one
    /// feature has weight 1, so q_r = 0 + s·E[r] and β_r = 0 + s·b[r]). `buf` receives q_r
    /// otherwise.
    #[inline]
    fn score_parts(&self, row: usize, d: usize, p: &[f32], buf: &mut [f32]) -> (f32, f32) {
        if self.identity {
            let s = self.scale.get() as f32;
            let bias = 0.0 + s * self.bias.get(row * BIAS_STRIDE);
            (bias, dot_scaled(p, self.emb_row(row, d), s))
        } else {
            let b = self.representation(row, d, buf);
            (b, dot(p, buf))
        }
    }

    /// Prefetches the bias line and the embedding row of row `r` (identity features).
    #[inline]
    fn prefetch_params(&self, r: usize, d: usize) {
        if !self.identity {
            return;
        }
        prefetch(self.bias.0.wrapping_add(r * BIAS_STRIDE));
        prefetch_row(self.emb.0, r, d);
    }

    /// β_r + p · q_r for row `r` and a given p, without materialising q_r when the features
    /// are the identity. `buf` receives q_r otherwise.
    #[inline]
    fn score_against(&self, row: usize, d: usize, p: &[f32], buf: &mut [f32]) -> f32 {
        if self.identity {
            let s = self.scale.get() as f32;
            s * (self.bias.get(row * BIAS_STRIDE) + dot(p, self.emb_row(row, d)))
        } else {
            let b = self.representation(row, d, buf);
            b + dot(p, buf)
        }
    }

    /// p = Σ x·s·E[f], β = Σ x·s·b[f]. QUIRK: multiplies by the scale that `regularize`
    /// divides by, as LightFM does (needed to match its accuracy at α > 0).
    #[inline]
    fn representation(&self, row: usize, d: usize, out: &mut [f32]) -> f32 {
        out.fill(0.0);
        let s = self.scale.get() as f32;
        let mut b = 0.0f32;
        let (idx, w) = self.features.row(row);
        for (&f, &x) in idx.iter().zip(w) {
            let f = f as usize;
            let xs = x * s;
            let base = f * d;
            for (k, o) in out.iter_mut().enumerate() {
                *o += xs * self.emb.get(base + k);
            }
            b += xs * self.bias.get(f * BIAS_STRIDE);
        }
        b
    }
}

struct Trainer<'a> {
    d: usize,
    loss: Loss,
    schedule: Schedule,
    lr: f64,
    rho: f64,
    eps: f64,
    max_sampled: usize,
    k: usize,
    n: usize,
    users: SideRaw<'a>,
    items: SideRaw<'a>,
    x: &'a Interactions,
    n_items_rows: usize,
    reg_lock: &'a Mutex<()>,
    /// Each user's positive items, for k-OS when some rows are known negatives (otherwise
    /// every known item is a positive and `known` serves).
    positives: Option<&'a [Vec<u32>]>,
    /// Whether learning rates are summed for the lazy L2 scale (only with α > 0).
    track_eta: bool,
    /// Every row is a positive of weight 1 (implicit feedback), so the value and weight
    /// columns are never read: two random memory reads fewer per example (one WARP d = 64
    /// epoch on the 20M synthetic set, one thread, measured on a busy machine: about 12% less
    /// time; with the known-list prefetch of `prefetch_rows`, 36.6 s → 29–30 s on a quiet one).
    implicit: bool,
    /// The CPU has AVX2: the f32 row update runs on eight lanes.
    avx2: bool,
}

/// Per-thread buffers.
struct Buffers {
    p: Vec<f32>,
    q_pos: Vec<f32>,
    q_neg: Vec<f32>,
    kos: Vec<(u32, f32)>,
    kos_keys: Vec<u64>,
    grad: RowGrad,
}

/// The gradient of the embedding rows being updated, and what the update needs beside it.
struct RowGrad {
    /// Per component, before the feature weight.
    g: Vec<f64>,
    /// `g` rounded to f32, for the f32 update: a loop over f32 alone fills every SIMD lane.
    g32: Vec<f32>,
    /// Per-component η of the last row update.
    etas: Vec<f64>,
}

impl RowGrad {
    fn new(d: usize) -> Self {
        RowGrad {
            g: vec![0.0; d],
            g32: vec![0.0; d],
            etas: vec![0.0; d],
        }
    }
}

/// Adagrad's row update in f32: `θ -= lr/√G · x·g`, then `G += (x·g)²`, per component.
/// Written once and compiled twice, for the baseline CPU and, chosen at run time, for AVX2:
/// each component's arithmetic is the same IEEE operations either way, so results are
/// bit-identical and only the number of lanes differs.
#[inline(always)]
fn adagrad_row_f32(theta: &mut [f32], acc: &mut [f32], grad: &[f32], lr: f32, x: f32) {
    let d = theta.len().min(acc.len()).min(grad.len());
    let (theta, acc, grad) = (&mut theta[..d], &mut acc[..d], &grad[..d]);
    for k in 0..d {
        let xg = x * grad[k];
        let a = acc[k];
        theta[k] -= lr / a.sqrt() * xg;
        acc[k] = a + xg * xg;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn adagrad_row_f32_avx2(theta: &mut [f32], acc: &mut [f32], grad: &[f32], lr: f32, x: f32) {
    adagrad_row_f32(theta, acc, grad, lr, x)
}

/// Whether this CPU runs the AVX2 build of the row update.
fn use_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Dot product with eight independent accumulators, so the compiler can use SIMD lanes
/// (LightFM gets the same reordering from -ffast-math).
#[inline]
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    dot_mapped(a, b, |y| y)
}

/// `dot(a, q)` with `q[i] = 0 + s·e[i]`, bit for bit, without storing q.
#[inline]
fn dot_scaled(a: &[f32], e: &[f32], s: f32) -> f32 {
    dot_mapped(a, e, |y| 0.0 + s * y)
}

/// Σ a[i]·f(b[i]) in `dot`'s order: eight lanes, then the tail.
#[inline(always)]
fn dot_mapped(a: &[f32], b: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let chunks = n / 8;
    for c in 0..chunks {
        let (x, y) = (&a[c * 8..c * 8 + 8], &b[c * 8..c * 8 + 8]);
        for l in 0..8 {
            acc[l] += x[l] * f(y[l]);
        }
    }
    let mut tail = 0.0f32;
    for i in chunks * 8..n {
        tail += a[i] * f(b[i]);
    }
    acc.iter().sum::<f32>() + tail
}

/// The k-th highest scored of the k-OS candidates (k ≥ 1), as a stable sort by descending
/// score (`f32::total_cmp`) would place it: ties keep the order of the draws. Selects on
/// integer keys, which costs a fraction of sorting the pairs with a comparator.
fn kth_highest(candidates: &[(u32, f32)], k: usize, keys: &mut Vec<u64>) -> (u32, f32) {
    keys.clear();
    keys.extend(candidates.iter().enumerate().map(|(i, &(_, y))| {
        // total_cmp's order as an unsigned key, inverted for descending order.
        let t = y.to_bits() as i32;
        let t = t ^ ((((t >> 31) as u32) >> 1) as i32);
        let descending = !((t as u32) ^ 0x8000_0000);
        ((descending as u64) << 32) | i as u64
    }));
    // The keys are distinct (they end in the index). For LightFM's n = 10, counting each
    // key's rank is a few dozen branch-free comparisons: less than a selection's shuffling.
    let kth = if keys.len() <= 32 {
        let rank = |key: u64| {
            keys.iter()
                .map(|&other| (other < key) as usize)
                .sum::<usize>()
        };
        keys.iter().copied().find(|&key| rank(key) == k - 1)
    } else {
        None
    }
    .unwrap_or_else(|| *keys.select_nth_unstable(k - 1).1);
    candidates[kth as u32 as usize]
}

#[inline]
fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

impl Trainer<'_> {
    /// One scalar parameter update (adagrad or adadelta, then the lazy-L2 scale-up).
    // The innermost update: scalars passed directly so they stay in registers.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn step(
        &self,
        theta: Raw,
        g_acc: Raw,
        m_acc: Raw,
        i: usize,
        x: f64,
        g: f64,
        alpha: f64,
        sum_eta: &mut f64,
    ) {
        let xg = x * g;
        let eta;
        let mut t = theta.get(i) as f64;
        match self.schedule {
            Schedule::Adagrad => {
                let acc = g_acc.get(i) as f64;
                eta = self.lr / acc.sqrt();
                t -= eta * xg;
                g_acc.set(i, (acc + xg * xg) as f32);
            }
            Schedule::Adadelta => {
                let acc = self.rho * g_acc.get(i) as f64 + (1.0 - self.rho) * xg * xg;
                g_acc.set(i, acc as f32);
                let m = m_acc.get(i) as f64;
                eta = (m + self.eps).sqrt() / (acc + self.eps).sqrt();
                let delta = eta * xg;
                m_acc.set(i, (self.rho * m + (1.0 - self.rho) * delta * delta) as f32);
                t -= delta;
            }
        }
        t *= 1.0 + alpha * eta;
        theta.set(i, t as f32);
        *sum_eta += eta;
    }

    /// Updates the bias (gradient `g_bias`) and the embedding (gradient `grad[k]`, each times
    /// the feature weight) of every feature of `row`.
    #[inline]
    fn update_side(
        &self,
        side: &SideRaw,
        row: usize,
        g_bias: f64,
        grad: &mut RowGrad,
        sum_eta: &mut f64,
    ) {
        let d = self.d;
        let (idx, w) = side.features.row(row);
        if self.f32_rows() {
            for (g32, g) in grad.g32.iter_mut().zip(&grad.g) {
                *g32 = *g as f32;
            }
        }
        for (&f, &x) in idx.iter().zip(w) {
            let f = f as usize;
            let x = x as f64;
            self.step(
                side.bias,
                side.bias_g,
                side.bias_m,
                f * BIAS_STRIDE,
                x,
                g_bias,
                side.alpha,
                sum_eta,
            );
            self.step_row(side, f * d, x, grad, sum_eta);
        }
    }

    /// True when embedding rows are updated in f32 (see `step_row`).
    #[inline]
    fn f32_rows(&self) -> bool {
        self.schedule == Schedule::Adagrad && !self.track_eta
    }

    /// `step` for a whole embedding row: the same arithmetic per component, in loops without
    /// cross-iteration dependencies so the compiler can vectorise them.
    #[inline]
    fn step_row(&self, side: &SideRaw, base: usize, x: f64, grad: &mut RowGrad, sum_eta: &mut f64) {
        let d = self.d;
        // SAFETY: rows of the n_params × d arrays; Hogwild writes may race with other threads.
        let (theta, acc) = unsafe {
            (
                std::slice::from_raw_parts_mut(side.emb.0.add(base), d),
                std::slice::from_raw_parts_mut(side.emb_g.0.add(base), d),
            )
        };
        let (grad, grad32, etas) = (&grad.g[..d], &grad.g32[..d], &mut grad.etas[..d]);
        let alpha = side.alpha;
        match self.schedule {
            // DEPARTURE: without regularisation the row update runs in f32 (LightFM computes
            // in double and stores float32); twice the SIMD lanes for the square roots and
            // divisions that dominate training, four times with AVX2. The stored values
            // differ by at most a rounding step; accuracy on ml-100k is unchanged (closing
            // note's matrix).
            Schedule::Adagrad if !self.track_eta => {
                let (lr, x) = (self.lr as f32, x as f32);
                #[cfg(target_arch = "x86_64")]
                if self.avx2 {
                    // SAFETY: `avx2` is set only when the CPU has AVX2.
                    unsafe { adagrad_row_f32_avx2(theta, acc, grad32, lr, x) };
                    return;
                }
                adagrad_row_f32(theta, acc, grad32, lr, x);
                return;
            }
            Schedule::Adagrad => {
                let lr = self.lr;
                for k in 0..d {
                    let xg = x * grad[k];
                    let a = acc[k] as f64;
                    let eta = lr / a.sqrt();
                    theta[k] = ((theta[k] as f64 - eta * xg) * (1.0 + alpha * eta)) as f32;
                    acc[k] = (a + xg * xg) as f32;
                    etas[k] = eta;
                }
            }
            Schedule::Adadelta => {
                // SAFETY: as above; the moment arrays exist (n_params × d) under adadelta only.
                let mom = unsafe { std::slice::from_raw_parts_mut(side.emb_m.0.add(base), d) };
                let (rho, eps) = (self.rho, self.eps);
                for k in 0..d {
                    let xg = x * grad[k];
                    let a = rho * acc[k] as f64 + (1.0 - rho) * xg * xg;
                    let m = mom[k] as f64;
                    let eta = (m + eps).sqrt() / (a + eps).sqrt();
                    let delta = eta * xg;
                    acc[k] = a as f32;
                    mom[k] = (rho * m + (1.0 - rho) * delta * delta) as f32;
                    theta[k] = ((theta[k] as f64 - delta) * (1.0 + alpha * eta)) as f32;
                    etas[k] = eta;
                }
            }
        }
        *sum_eta += etas.iter().sum::<f64>();
    }

    fn scale_up(&self, sum_eta: f64, count: usize) {
        if count == 0 {
            return;
        }
        let avg = sum_eta / ((self.d + 1) * count) as f64;
        for side in [&self.items, &self.users] {
            if side.alpha > 0.0 {
                side.scale.set(side.scale.get() * (1.0 + side.alpha * avg));
            }
        }
    }

    fn maybe_regularize(&self) {
        if self.items.scale.get() > MAX_REG_SCALE || self.users.scale.get() > MAX_REG_SCALE {
            let _guard = self.reg_lock.lock().unwrap_or_else(|p| p.into_inner());
            if self.items.scale.get() > MAX_REG_SCALE || self.users.scale.get() > MAX_REG_SCALE {
                regularize_side(&self.items, self.d);
                regularize_side(&self.users, self.d);
            }
        }
    }

    /// Pointwise (logistic) update.
    fn update_pointwise(&self, l: f64, u: usize, i: usize, b: &mut Buffers) {
        let mut sum = 0.0;
        // Item parameters first, then the user's, as LightFM orders them.
        for (g, p) in b.grad.g.iter_mut().zip(&b.p) {
            *g = l * *p as f64;
        }
        self.update_side(&self.items, i, l, &mut b.grad, &mut sum);
        for (g, q) in b.grad.g.iter_mut().zip(&b.q_pos) {
            *g = l * *q as f64;
        }
        self.update_side(&self.users, u, l, &mut b.grad, &mut sum);
        let count = self.users.features.row(u).0.len() + self.items.features.row(i).0.len();
        self.scale_up(sum, count);
    }

    /// Pairwise (WARP, k-OS, BPR) update.
    fn update_pairwise(&self, l: f64, u: usize, pos: usize, neg: usize, b: &mut Buffers) {
        let mut sum = 0.0;
        for (g, p) in b.grad.g.iter_mut().zip(&b.p) {
            *g = -l * *p as f64;
        }
        self.update_side(&self.items, pos, -l, &mut b.grad, &mut sum);
        for g in b.grad.g.iter_mut() {
            *g = -*g;
        }
        self.update_side(&self.items, neg, l, &mut b.grad, &mut sum);
        // QUIRK: the user bias gets +L although its true gradient is 0 (LightFM does this;
        // rankings are unaffected, raw scores drift).
        for ((g, qn), qp) in b.grad.g.iter_mut().zip(&b.q_neg).zip(&b.q_pos) {
            *g = l * (*qn as f64 - *qp as f64);
        }
        self.update_side(&self.users, u, l, &mut b.grad, &mut sum);
        let count = self.users.features.row(u).0.len()
            + self.items.features.row(pos).0.len()
            + self.items.features.row(neg).0.len();
        self.scale_up(sum, count);
    }

    fn example(&self, row: usize, rng: &mut SmallRng, b: &mut Buffers) {
        let d = self.d;
        let x = self.x;
        let u = x.user_idx[row] as usize;
        let i = x.item_idx[row] as usize;
        let (w, positive) = if self.implicit {
            (1.0, true)
        } else {
            (x.weights.get(row) as f64, x.is_positive(row))
        };
        match self.loss {
            Loss::Logistic => {
                let bu = self.users.representation(u, d, &mut b.p);
                let bi = self.items.representation(i, d, &mut b.q_pos);
                let y = (bu + bi + dot(&b.p, &b.q_pos)) as f64;
                let target = if positive { 1.0 } else { 0.0 };
                let l = w * (sigmoid(y) - target);
                self.update_pointwise(l, u, i, b);
            }
            Loss::Warp => {
                if !positive {
                    return;
                }
                let bu = self.users.representation(u, d, &mut b.p);
                let bi = self.items.representation(i, d, &mut b.q_pos);
                let y_pos = bu + bi + dot(&b.p, &b.q_pos);
                self.warp(u, i, y_pos, bu, Some(w), rng, b);
            }
            Loss::Bpr => {
                if !positive {
                    return;
                }
                let Some(j) = self.uniform_negative(u, rng) else {
                    return;
                };
                let bu = self.users.representation(u, d, &mut b.p);
                let bi = self.items.representation(i, d, &mut b.q_pos);
                let bj = self.items.representation(j, d, &mut b.q_neg);
                let y_pos = (bu + bi + dot(&b.p, &b.q_pos)) as f64;
                let y_neg = (bu + bj + dot(&b.p, &b.q_neg)) as f64;
                let l = w * (1.0 - sigmoid(y_pos - y_neg));
                self.update_pairwise(l, u, i, j, b);
            }
            Loss::WarpKos => {
                // DEPARTURE: LightFM takes every stored entry of the user as a candidate
                // positive, so with a threshold k-OS learns a user's dislikes as likes (held-out
                // AUC 0.50 on the planted likes and dislikes of the unit tests, against 0.75
                // for WARP). Here only positive rows are steps and only positives candidates.
                // On ml-100k with threshold 4 (random 80/20 split, d = 32, 30 epochs, seeds 42,
                // 1, 2) test P@10 rose from 0.223 to 0.241 and AUC fell from 0.923 to 0.915:
                // learning every rated item also learns what users watch at all.
                if !positive {
                    return;
                }
                let known = match self.positives {
                    Some(all) => &all[u],
                    None => x.known(u as u32),
                };
                if known.is_empty() {
                    return;
                }
                let bu = self.users.representation(u, d, &mut b.p);
                let m = self.n.min(known.len());
                // Draw the candidates first, so that their rows load while the others are
                // drawn, then score them.
                b.kos.clear();
                for _ in 0..m {
                    let pid = known[rng.random_range(0..known.len())];
                    self.items.prefetch_params(pid as usize, d);
                    b.kos.push((pid, 0.0));
                }
                for c in b.kos.iter_mut() {
                    let (bp, pq) = self.items.score_parts(c.0 as usize, d, &b.p, &mut b.q_pos);
                    c.1 = bu + bp + pq;
                }
                let (pos, y_pos) = kth_highest(&b.kos, self.k.min(m), &mut b.kos_keys);
                let pos = pos as usize;
                self.items.representation(pos, d, &mut b.q_pos);
                self.warp(u, pos, y_pos, bu, None, rng, b);
            }
        }
        self.maybe_regularize();
    }
}

impl Trainer<'_> {
    /// Prefetches the interaction-column entries of example `row`.
    #[inline]
    fn prefetch_columns(&self, row: usize) {
        let x = self.x;
        prefetch(x.user_idx.as_ptr().wrapping_add(row));
        prefetch(x.item_idx.as_ptr().wrapping_add(row));
        if !self.implicit {
            prefetch(x.values.row_ptr(row));
            prefetch(x.weights.row_ptr(row));
        }
    }

    /// Prefetches the embedding, bias and accumulator rows of example `row`'s user and item
    /// (identity features), so that the random reads of a large model overlap with the work
    /// on earlier examples: one epoch of WARP d = 64 on 20M synthetic interactions took about
    /// a quarter less time. For the ranking losses, also the first lines a binary search of
    /// the user's known items visits (the check of every sampled negative): about a further
    /// 15% less time.
    #[inline]
    fn prefetch_rows(&self, row: usize) {
        let d = self.d;
        let u = self.x.user_idx[row];
        if self.loss != Loss::Logistic {
            let known = self.x.known(u);
            let n = known.len();
            for eighth in 1..8 {
                prefetch(known.as_ptr().wrapping_add(n * eighth / 8));
            }
        }
        let entities = [
            (&self.users, u as usize),
            (&self.items, self.x.item_idx[row] as usize),
        ];
        for (side, r) in entities {
            if !side.identity {
                continue;
            }
            side.prefetch_params(r, d);
            prefetch_row(side.emb_g.0, r, d);
        }
    }

    /// BPR's negative for user `u`: an item drawn uniformly from those the user has no
    /// interaction with, or none if the user has them all (the row is then skipped).
    ///
    /// DEPARTURE: LightFM draws the item of a random interaction row, so its negatives follow
    /// item popularity, and when every draw is known it uses a known item anyway. Uniform
    /// negatives are what the BPR paper samples and what AUC measures. On ml-100k (seed-42
    /// split, 30 epochs, one thread, mean of training seeds 42 and 1–9) test AUC / P@10 rose
    /// from 0.852 / 0.154 to 0.919 / 0.188 at d = 10, and from 0.847 / 0.132 to 0.927 / 0.201
    /// at d = 64.
    fn uniform_negative(&self, u: usize, rng: &mut SmallRng) -> Option<usize> {
        if self.x.known(u as u32).len() >= self.n_items_rows {
            return None;
        }
        loop {
            let j = rng.random_range(0..self.n_items_rows);
            if !self.x.is_known(u as u32, j as u32) {
                return Some(j);
            }
        }
    }

    /// Samples negatives until one violates the margin of 1, then updates with the WARP loss.
    /// Rejected draws (known items) still count in `sampled`, as in LightFM.
    #[allow(clippy::too_many_arguments)]
    fn warp(
        &self,
        u: usize,
        pos: usize,
        y_pos: f32,
        bu: f32,
        weight: Option<f64>,
        rng: &mut SmallRng,
        b: &mut Buffers,
    ) {
        let d = self.d;
        let mut sampled = 0usize;
        while sampled < self.max_sampled {
            sampled += 1;
            let j = rng.random_range(0..self.n_items_rows);
            let y_j = bu + self.items.score_against(j, d, &b.p, &mut b.q_neg);
            if y_j > y_pos - 1.0 {
                if self.x.is_known(u as u32, j as u32) {
                    continue;
                }
                if self.items.identity {
                    self.items.representation(j, d, &mut b.q_neg);
                }
                let ratio = ((self.n_items_rows - 1) / sampled) as f64;
                let l = match weight {
                    Some(w) => w * ratio.max(1.0).ln(),
                    // k-OS: LightFM has no weight and no max(1, ·) guard. DEPARTURE: the guard
                    // is kept, so tiny catalogues cannot produce ln(0) = -inf and diverge.
                    None => ratio.max(1.0).ln(),
                };
                self.update_pairwise(l.min(MAX_LOSS), u, pos, j, b);
                break;
            }
        }
    }
}

fn regularize_side(side: &SideRaw, d: usize) {
    let s = side.scale.get();
    if s == 1.0 {
        return;
    }
    for f in 0..side.n_params {
        let b = f * BIAS_STRIDE;
        side.bias.set(b, (side.bias.get(b) as f64 / s) as f32);
        for k in 0..d {
            let i = f * d + k;
            side.emb.set(i, (side.emb.get(i) as f64 / s) as f32);
        }
    }
    side.scale.set(1.0);
}

/// Each user's positive items, which k-OS draws its candidates from, when some rows of `x`
/// are known negatives; `None` when every known item is a positive (or the loss is not
/// k-OS). Built once per training run and passed to each `run_epoch`.
pub fn kos_positives(loss: Loss, x: &Interactions) -> Option<Vec<Vec<u32>>> {
    (loss == Loss::WarpKos && x.n_positives() < x.nnz()).then(|| x.positives_of())
}

/// Runs one epoch over `x`; `positives` is `kos_positives(loss, x)`.
pub fn run_epoch(
    model: &mut Model,
    x: &Interactions,
    positives: Option<&[Vec<u32>]>,
    rng: &mut SmallRng,
) {
    let nnz = x.nnz();
    if nnz == 0 {
        return;
    }
    let mut order: Vec<u32> = (0..nnz as u32).collect();
    for i in (1..nnz).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let threads = model.params.num_threads.clamp(1, nnz);
    // One block per thread would make an epoch wait for the slowest thread when another
    // process takes a core (LightFM's static OpenMP split does); several blocks per thread
    // let rayon's work stealing even out (on a 2-core machine with one core busy, WARP d=64
    // epochs on ml-100k took 12% less time). One thread keeps one block: deterministic.
    let blocks = if threads == 1 {
        1
    } else {
        threads * BLOCKS_PER_THREAD
    };
    let seeds: Vec<u64> = (0..blocks).map(|_| rng.random()).collect();
    let p = model.params.clone();
    let d = p.no_components;
    let mut item_scale = 1.0f64;
    let mut user_scale = 1.0f64;
    let reg_lock = Mutex::new(());
    let n_items_rows = model.items.features.n_rows();
    let mut user_lines = bias_lines(&model.users);
    let mut item_lines = bias_lines(&model.items);
    let users = SideRaw::new(
        &mut model.users,
        &mut user_lines,
        p.user_alpha,
        &mut user_scale,
    );
    let items = SideRaw::new(
        &mut model.items,
        &mut item_lines,
        p.item_alpha,
        &mut item_scale,
    );
    let trainer = Trainer {
        d,
        loss: p.loss,
        schedule: p.schedule,
        lr: p.learning_rate,
        rho: p.rho,
        eps: p.epsilon,
        max_sampled: p.max_sampled,
        k: p.k,
        n: p.n,
        users,
        items,
        x,
        n_items_rows,
        reg_lock: &reg_lock,
        positives,
        track_eta: users.alpha > 0.0 || items.alpha > 0.0,
        implicit: x.is_implicit(),
        avx2: use_avx2(),
    };
    let work = |chunk: &[u32], seed: u64| {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut b = Buffers {
            p: vec![0.0; d],
            q_pos: vec![0.0; d],
            q_neg: vec![0.0; d],
            kos: Vec::with_capacity(p.n),
            kos_keys: Vec::with_capacity(p.n),
            grad: RowGrad::new(d),
        };
        for (k, &row) in chunk.iter().enumerate() {
            if let Some(&far) = chunk.get(k + 2 * PREFETCH_AHEAD) {
                trainer.prefetch_columns(far as usize);
            }
            if let Some(&next) = chunk.get(k + PREFETCH_AHEAD) {
                trainer.prefetch_rows(next as usize);
            }
            trainer.example(row as usize, &mut rng, &mut b);
        }
    };
    if blocks == 1 {
        work(&order, seeds[0]);
    } else {
        let chunk = nnz.div_ceil(blocks);
        order
            .par_chunks(chunk)
            .zip(seeds.par_iter())
            .for_each(|(c, &s)| work(c, s));
    }
    regularize_side(&trainer.items, d);
    regularize_side(&trainer.users, d);
    store_bias_lines(&user_lines, &mut model.users);
    store_bias_lines(&item_lines, &mut model.items);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 build of the row update gives the same bits as the baseline build, for row
    /// lengths that fill whole vectors and for ragged ones.
    #[test]
    fn both_builds_of_the_row_update_agree_bit_for_bit() {
        if !use_avx2() {
            return;
        }
        let mut rng = SmallRng::seed_from_u64(7);
        for d in [1, 7, 8, 10, 32, 33, 64] {
            let theta: Vec<f32> = (0..d).map(|_| rng.random_range(-0.5..0.5)).collect();
            let acc: Vec<f32> = (0..d).map(|_| rng.random_range(1.0..50.0)).collect();
            let grad: Vec<f32> = (0..d).map(|_| rng.random_range(-3.0..3.0)).collect();
            let (mut t1, mut a1) = (theta.clone(), acc.clone());
            let (mut t2, mut a2) = (theta, acc);
            adagrad_row_f32(&mut t1, &mut a1, &grad, 0.05, 0.7);
            #[cfg(target_arch = "x86_64")]
            // SAFETY: checked above that the CPU has AVX2.
            unsafe {
                adagrad_row_f32_avx2(&mut t2, &mut a2, &grad, 0.05, 0.7)
            };
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&t1), bits(&t2), "theta, d = {d}");
            assert_eq!(bits(&a1), bits(&a2), "accumulators, d = {d}");
        }
    }

    /// The k-th highest candidate is the one a stable sort by descending score puts at k,
    /// with ties (repeated draws, equal scores, ±0) in draw order.
    #[test]
    fn kth_highest_matches_a_stable_sort() {
        let mut rng = SmallRng::seed_from_u64(11);
        let pool = [
            -1.5f32,
            -0.0,
            0.0,
            0.25,
            0.25,
            3.0,
            f32::MIN,
            f32::MAX,
            -7.0,
        ];
        let mut keys = Vec::new();
        for _ in 0..2000 {
            let m = rng.random_range(1..12usize);
            let cands: Vec<(u32, f32)> = (0..m)
                .map(|i| {
                    let y = if rng.random_bool(0.5) {
                        pool[rng.random_range(0..pool.len())]
                    } else {
                        rng.random_range(-2.0..2.0)
                    };
                    (i as u32, y)
                })
                .collect();
            let mut sorted = cands.clone();
            sorted.sort_by(|a, c| c.1.total_cmp(&a.1));
            for k in 1..=m {
                let got = kth_highest(&cands, k, &mut keys);
                assert_eq!(got.0, sorted[k - 1].0, "k = {k} of {cands:?}");
            }
        }
    }

    /// Scoring a row in place gives the bits of materialising its representation first,
    /// with and without the regularisation scale.
    #[test]
    fn dot_scaled_is_dot_of_the_scaled_row() {
        let mut rng = SmallRng::seed_from_u64(5);
        for d in [1, 7, 8, 10, 32, 33, 64] {
            let p: Vec<f32> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mut e: Vec<f32> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
            e[0] = -0.0;
            for s in [1.0f32, 0.9997, 1.3] {
                let q: Vec<f32> = e.iter().map(|&x| 0.0 + s * x).collect();
                assert_eq!(
                    dot_scaled(&p, &e, s).to_bits(),
                    dot(&p, &q).to_bits(),
                    "d = {d}, s = {s}"
                );
            }
        }
    }
}
