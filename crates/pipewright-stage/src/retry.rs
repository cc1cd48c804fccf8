//! Exponential back-off with full jitter, for retrying a write that lost a race (an optimistic commit,
//! a conditional put) against other invocations of the same stage.
//!
//! After the `n`-th failure the caller waits a uniformly random time between zero and
//! `min(cap, base * 2^(n-1))`. The randomness spreads writers that failed together over the whole
//! interval, so they do not collide again on the next attempt; the cap bounds a single wait, and the
//! caller's attempt count bounds the total (see AWS's "Exponential Backoff And Jitter").

use std::time::Duration;

/// A back-off schedule: the first wait's ceiling and the largest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Backoff { base, cap }
    }

    /// The longest wait after the `failures`-th failure (1-based): `min(cap, base * 2^(failures-1))`.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let doubling = 1u32 << failures.saturating_sub(1).min(31);
        self.base.saturating_mul(doubling).min(self.cap)
    }

    /// A wait after the `failures`-th failure, uniformly random in `[0, ceiling(failures)]`.
    pub fn delay(&self, failures: u32) -> Duration {
        self.delay_with(failures, &mut fastrand::Rng::new())
    }

    /// [`Backoff::delay`] with the caller's random numbers (seeded in tests).
    pub fn delay_with(&self, failures: u32, rng: &mut fastrand::Rng) -> Duration {
        let ceiling = u64::try_from(self.ceiling(failures).as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.u64(0..=ceiling))
    }

    /// The most all waits of `attempts` attempts can add up to (the waits between them).
    pub fn total_ceiling(&self, attempts: u32) -> Duration {
        (1..attempts).map(|f| self.ceiling(f)).fold(Duration::ZERO, Duration::saturating_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));

    #[test]
    fn the_ceiling_doubles_up_to_the_cap() {
        let ms: Vec<u128> = (1..=9).map(|f| B.ceiling(f).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        assert_eq!(B.ceiling(0), Duration::from_millis(100));
        assert_eq!(B.ceiling(u32::MAX), Duration::from_secs(5));
        assert_eq!(B.total_ceiling(1), Duration::ZERO);
        assert_eq!(B.total_ceiling(4), Duration::from_millis(700));
    }

    #[test]
    fn waits_are_spread_over_the_whole_interval() {
        let mut rng = fastrand::Rng::with_seed(7);
        for failures in 1..=8 {
            let ceiling = B.ceiling(failures);
            let waits: Vec<Duration> = (0..2000).map(|_| B.delay_with(failures, &mut rng)).collect();
            assert!(waits.iter().all(|w| *w <= ceiling), "{failures}");
            // Full jitter: the waits fill [0, ceiling], not a band near the ceiling.
            let low = waits.iter().filter(|w| **w < ceiling / 4).count();
            let high = waits.iter().filter(|w| **w > ceiling * 3 / 4).count();
            assert!((400..600).contains(&low) && (400..600).contains(&high), "{failures}: {low} low, {high} high");
        }
    }
}
