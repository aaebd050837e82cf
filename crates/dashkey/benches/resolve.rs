//! In-process cost of the work behind `dashkey status`: replaying the three SDK lookups and
//! scanning every copy, against a temporary home. Run with `cargo bench -p dashkey`.
//!
//! No framework: the numbers that matter are microseconds against a process start of about
//! a millisecond, so a median over many runs is enough.

use std::time::{Duration, Instant};

use dashkey::{Os, Platform, Sdk, resolve, store};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn measure(name: &str, runs: usize, mut f: impl FnMut()) {
    for _ in 0..runs / 10 {
        f();
    }
    let samples = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    println!("{name:<32} median {:>8.1} µs over {runs} runs", median(samples).as_secs_f64() * 1e6);
}

fn main() {
    let dir = std::env::temp_dir().join(format!("dashkey-bench-{}", std::process::id()));
    std::fs::create_dir_all(dir.join(".dashscope")).unwrap();
    std::fs::write(dir.join(".dashscope/api_key"), "sk-3f9a1c0b7d2e4f6a8b0c1d2e3f4a5b6c\n")
        .unwrap();
    let home = dir.to_str().unwrap().to_string();
    let platform = Platform::simulated(
        Os::Linux,
        [
            ("HOME", home.as_str()),
            ("DASHSCOPE_HTTP_BASE_URL", "https://dashscope-intl.aliyuncs.com/api/v1"),
        ],
    );
    measure("resolve python+java+node", 2000, || {
        for sdk in Sdk::ALL {
            std::hint::black_box(resolve::resolve(sdk, &platform));
        }
    });
    measure("scan every copy", 2000, || {
        std::hint::black_box(store::scan(&platform));
    });
    let _ = std::fs::remove_dir_all(&dir);
}
