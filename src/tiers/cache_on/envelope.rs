//! What is stored under a cache key: the value (or "does not exist"), how
//! long it took to compute, and when it expires — what XFetch needs to
//! refresh hot entries early, one caller at a time, before they expire.

use serde::{Deserialize, Serialize};

/// A cached value with its bookkeeping.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The version of the value's shape ([`super::SCHEMA`]); entries from
    /// before it was kept read as 0.
    #[serde(rename = "s", default)]
    pub schema: u32,
    /// The value; `None` caches "does not exist".
    #[serde(rename = "v")]
    pub value: Option<T>,
    /// Milliseconds the value took to compute.
    #[serde(rename = "d")]
    pub delta_ms: u64,
    /// When it expires, in milliseconds since the epoch.
    #[serde(rename = "x")]
    pub expires_at_ms: u64,
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or_default()
}

impl<T> Envelope<T> {
    /// XFetch (Vattani, Chierichetti, Lowenstein, 2015): refresh early with a
    /// probability that grows as expiry nears and with the cost of computing
    /// the value. `random` is uniform in (0, 1].
    pub fn should_refresh(&self, now_ms: u64, beta: f64, random: f64) -> bool {
        if beta <= 0.0 {
            return false;
        }
        let head_start = self.delta_ms as f64 * beta * -random.max(f64::MIN_POSITIVE).ln();
        now_ms as f64 + head_start >= self.expires_at_ms as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(delta_ms: u64, expires_at_ms: u64) -> Envelope<u8> {
        Envelope {
            schema: 1,
            value: Some(1),
            delta_ms,
            expires_at_ms,
        }
    }

    #[test]
    fn far_from_expiry_nothing_refreshes() {
        let entry = envelope(10, 1_000_000);
        assert!(!entry.should_refresh(0, 1.0, 0.5));
        assert!(!entry.should_refresh(0, 1.0, 0.0001));
    }

    #[test]
    fn near_expiry_expensive_values_refresh_sooner() {
        let cheap = envelope(1, 10_000);
        let costly = envelope(2_000, 10_000);
        assert!(!cheap.should_refresh(9_000, 1.0, 0.5));
        assert!(
            costly.should_refresh(9_000, 1.0, 0.5),
            "ln(0.5) × 2000 ms reaches past expiry"
        );
    }

    #[test]
    fn past_expiry_always_refreshes_and_beta_zero_never() {
        let entry = envelope(5, 100);
        assert!(entry.should_refresh(101, 1.0, 0.99));
        assert!(!entry.should_refresh(101, 0.0, 0.5));
    }

    #[test]
    fn missing_values_round_trip() {
        let missing: Envelope<String> = Envelope {
            schema: 1,
            value: None,
            delta_ms: 3,
            expires_at_ms: 9,
        };
        let json = serde_json::to_string(&missing).unwrap();
        assert_eq!(json, r#"{"s":1,"v":null,"d":3,"x":9}"#);
        let back: Envelope<String> = serde_json::from_str(&json).unwrap();
        assert!(back.value.is_none());
    }
}
