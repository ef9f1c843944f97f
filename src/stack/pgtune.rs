//! PostgreSQL sized for its machine, by the rules of pgtune
//! (<https://pgtune.leopard.in.ua>) for a web application on SSDs.
//! `deploy/postgres/README.md` walks through the same rules by hand.

/// The machine the database runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    /// Memory PostgreSQL may use, in bytes.
    pub memory_bytes: u64,
    /// CPU cores.
    pub cores: u64,
}

impl Machine {
    /// This machine: `/proc/meminfo` and the available cores.
    pub fn this_one() -> Self {
        let memory_bytes = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|line| line.starts_with("MemTotal:"))
                    .and_then(|line| line.split_whitespace().nth(1))
                    .and_then(|kib| kib.parse::<u64>().ok())
            })
            .map_or(2 << 30, |kib| kib * 1024);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        Self {
            memory_bytes,
            cores,
        }
    }
}

/// The settings that matter, as `postgresql.conf` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuning {
    pub max_connections: u64,
    pub shared_buffers: String,
    pub effective_cache_size: String,
    pub maintenance_work_mem: String,
    pub work_mem: String,
    pub wal_buffers: String,
    pub min_wal_size: String,
    pub max_wal_size: String,
    pub random_page_cost: String,
    pub effective_io_concurrency: u64,
    pub max_worker_processes: u64,
    pub max_parallel_workers: u64,
    pub max_parallel_workers_per_gather: u64,
    pub max_parallel_maintenance_workers: u64,
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Formats bytes the way `postgresql.conf` takes them, in whole kB, MB or GB.
pub fn size(bytes: u64) -> String {
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{}GB", bytes / GIB)
    } else if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{}MB", bytes / MIB)
    } else {
        format!("{}kB", (bytes / KIB).max(64))
    }
}

/// Parses `512MB`, `2GB`, `1048576kB` or a plain byte count.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => KIB,
        "m" | "mb" => MIB,
        "g" | "gb" => GIB,
        _ => return None,
    };
    number.checked_mul(factor)
}

impl Tuning {
    /// pgtune's "web application" rules for `machine`, on SSD storage.
    pub fn for_machine(machine: Machine, max_connections: u64) -> Self {
        let memory = machine.memory_bytes;
        let cores = machine.cores.max(1);
        // A quarter of memory for PostgreSQL's own cache; the kernel's page
        // cache holds much of the rest, which the planner is told about.
        let shared_buffers = memory / 4;
        let effective_cache_size = memory / 4 * 3;
        // Vacuum and index builds: a sixteenth of memory, at most 2 GB.
        let maintenance_work_mem = (memory / 16).min(2 * GIB);
        // 3 % of shared_buffers, between 64 kB and 16 MB.
        let wal_buffers = (shared_buffers * 3 / 100).clamp(64 * KIB, 16 * MIB);
        let per_gather = (cores / 2).max(1);
        // What is left after shared_buffers, shared by every connection's
        // sorts (three at a time each) and their parallel workers.
        let work_mem =
            ((memory - shared_buffers) / (max_connections * 3) / per_gather).max(64 * KIB);
        Self {
            max_connections,
            shared_buffers: size(round_down(shared_buffers)),
            effective_cache_size: size(round_down(effective_cache_size)),
            maintenance_work_mem: size(round_down(maintenance_work_mem)),
            work_mem: size(work_mem / KIB * KIB),
            wal_buffers: size(round_down(wal_buffers)),
            min_wal_size: "1GB".to_string(),
            max_wal_size: "4GB".to_string(),
            random_page_cost: "1.1".to_string(),
            effective_io_concurrency: 200,
            max_worker_processes: cores.max(2),
            max_parallel_workers: cores,
            max_parallel_workers_per_gather: per_gather,
            max_parallel_maintenance_workers: per_gather,
        }
    }
}

/// Rounds down to a whole MB above 1 GB, else to a whole kB.
fn round_down(bytes: u64) -> u64 {
    if bytes >= GIB {
        bytes / MIB * MIB
    } else {
        bytes / KIB * KIB
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_16_gb_quad_core_gets_pgtunes_numbers() {
        let tuning = Tuning::for_machine(
            Machine {
                memory_bytes: 16 * GIB,
                cores: 4,
            },
            100,
        );
        assert_eq!(tuning.shared_buffers, "4GB");
        assert_eq!(tuning.effective_cache_size, "12GB");
        assert_eq!(tuning.maintenance_work_mem, "1GB");
        assert_eq!(tuning.wal_buffers, "16MB");
        assert_eq!(tuning.work_mem, "20971kB");
        assert_eq!(tuning.max_parallel_workers_per_gather, 2);
        assert_eq!(tuning.random_page_cost, "1.1");
    }

    #[test]
    fn small_machines_keep_sane_minimums() {
        let tuning = Tuning::for_machine(
            Machine {
                memory_bytes: 256 * MIB,
                cores: 1,
            },
            100,
        );
        assert_eq!(tuning.shared_buffers, "64MB");
        assert_eq!(tuning.effective_cache_size, "192MB");
        assert_eq!(tuning.maintenance_work_mem, "16MB");
        assert_eq!(tuning.wal_buffers, "1966kB");
        assert_eq!(tuning.work_mem, "655kB");
        assert_eq!(tuning.max_worker_processes, 2);
    }

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("512MB"), Some(512 * MIB));
        assert_eq!(parse_size("2gb"), Some(2 * GIB));
        assert_eq!(parse_size("64kB"), Some(64 * KIB));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(size(3 * GIB), "3GB");
        assert_eq!(size(1536 * MIB), "1536MB");
    }
}
