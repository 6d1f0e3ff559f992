//! The time every expiry is decided against: the system clock in production, a clock tests
//! can move in tests, so no test sleeps to watch a token or a code expire.

use chrono::{DateTime, Utc};

#[cfg(any(test, feature = "testing"))]
pub use shifted::ShiftedClock;

/// Tells the time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The clock the tests move, built for them only.
#[cfg(any(test, feature = "testing"))]
mod shifted {
    use std::sync::atomic::{AtomicI64, Ordering};

    use chrono::{DateTime, TimeDelta, Utc};

    use super::Clock;

    /// The system's clock shifted by an offset that tests move forward (or back): time still
    /// passes as usual between moves.
    #[derive(Debug, Default)]
    pub struct ShiftedClock {
        offset_ms: AtomicI64,
    }

    impl ShiftedClock {
        /// A clock that starts at the system's time.
        pub fn new() -> Self {
            Self::default()
        }

        /// Moves the clock by `delta` (negative moves it back).
        pub fn advance(&self, delta: TimeDelta) {
            self.offset_ms
                .fetch_add(delta.num_milliseconds(), Ordering::SeqCst);
        }
    }

    impl Clock for ShiftedClock {
        fn now(&self) -> DateTime<Utc> {
            Utc::now() + TimeDelta::milliseconds(self.offset_ms.load(Ordering::SeqCst))
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn a_shifted_clock_moves_by_what_it_is_told() {
        let clock = ShiftedClock::new();
        let before = clock.now();
        clock.advance(TimeDelta::hours(3));
        let after = clock.now();
        assert!(after - before >= TimeDelta::hours(3));
        assert!(after - before < TimeDelta::hours(3) + TimeDelta::seconds(5));
    }
}
