//! The cache of user records that token verification reads on every authenticated call.
//!
//! Bounded (`CAPACITY_BYTES` of records by their estimated size, at most `CAPACITY`
//! records; least recently used out first) and exact for this process:
//! every repository function that writes a user's row or its domain-wide binding evicts
//! the record, at once and again when its transaction commits. A read that raced such a
//! write cannot put the old record back: each write moves a generation counter of its
//! key's stripe, and a record read under an older generation is not kept.
//!
//! Writes made by another process (another replica, the command line) are seen when the
//! record's `MAX_AGE` runs out: a record is served for at most one second after it was read
//! from the database, so a password change, disable or delete anywhere ends the user's
//! tokens on every replica within a second.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use quick_cache::{Equivalent, Weighter, sync::Cache};

use crate::domain::{DomainId, User, UserId};

/// How long a record read from the database is served; the bound on how late a write made
/// by another process is seen.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Most records kept.
pub const CAPACITY: usize = 10_000;

/// Most bytes of records kept, as `weight` estimates them: about 1 KiB for a record without
/// tags, up to 80 KiB for one with 16 KiB of them.
pub const CAPACITY_BYTES: u64 = 16 << 20;

/// Generation counters; a write moves its key's, which voids reads in flight for any key
/// of that stripe.
const STRIPES: usize = 64;

/// The key of a cached record: a user of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    domain_id: DomainId,
    user_id: UserId,
}

/// A borrowed `Key`, to look one up without allocating.
struct KeyRef<'a> {
    domain_id: &'a DomainId,
    user_id: &'a UserId,
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        KeyRef::from(self).hash(state);
    }
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.domain_id.hash(state);
        self.user_id.hash(state);
    }
}

impl<'a> From<&'a Key> for KeyRef<'a> {
    fn from(key: &'a Key) -> Self {
        Self {
            domain_id: &key.domain_id,
            user_id: &key.user_id,
        }
    }
}

impl Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        *self.domain_id == key.domain_id && *self.user_id == key.user_id
    }
}

/// A record, when it was read, and what it weighs.
#[derive(Clone)]
struct Entry {
    user: Arc<User>,
    read_at: Instant,
    weight: u64,
}

#[derive(Clone)]
struct ByWeight;

impl Weighter<Key, Entry> for ByWeight {
    fn weight(&self, _: &Key, entry: &Entry) -> u64 {
        entry.weight
    }
}

/// What a record costs in memory, roughly: its strings, and its tags at four times their
/// JSON text (a parsed JSON tree is larger than its text).
fn weight(user: &User) -> u64 {
    let tags = serde_json::to_vec(user.tags.as_map()).map_or(0, |json| json.len());
    let strings = user.domain_id.as_str().len()
        + user.user_id.as_str().len()
        + user.name.as_str().len()
        + user.email.as_ref().map_or(0, |email| email.as_str().len())
        + user.password_hash.as_ref().map_or(0, String::len)
        + 16 * user.required_actions.len();
    (1024 + 2 * strings + 4 * tags) as u64
}

/// What a read from the database must show to have its record kept: the generation of its
/// key's stripe before the read began.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    stripe: usize,
    generation: u64,
}

/// See the module documentation.
pub struct UserCache {
    entries: Cache<Key, Entry, ByWeight>,
    generations: [Mutex<u64>; STRIPES],
}

impl std::fmt::Debug for UserCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCache")
            .field("records", &self.entries.len())
            .finish()
    }
}

impl Default for UserCache {
    fn default() -> Self {
        Self {
            entries: Cache::with_weighter(CAPACITY, CAPACITY_BYTES, ByWeight),
            generations: std::array::from_fn(|_| Mutex::new(0)),
        }
    }
}

impl UserCache {
    /// The record of a user, if one read less than `MAX_AGE` ago is held.
    pub fn get(&self, domain_id: &DomainId, user_id: &UserId) -> Option<Arc<User>> {
        let key = KeyRef { domain_id, user_id };
        self.entries
            .get(&key)
            .filter(|entry| entry.read_at.elapsed() < MAX_AGE)
            .map(|entry| entry.user)
    }

    /// Taken before reading a user from the database, to `keep` what was read.
    pub fn ticket(&self, domain_id: &DomainId, user_id: &UserId) -> Ticket {
        let stripe = stripe(domain_id, user_id);
        Ticket {
            stripe,
            generation: *self.generation(stripe),
        }
    }

    /// Keeps a record read from the database after `ticket` was taken, and read no earlier
    /// than `read_at`, unless a write to its stripe came in between.
    pub fn keep(&self, ticket: Ticket, user: Arc<User>, read_at: Instant) {
        let generation = self.generation(ticket.stripe);
        if *generation == ticket.generation {
            let key = Key {
                domain_id: user.domain_id.clone(),
                user_id: user.user_id.clone(),
            };
            let weight = weight(&user);
            self.entries.insert(
                key,
                Entry {
                    user,
                    read_at,
                    weight,
                },
            );
        }
    }

