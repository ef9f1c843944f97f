//! A circuit breaker in front of Redis: after a few failures in a row the
//! cache is left alone for a while, then one call probes it. A probe that
//! never reports (its request went away and its future was dropped) does not
//! keep the circuit open: dropping its permit hands the probe to the next
//! call, and past its deadline another call may probe anyway.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Where the breaker reads the time; tests drive their own.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Instant;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Calls go through; this many have failed in a row.
    Closed(u32),
    /// Calls are skipped until then.
    Open(Instant),
    /// Probe number `probe` is out; everything else is skipped until it
    /// reports, is dropped, or `deadline` passes.
    Probing { probe: u64, deadline: Instant },
}

struct Shared {
    state: State,
    /// Probes handed out so far, to tell a late one from the current one.
    probes: u64,
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
    shared: Mutex<Shared>,
    /// Whether the state is anything but closed, readable without the lock.
    open: AtomicBool,
    threshold: u32,
    cooldown: Duration,
    probe_deadline: Duration,
    clock: Arc<dyn Clock>,
}

/// Leave for one call to go to Redis. Report how it went with
/// [`Permit::success`] or [`Permit::failure`]; a probe's permit dropped
/// without a report lets the next call probe straight away.
#[must_use = "report how the call went"]
pub struct Permit<'a> {
    breaker: &'a Breaker,
    /// Which probe this is, when it is one.
    probe: Option<u64>,
}

impl Permit<'_> {
    /// The call succeeded.
    pub fn success(mut self) -> Transition {
        self.probe = None;
        self.breaker.success()
    }

    /// The call failed or timed out.
    pub fn failure(mut self) -> Transition {
        self.probe = None;
        self.breaker.failure()
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Some(probe) = self.probe {
            self.breaker.abandon(probe);
        }
    }
}

impl Breaker {
    /// Opens after `threshold` failures in a row, for `cooldown`; a probe
    /// that has not reported within `probe_deadline` is given up on.
    pub fn new(threshold: u32, cooldown: Duration, probe_deadline: Duration) -> Self {
        Self::with_clock(threshold, cooldown, probe_deadline, Arc::new(SystemClock))
    }

    /// The same, reading the time from `clock`.
    pub fn with_clock(
        threshold: u32,
        cooldown: Duration,
        probe_deadline: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            shared: Mutex::new(Shared {
                state: State::Closed(0),
                probes: 0,
            }),
            open: AtomicBool::new(false),
            threshold: threshold.max(1),
            cooldown,
            probe_deadline,
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Moves to `state` (under the lock).
    fn set(&self, shared: &mut Shared, state: State) {
        shared.state = state;
        self.open
            .store(!matches!(state, State::Closed(_)), Ordering::SeqCst);
    }

    /// Leave to call Redis now, or `None` while it is being left alone.
    pub fn allow(&self) -> Option<Permit<'_>> {
        let now = self.clock.now();
        let mut shared = self.lock();
        let may_probe = match shared.state {
            State::Closed(_) => {
                return Some(Permit {
                    breaker: self,
                    probe: None,
                });
            }
            State::Open(until) => now >= until,
            State::Probing { deadline, .. } => now >= deadline,
        };
        if !may_probe {
            return None;
        }
        shared.probes += 1;
        let probe = shared.probes;
        self.set(
            &mut shared,
            State::Probing {
                probe,
                deadline: now + self.probe_deadline,
            },
        );
        Some(Permit {
            breaker: self,
            probe: Some(probe),
        })
    }

