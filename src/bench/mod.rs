//! `recsql bench`: measurement commands that are not part of the server. `train` follows the
//! contract that ../shared/bench/compare_lightfm.py relies on; `gen` writes synthetic
//! implicit-feedback data; `wire`, `hybrid` and `finetune` measure through SQL on an
//! in-process server. They run synchronously on the calling thread (and rayon).

mod finetune;
mod harness;
mod hybrid;
mod ranked;
mod synthetic;
mod train;
mod wire;

pub use finetune::{FinetuneArgs, run as finetune};
pub use hybrid::{HybridArgs, run as hybrid};
pub use synthetic::{GenArgs, generate};
pub use train::{TrainArgs, train};
pub use wire::{WireArgs, run as wire};

/// Peak resident memory of this process in MB (VmHWM), or 0 where unknown.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
