//! A circuit breaker in front of Redis: after a few failures in a row the
//! cache is left alone for a while, then one call probes it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Calls go through; this many have failed in a row.
    Closed(u32),
    /// Calls are skipped until then.
    Open(Instant),
    /// One probe is out; everything else is skipped until it reports.
    Probing,
}

/// What a finished call changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    None,
    /// The circuit just opened.
    Opened,
    /// It just closed after being open.
    Recovered,
}

/// The breaker.
pub struct Breaker {
    state: Mutex<State>,
    threshold: u32,
    cooldown: Duration,
}

impl Breaker {
    /// Opens after `threshold` failures in a row, for `cooldown`.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            state: Mutex::new(State::Closed(0)),
            threshold: threshold.max(1),
            cooldown,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a call may go to Redis now.
    pub fn allow(&self) -> bool {
        let mut state = self.lock();
        match *state {
            State::Closed(_) => true,
            State::Open(until) if Instant::now() >= until => {
                *state = State::Probing;
                true
            }
            State::Open(_) | State::Probing => false,
        }
    }

    /// Whether calls are being skipped.
    pub fn is_open(&self) -> bool {
        !matches!(*self.lock(), State::Closed(_))
    }

    /// A call succeeded.
    pub fn success(&self) -> Transition {
        let mut state = self.lock();
        let was_open = !matches!(*state, State::Closed(_));
        *state = State::Closed(0);
        if was_open {
            Transition::Recovered
        } else {
            Transition::None
        }
    }

    /// A call failed or timed out.
    pub fn failure(&self) -> Transition {
        let mut state = self.lock();
        match *state {
            State::Closed(failures) if failures + 1 >= self.threshold => {
                *state = State::Open(Instant::now() + self.cooldown);
                Transition::Opened
            }
            State::Closed(failures) => {
                *state = State::Closed(failures + 1);
                Transition::None
            }
            State::Probing | State::Open(_) => {
                *state = State::Open(Instant::now() + self.cooldown);
                Transition::None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_then_probes_after_the_cooldown() {
        let breaker = Breaker::new(3, Duration::from_millis(30));
        assert_eq!(breaker.failure(), Transition::None);
        assert_eq!(breaker.failure(), Transition::None);
        assert!(breaker.allow());
        assert_eq!(breaker.failure(), Transition::Opened);
        assert!(!breaker.allow(), "open: Redis is left alone");
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow(), "one probe after the cooldown");
        assert!(!breaker.allow(), "only one");
        assert_eq!(breaker.success(), Transition::Recovered);
        assert!(breaker.allow());
        assert!(!breaker.is_open());
    }

    #[test]
    fn a_failed_probe_reopens() {
        let breaker = Breaker::new(1, Duration::from_millis(20));
        breaker.failure();
        std::thread::sleep(Duration::from_millis(25));
        assert!(breaker.allow());
        breaker.failure();
        assert!(!breaker.allow());
    }

    #[test]
    fn a_success_resets_the_count() {
        let breaker = Breaker::new(2, Duration::from_secs(60));
        breaker.failure();
        breaker.success();
        assert_eq!(breaker.failure(), Transition::None);
        assert!(breaker.allow());
    }
}