    /// Forgets a user's record: it was written.
    pub fn evict(&self, domain_id: &DomainId, user_id: &UserId) {
        let stripe = stripe(domain_id, user_id);
        let mut generation = self.generation(stripe);
        *generation += 1;
        self.entries.remove(&KeyRef { domain_id, user_id });
    }

    /// Forgets every record: a write touched users it cannot name one by one.
    pub fn evict_all(&self) {
        let mut guards: Vec<_> = (0..STRIPES).map(|stripe| self.generation(stripe)).collect();
        for generation in &mut guards {
            **generation += 1;
        }
        self.entries.clear();
    }

    /// How many records are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn generation(&self, stripe: usize) -> std::sync::MutexGuard<'_, u64> {
        self.generations[stripe]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn stripe(domain_id: &DomainId, user_id: &UserId) -> usize {
    let mut hasher = std::hash::DefaultHasher::new();
    KeyRef { domain_id, user_id }.hash(&mut hasher);
    (hasher.finish() % STRIPES as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AuthType, CredentialStamp, Language, Name, Tags, Timezone, UserState};

    fn user(domain_id: &DomainId, user_id: &UserId, version: i64) -> Arc<User> {
        Arc::new(User {
            domain_id: domain_id.clone(),
            user_id: user_id.clone(),
            name: Name::from_stored(String::new()),
            state: UserState::Enabled,
            email: None,
            email_verified: false,
            auth_type: AuthType::Local,
            password_hash: None,
            password_changed_at: None,
            stamp: CredentialStamp {
                account_id: "a".into(),
                version,
            },
            domain_role: None,
            mfa: None,
            language: Language::from_stored("en".into()),
            timezone: Timezone::from_stored("UTC".into()),
            required_actions: Vec::new(),
            refresh_timeout: 0,
            tags: Tags::default(),
            created_at: chrono::Utc::now(),
            last_accessed_at: None,
        })
    }

    #[test]
    fn a_record_read_before_a_write_is_not_kept() {
        let cache = UserCache::default();
        let ticket = cache.ticket(&DomainId::new("d"), &UserId::new("u"));
        // The write lands while the read is in flight.
        cache.evict(&DomainId::new("d"), &UserId::new("u"));
        cache.keep(
            ticket,
            user(&DomainId::new("d"), &UserId::new("u"), 1),
            Instant::now(),
        );
        assert!(cache.get(&DomainId::new("d"), &UserId::new("u")).is_none());
        // A read that starts after the write is kept.
        let ticket = cache.ticket(&DomainId::new("d"), &UserId::new("u"));
        cache.keep(
            ticket,
            user(&DomainId::new("d"), &UserId::new("u"), 2),
            Instant::now(),
        );
        assert_eq!(
            cache
                .get(&DomainId::new("d"), &UserId::new("u"))
                .unwrap()
                .stamp
                .version,
            2
        );
        cache.evict_all();
        assert!(cache.get(&DomainId::new("d"), &UserId::new("u")).is_none());
    }

    #[test]
    fn records_are_served_for_max_age_only_and_keys_do_not_mix() {
        let cache = UserCache::default();
        let old = Instant::now().checked_sub(MAX_AGE).unwrap();
        cache.keep(
            cache.ticket(&DomainId::new("d"), &UserId::new("old")),
            user(&DomainId::new("d"), &UserId::new("old"), 1),
            old,
        );
        assert!(
            cache
                .get(&DomainId::new("d"), &UserId::new("old"))
                .is_none()
        );
        cache.keep(
            cache.ticket(&DomainId::new("d"), &UserId::new("ab")),
            user(&DomainId::new("d"), &UserId::new("ab"), 1),
            Instant::now(),
        );
        assert!(cache.get(&DomainId::new("da"), &UserId::new("b")).is_none());
        assert!(cache.get(&DomainId::new("d"), &UserId::new("ab")).is_some());
    }

    #[test]
    fn records_with_large_tags_weigh_more_and_the_total_stays_bounded() {
        let cache = UserCache::default();
        let mut heavy = (*user(&DomainId::new("d"), &UserId::new("heavy"), 1)).clone();
        let big = serde_json::json!({ "note": "x".repeat(16 * 1024 - 16) });
        heavy.tags = Tags::from_json(big);
        assert!(weight(&heavy) > 64 * 1024);
        for i in 0..1_000 {
            let mut user = heavy.clone();
            user.user_id = UserId::new(format!("u{i}"));
            cache.keep(
                cache.ticket(&DomainId::new("d"), &user.user_id),
                Arc::new(user),
                Instant::now(),
            );
        }
        // 1,000 records of 80 KiB would be 80 MiB: far fewer are kept.
        assert!(cache.len() < 300, "{} records kept", cache.len());
        assert!(cache.entries.weight() <= CAPACITY_BYTES);
    }
}
