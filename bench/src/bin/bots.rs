//! `bots none|isbot|ours`: the bot policy's two matchers side by side (BENCHMARKS.md, "The
//! bot matcher"). Builds one matcher (`isbot`'s single large regular expression, or
//! `common::domain::bots`), classifies every User-Agent of `common/tests/user-agents`
//! (8,499 real ones) three times, and prints one JSON line: the build's microseconds, the
//! nanoseconds per classification (first pass: every User-Agent new to the matcher; last
//! pass: seen before), the bots found, and the process's peak RSS (VmHWM) in KiB. `none`
//! reads the corpus and builds nothing: the baseline the two are compared with. Each mode is
//! its own process, so that one's memory never counts in another's.

use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BOTS: &str = include_str!("../../../common/tests/user-agents/bots.txt");
const BROWSERS: &str = include_str!("../../../common/tests/user-agents/browsers-sample.txt");

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let corpus: Vec<String> = BOTS
        .lines()
        .chain(BROWSERS.lines())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let started = Instant::now();
    let is_bot: Box<dyn Fn(&str) -> bool> = match mode.as_str() {
        "none" => Box::new(|ua: &str| ua.is_empty()),
        "isbot" => {
            let bots = isbot::Bots::default();
            let _ = bots.is_bot("Mozilla/5.0");
            Box::new(move |ua: &str| bots.is_bot(ua))
        }
        "ours" => {
            let bots = common::domain::bots::Bots::new();
            let _ = bots.is_bot("Mozilla/5.0");
            Box::new(move |ua: &str| bots.is_bot(ua))
        }
        _ => {
            eprintln!("usage: bots none|isbot|ours");
            std::process::exit(2);
        }
    };
    let build_us = started.elapsed().as_micros();
    let mut passes = Vec::new();
    let mut found = 0;
    for _ in 0..3 {
        let started = Instant::now();
        found = corpus.iter().filter(|ua| is_bot(ua)).count();
        passes.push(started.elapsed().as_nanos() / corpus.len() as u128);
    }
    println!(
        "{{\"mode\":\"{mode}\",\"user_agents\":{},\"bots\":{found},\"build_us\":{build_us},\"first_pass_ns\":{},\"last_pass_ns\":{},\"peak_rss_kib\":{}}}",
        corpus.len(),
        passes[0],
        passes[2],
        peak_rss_kib()
    );
}
