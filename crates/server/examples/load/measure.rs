//! What the benchmark reads off its runs: latency percentiles and the CPU time of this process
//! and of each of its threads (from `/proc`).

use std::collections::BTreeMap;
use std::time::Duration;

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// User and system CPU seconds of this process so far (`/proc/self/stat`, in clock ticks of
/// 1/100 s).
pub fn cpu_secs() -> f64 {
    stat_cpu_secs(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// User and system CPU seconds in a `stat` line of `/proc`.
fn stat_cpu_secs(stat: &str) -> f64 {
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    (tick(11) + tick(12)) / 100.0
}

/// CPU seconds of this process's threads so far, summed by thread name (the runtime's workers,
/// the SQLite writer and syncer, …), so that a run shows where the server's time went.
pub fn cpu_secs_by_thread() -> BTreeMap<String, f64> {
    let mut by_name = BTreeMap::new();
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        *by_name.entry(name.trim().to_owned()).or_insert(0.0) += stat_cpu_secs(&stat);
    }
    by_name
}
