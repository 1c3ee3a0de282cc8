//! `recsql bench gen`: a synthetic implicit-feedback CSV (`userId,movieId`) with planted
//! low-rank tastes and power-law item popularity, for training benchmarks at scale (up to
//! tens of millions of interactions). Deterministic for a seed; users are generated in
//! parallel and written in order.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

#[derive(Debug, Clone, clap::Args)]
pub struct GenArgs {
    #[arg(long, default_value_t = 138_493)]
    pub users: usize,
    #[arg(long, default_value_t = 26_744)]
    pub items: usize,
    #[arg(long, default_value_t = 20_000_000)]
    pub interactions: usize,
    /// Rank of the planted tastes.
    #[arg(long, default_value_t = 16)]
    pub rank: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output CSV path.
    #[arg(long)]
    pub out: PathBuf,
}

fn normal(rng: &mut SmallRng) -> f32 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

/// Writes the CSV; returns the number of rows written.
pub fn generate(a: &GenArgs) -> Result<usize, String> {
    if a.users == 0 || a.items < 2 || a.rank == 0 {
        return Err("need at least 1 user, 2 items and rank 1".into());
    }
    let cap = a.items / 2;
    if a.interactions > a.users * cap {
        return Err(format!(
            "{} interactions do not fit {} users with at most {cap} items each",
            a.interactions, a.users
        ));
    }
    let mut rng = SmallRng::seed_from_u64(a.seed);
    let r = a.rank;
    let scale = 1.0 / (r as f32).sqrt();
    let item_f: Vec<f32> = (0..a.items * r).map(|_| normal(&mut rng) * scale).collect();
    // Zipf-like popularity over a random order of items.
    let mut order: Vec<usize> = (0..a.items).collect();
    for i in (1..a.items).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let mut pop = vec![0.0f64; a.items];
    for (rank, &i) in order.iter().enumerate() {
        pop[i] = 1.0 / (rank as f64 + 10.0).powf(0.9);
    }
    let mut cum = Vec::with_capacity(a.items);
    let mut acc = 0.0;
    for p in &pop {
        acc += p;
        cum.push(acc);
    }
    // Skewed per-user counts scaled to the total exactly.
    let min = (a.interactions / a.users).clamp(1, 5);
    let raw: Vec<f64> = (0..a.users)
        .map(|_| (normal(&mut rng) as f64 * 0.8).exp())
        .collect();
    let total: f64 = raw.iter().sum();
    let spare = a.interactions.saturating_sub(min * a.users) as f64;
    let mut counts: Vec<usize> = raw
        .iter()
        .map(|x| (min + (spare * x / total) as usize).min(cap))
        .collect();
    let mut missing = a.interactions as i64 - counts.iter().sum::<usize>() as i64;
    let mut u = 0;
    while missing != 0 {
        if missing > 0 && counts[u] < cap {
            counts[u] += 1;
            missing -= 1;
        } else if missing < 0 && counts[u] > 1 {
            counts[u] -= 1;
            missing += 1;
        }
        u = (u + 1) % a.users;
    }
    let file = std::fs::File::create(&a.out)
        .map_err(|e| format!("cannot create {}: {e}", a.out.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    writeln!(w, "userId,movieId").map_err(|e| e.to_string())?;
    let mut written = 0;
    for chunk in (0..a.users).collect::<Vec<_>>().chunks(4096) {
        let rows: Vec<Vec<u32>> = chunk
            .par_iter()
            .map(|&u| {
                let mut rng = SmallRng::seed_from_u64(
                    a.seed ^ (u as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                );
                let taste: Vec<f32> = (0..r).map(|_| normal(&mut rng)).collect();
                let mut seen = HashSet::with_capacity(counts[u] * 2);
                let mut items = Vec::with_capacity(counts[u]);
                let mut tries = 0usize;
                while items.len() < counts[u] {
                    tries += 1;
                    let x = rng.random_range(0.0..acc);
                    let i = cum.partition_point(|&c| c < x).min(a.items - 1);
                    let affinity: f32 = taste
                        .iter()
                        .zip(&item_f[i * r..(i + 1) * r])
                        .map(|(p, q)| p * q)
                        .sum();
                    let accept = 1.0 / (1.0 + (-(3.0 * affinity)).exp());
                    // After many tries, accept anything new so every user reaches their count.
                    if (tries < 50 * counts[u] && !rng.random_bool(accept as f64))
                        || !seen.insert(i)
                    {
                        continue;
                    }
                    items.push(i as u32);
                }
                items
            })
            .collect();
        for (&u, items) in chunk.iter().zip(rows) {
            for i in items {
                writeln!(w, "{},{}", u + 1, i + 1).map_err(|e| e.to_string())?;
                written += 1;
            }
        }
    }
    w.flush().map_err(|e| e.to_string())?;
    Ok(written)
}