    /// Whether calls are being skipped.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::SeqCst)
    }

    /// A call succeeded.
    pub fn success(&self) -> Transition {
        let mut shared = self.lock();
        let was_open = !matches!(shared.state, State::Closed(_));
        self.set(&mut shared, State::Closed(0));
        if was_open {
            Transition::Recovered
        } else {
            Transition::None
        }
    }

    /// A call (or other work against Redis) failed or timed out.
    pub fn failure(&self) -> Transition {
        let now = self.clock.now();
        let mut shared = self.lock();
        match shared.state {
            State::Closed(failures) if failures + 1 >= self.threshold => {
                self.set(&mut shared, State::Open(now + self.cooldown));
                Transition::Opened
            }
            State::Closed(failures) => {
                self.set(&mut shared, State::Closed(failures + 1));
                Transition::None
            }
            State::Probing { .. } | State::Open(_) => {
                self.set(&mut shared, State::Open(now + self.cooldown));
                Transition::None
            }
        }
    }

    /// Probe `probe` went away without reporting: if it is still the one
    /// out, the next call probes instead.
    fn abandon(&self, probe: u64) {
        let now = self.clock.now();
        let mut shared = self.lock();
        if matches!(shared.state, State::Probing { probe: current, .. } if current == probe) {
            self.set(&mut shared, State::Open(now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that moves only when told to.
    #[derive(Clone)]
    struct ManualClock(Arc<Mutex<Instant>>);

    impl ManualClock {
        fn advance(&self, by: Duration) {
            *self.0.lock().unwrap() += by;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            *self.0.lock().unwrap()
        }
    }

    const COOLDOWN: Duration = Duration::from_secs(5);
    const PROBE_DEADLINE: Duration = Duration::from_millis(100);
    const TICK: Duration = Duration::from_millis(1);

    fn breaker(threshold: u32) -> (Breaker, ManualClock) {
        let clock = ManualClock(Arc::new(Mutex::new(Instant::now())));
        let breaker =
            Breaker::with_clock(threshold, COOLDOWN, PROBE_DEADLINE, Arc::new(clock.clone()));
        (breaker, clock)
    }

    #[test]
    fn opens_after_the_threshold_then_probes_after_the_cooldown() {
        let (breaker, clock) = breaker(3);
        assert_eq!(breaker.failure(), Transition::None);
        assert_eq!(breaker.failure(), Transition::None);
        assert!(breaker.allow().is_some());
        assert_eq!(breaker.failure(), Transition::Opened);
        assert!(breaker.allow().is_none(), "open: Redis is left alone");
        clock.advance(COOLDOWN - TICK);
        assert!(breaker.allow().is_none(), "still cooling down");

        clock.advance(TICK);
        let probe = breaker.allow().expect("one probe after the cooldown");
        assert!(breaker.allow().is_none(), "only one");
        assert!(breaker.is_open());
        assert_eq!(probe.success(), Transition::Recovered);
        assert!(breaker.allow().is_some());
        assert!(!breaker.is_open());
    }

    #[test]
    fn a_failed_probe_reopens_for_a_whole_cooldown() {
        let (breaker, clock) = breaker(1);
        assert_eq!(breaker.failure(), Transition::Opened);
        clock.advance(COOLDOWN);
        let probe = breaker.allow().expect("a probe");
        clock.advance(PROBE_DEADLINE / 2);
        assert_eq!(probe.failure(), Transition::None);

        clock.advance(COOLDOWN - TICK);
        assert!(
            breaker.allow().is_none(),
            "the cooldown restarts at the failure"
        );
        clock.advance(TICK);
        assert!(breaker.allow().is_some());
    }

    #[test]
    fn a_success_resets_the_count() {
        let (breaker, _) = breaker(2);
        breaker.failure();
        breaker.success();
        assert_eq!(breaker.failure(), Transition::None);
        assert!(breaker.allow().is_some());
    }

    #[test]
    fn a_dropped_probe_lets_the_next_call_probe() {
        let (breaker, clock) = breaker(1);
        breaker.failure();
        clock.advance(COOLDOWN);
        let probe = breaker.allow().expect("a probe");
        assert!(breaker.allow().is_none());

        // Its request went away: the future holding the permit is dropped.
        drop(probe);

        let next = breaker
            .allow()
            .expect("the next call probes, with no time passing");
        assert!(breaker.allow().is_none(), "still one probe at a time");
        assert_eq!(next.success(), Transition::Recovered);
    }

    #[test]
    fn a_probe_that_never_reports_is_replaced_after_its_deadline() {
        let (breaker, clock) = breaker(1);
        breaker.failure();
        clock.advance(COOLDOWN);
        let stuck = breaker.allow().expect("a probe");

        clock.advance(PROBE_DEADLINE - TICK);
        assert!(breaker.allow().is_none(), "the probe still has time");
        clock.advance(TICK);
        let next = breaker
            .allow()
            .expect("past its deadline, another call probes");
        assert!(breaker.allow().is_none(), "one probe at a time");

        // The late probe finally goes away: the current one stays out.
        drop(stuck);
        assert!(breaker.allow().is_none());
        assert_eq!(next.success(), Transition::Recovered);
        assert!(!breaker.is_open());
    }
}
