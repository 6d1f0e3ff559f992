//! How failed sign-ins slow an account down. Failures are counted per account name as typed
//! (known or not, so throttling reveals nothing), consecutively, and reset by a success,
//! under two counters:
//!
//! - **per client address** (`Counter::Address`): each failure from one address past the
//!   first few makes the next attempt from there wait longer, up to a minute, and past
//!   `HARD_LIMIT` one attempt per `HARD_LIMIT_WAIT`;
//! - **per account** (`Counter::Account`), from every address: past `HARD_LIMIT` failures in
//!   a row (NIST 800-63B's ceiling), one attempt per `HARD_LIMIT_WAIT`, except from an
//!   address the account has signed in from within `FAMILIAR_FOR`.
//!
//! So an attacker's failures slow the attacker's own address, and a flood from many
//! addresses stops at the hard limit without keeping the owner out of their usual address.
//! No failure count ever locks an account for good.

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

/// Failures in a row that cost no wait.
pub const FREE_FAILURES: i32 = 5;
/// The longest wait below the hard limit.
pub const MAX_WAIT: TimeDelta = TimeDelta::seconds(60);
/// Consecutive failures after which attempts are allowed only once per `HARD_LIMIT_WAIT`.
pub const HARD_LIMIT: i32 = 100;
/// The wait between attempts past the hard limit.
pub const HARD_LIMIT_WAIT: TimeDelta = TimeDelta::minutes(15);

/// How long failed sign-ins are remembered once their wait is over.
pub const MEMORY: TimeDelta = TimeDelta::days(1);

/// How long an address stays familiar to an account after a sign-in from it.
pub const FAMILIAR_FOR: TimeDelta = TimeDelta::days(90);

/// The key an account name (`fields::account_key`) is counted under from every address: its
/// SHA-256, so a row has the same small size whatever a caller typed.
pub fn throttle_key(account_key: &str) -> String {
    hex_sha256(account_key.as_bytes())
}

/// The key an account name is counted under from one client address (`None`: the address
/// is unknown, and all such attempts share one key), and that marks the address familiar.
pub fn address_key(account_key: &str, client: Option<IpAddr>) -> String {
    let client = client.map_or_else(|| "-".to_owned(), |ip| ip.to_string());
    hex_sha256(format!("{account_key}\n{client}").as_bytes())
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Which failures a count holds (see the module's description).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Failures of an account name from one client address.
    Address,
    /// Failures of an account name from every address.
    Account,
}

impl Counter {
    /// The wait after `failures` consecutive failures under this counter.
    pub fn wait_after(self, failures: i32) -> TimeDelta {
        match self {
            Self::Address => wait_after(failures),
            Self::Account if failures >= HARD_LIMIT => HARD_LIMIT_WAIT,
            Self::Account => TimeDelta::zero(),
        }
    }
}

/// Where an account name stands: failures in a row, and when the next attempt may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInThrottle {
    /// Consecutive attempts that have not succeeded (an attempt counts when it starts).
    pub failures: i32,
    /// No attempt may start before this time.
    pub next_attempt_at: DateTime<Utc>,
}

impl SignInThrottle {
    /// How long an attempt must wait from `now`; zero when it may start.
    pub fn wait(&self, now: DateTime<Utc>) -> TimeDelta {
        (self.next_attempt_at - now).max(TimeDelta::zero())
    }

    /// The state after one more attempt starts at `now` (counted as a failure until it
    /// succeeds) under `counter`.
    pub fn after_attempt(previous: Option<&Self>, now: DateTime<Utc>, counter: Counter) -> Self {
        let failures = previous.map_or(0, |p| p.failures).saturating_add(1);
        Self {
            failures,
            next_attempt_at: now + counter.wait_after(failures),
        }
    }
}

/// The wait after `failures` consecutive failures from one address: none for the first `FREE_FAILURES`,
/// then 1 s, 2 s, 4 s, ... up to `MAX_WAIT`, and `HARD_LIMIT_WAIT` from `HARD_LIMIT` on.
pub fn wait_after(failures: i32) -> TimeDelta {
    if failures >= HARD_LIMIT {
        return HARD_LIMIT_WAIT;
    }
    match failures - FREE_FAILURES {
        ..=0 => TimeDelta::zero(),
        extra => TimeDelta::seconds(1_i64 << (extra - 1).min(20)).min(MAX_WAIT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_a_cap_and_never_lock_for_good() {
        assert_eq!(wait_after(1), TimeDelta::zero());
        assert_eq!(wait_after(FREE_FAILURES), TimeDelta::zero());
        assert_eq!(wait_after(FREE_FAILURES + 1), TimeDelta::seconds(1));
        assert_eq!(wait_after(FREE_FAILURES + 3), TimeDelta::seconds(4));
        assert_eq!(wait_after(FREE_FAILURES + 7), MAX_WAIT);
        assert_eq!(wait_after(HARD_LIMIT - 1), MAX_WAIT);
        assert_eq!(wait_after(HARD_LIMIT), HARD_LIMIT_WAIT);
        assert_eq!(wait_after(i32::MAX), HARD_LIMIT_WAIT);
        let now = Utc::now();
        let throttle = SignInThrottle::after_attempt(None, now, Counter::Address);
        assert_eq!(throttle.failures, 1);
        assert_eq!(throttle.wait(now), TimeDelta::zero());
        assert_eq!(
            Counter::Account.wait_after(HARD_LIMIT - 1),
            TimeDelta::zero()
        );
        assert_eq!(Counter::Account.wait_after(HARD_LIMIT), HARD_LIMIT_WAIT);
    }

    #[test]
    fn address_keys_differ_by_address_and_account() {
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let two: IpAddr = "192.0.2.2".parse().unwrap();
        assert_ne!(address_key("bob", Some(one)), address_key("bob", Some(two)));
        assert_ne!(
            address_key("bob", Some(one)),
            address_key("alice", Some(one))
        );
        assert_ne!(address_key("bob", Some(one)), throttle_key("bob"));
        assert_eq!(address_key("bob", None), address_key("bob", None));
    }
}
