//! The cost of checking a password link's password: Argon2id verify times for OWASP's
//! recommended parameter sets, measured in this process (release build), and what they
//! would take on a 128 MB Lambda, which gets 128/1769 of a vCPU (Lambda's documented
//! scale: a full vCPU at 1,769 MB). The set in use is `common::domain::password`'s.

use std::time::Instant;

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde_json::{json, Value};

/// OWASP Password Storage Cheat Sheet: equivalent Argon2id sets (m in MiB, t), p = 1.
const OWASP_SETS: [(u32, u32); 5] = [(46, 1), (19, 2), (12, 3), (9, 4), (7, 5)];
/// A 128 MB function's CPU share: 128 / 1769 of a vCPU.
const LAMBDA_128_SLOWDOWN: f64 = 1769.0 / 128.0;

/// This thread's CPU time so far, in milliseconds (utime + stime of /proc/thread-self).
fn thread_cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of stat (utime, stime), here 11 and 12 after the command name.
    (ticks(11) + ticks(12)) * 10.0
}

/// Median wall and CPU milliseconds of `rounds` hashes with `m_mib`, `t` (a verify is one hash).
fn time_set(m_mib: u32, t: u32, rounds: usize) -> (f64, f64) {
    let params = Params::new(m_mib * 1024, t, 1, None).expect("valid parameters");
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::encode_b64(b"bench-salt-16byt").expect("salt");
    // One first: the memory's first touch is not what a warm function pays.
    std::hint::black_box(argon.hash_password(b"warm-up", &salt).is_ok());
    let mut walls = Vec::with_capacity(rounds);
    let cpu_start = thread_cpu_ms();
    for _ in 0..rounds {
        let start = Instant::now();
        let hash = argon.hash_password(b"correct horse battery staple", &salt);
        std::hint::black_box(hash.is_ok());
        walls.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let cpu = (thread_cpu_ms() - cpu_start) / rounds as f64;
    walls.sort_by(|a, b| a.total_cmp(b));
    (walls[walls.len() / 2], cpu)
}

/// The table and the report's `password_verify` section.
pub fn measure(rounds: usize) -> Value {
    let used = (
        common::domain::password::M_COST_KIB / 1024,
        common::domain::password::T_COST,
    );
    let mut sets = Vec::new();
    println!("\n| Argon2id m, t (p = 1) | verify ms here (median) | CPU ms | est. ms at 128 MB | in use |");
    println!("| --- | --- | --- | --- | --- |");
    for (m, t) in OWASP_SETS {
        let (wall, cpu) = time_set(m, t, rounds);
        let at_128 = wall * LAMBDA_128_SLOWDOWN;
        let in_use = (m, t) == used;
        println!(
            "| {m} MiB, {t} | {wall:.1} | {cpu:.0} | {at_128:.0} | {} |",
            if in_use { "yes" } else { "" }
        );
        sets.push(
            json!({"m_mib": m, "t": t, "p": 1, "verify_ms": wall, "cpu_ms": cpu,
                         "estimated_ms_at_128mb": at_128, "in_use": in_use}),
        );
    }
    json!({"rounds": rounds, "sets": sets})
}
