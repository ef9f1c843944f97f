//! What both forms of the replicas tier report.

/// One replica as the architecture page and `/metrics` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// `replica-1`, …
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// Answering its checks.
    pub reachable: bool,
    /// Taking reads: reachable and within the lag bounds.
    pub in_rotation: bool,
    /// Replay paused (`pg_wal_replay_pause()`).
    pub paused: bool,
    /// WAL bytes behind the primary at the last check.
    pub lag_bytes: u64,
    /// Milliseconds behind the primary at the last check.
    pub lag_ms: u64,
    /// Reads served since start.
    pub reads: u64,
}

/// Routing counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicaCounters {
    /// Reads that wanted a replica but went to the primary: none fit, or
    /// the replica's connection could not be had in time.
    pub fallbacks: u64,
    /// Reads sent to the primary because no replica had replayed their
    /// author's last write yet.
    pub read_your_writes: u64,
    /// Reads served by the primary.
    pub primary_reads: u64,
}

/// Set while the primary is down and the replicas serve reads: the site is
/// read-only. One process has one primary.
static PRIMARY_DOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records whether the primary is down (the replica monitor's verdict).
pub fn set_primary_down(down: bool) {
    PRIMARY_DOWN.store(down, std::sync::atomic::Ordering::Relaxed);
}

/// Whether the primary is down while replicas serve reads. The cache tier
/// then fills nothing: what a replica shows may lack the primary's last
/// writes, and must not outlive the outage in the cache.
pub fn primary_down() -> bool {
    PRIMARY_DOWN.load(std::sync::atomic::Ordering::Relaxed)
}

/// `0/16B3748`, as PostgreSQL writes a WAL position.
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff)
}

/// A WAL position as PostgreSQL writes it; `None` when it is not one.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.trim().split_once('/')?;
    if high.is_empty() || low.is_empty() || high.len() > 8 || low.len() > 8 {
        return None;
    }
    let high = u64::from_str_radix(high, 16).ok()?;
    let low = u64::from_str_radix(low, 16).ok()?;
    Some((high << 32) | low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_positions_read_and_write_as_postgresql_does() {
        assert_eq!(parse_lsn("0/16B3748"), Some(0x16B_3748));
        assert_eq!(parse_lsn("1/0"), Some(1 << 32));
        assert_eq!(format_lsn(0x1_0000_00FF), "1/FF");
        assert_eq!(
            parse_lsn(&format_lsn(0xABCD_0123_4567)),
            Some(0xABCD_0123_4567)
        );
        for bad in ["", "/", "0/", "x/1", "1", "123456789/0", "0/-1"] {
            assert_eq!(parse_lsn(bad), None, "{bad}");
        }
    }
}
