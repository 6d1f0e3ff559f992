//! Passwords: the policy a new password must meet, and bcrypt hashing kept off the async
//! workers. This is the only place that calls bcrypt, so no handler can forget either.

use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicUsize, Ordering},
    mpsc,
};

use tokio::sync::{OnceCell, Semaphore};

use crate::error::{Error, Result};

/// bcrypt reads at most 72 bytes; longer inputs are refused rather than silently truncated.
const MAX_BYTES: usize = 72;

/// A new password that meets the policy: at least 8 characters with a lower-case letter, an
/// upper-case letter and a digit, and fewer than 72 bytes.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Checks a new password against the policy.
    /// A new random password that meets the policy: 16 characters from the OS random
    /// source, with a lower-case letter, an upper-case letter and a digit.
    pub fn temporary() -> Result<Self> {
        use rand::{TryRngCore, rngs::OsRng};
        const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        loop {
            let mut bytes = [0u8; 16];
            OsRng
                .try_fill_bytes(&mut bytes)
                .map_err(|err| Error::internal(format!("the OS random source failed: {err}")))?;
            // 56 letters: 256 = 4 * 56 + 32, so bytes from 224 up are skipped to stay uniform.
            if bytes.iter().any(|b| *b >= 224) {
                continue;
            }
            let text: String = bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
                .collect();
            if let Ok(password) = Self::parse(&text) {
                return Ok(password);
            }
        }
    }

    /// A password as given, checked against the policy.
    pub fn parse(value: &str) -> Result<Self> {
        if value.is_empty() {
            return Err(Error::required("password"));
        }
        let reason = if value.chars().count() < 8 {
            Some("must be at least 8 characters long")
        } else if value.len() >= MAX_BYTES {
            Some("must be shorter than 72 bytes")
        } else if value.chars().any(char::is_control) {
            // A NUL ends the password early in most bcrypt libraries (another service
            // checking the same hash would see a shorter one), and no keyboard types these.
            Some("must not contain control characters")
        } else if !value.chars().any(|c| c.is_lowercase()) {
            Some("must contain a lower-case letter")
        } else if !value.chars().any(|c| c.is_uppercase()) {
            Some("must contain an upper-case letter")
        } else if !value.chars().any(|c| c.is_ascii_digit()) {
            Some("must contain a digit")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::invalid("password", reason)),
            None => Ok(Self(value.to_owned())),
        }
    }

    /// The password's text, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Hashes and verifies passwords with bcrypt on threads of its own, at most `concurrency`
/// at a time, so a burst of sign-ins cannot starve the runtime; at most `queue` more wait
/// for a turn, and beyond that a call is answered at once (UNAVAILABLE) instead of waiting
/// until it times out. The threads run at a lower CPU priority than everything else
/// (nice `BCRYPT_NICE` on Linux): bcrypt takes every idle cycle, but a call that needs no
/// password is not kept waiting behind one.
#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    threads: Arc<BcryptThreads>,
    permits: Arc<Semaphore>,
    admission: Arc<Semaphore>,
    /// Places under `admission`: running and waiting together.
    places: usize,
    dummy_hash: Arc<OnceCell<String>>,
    running: Arc<AtomicUsize>,
    computed: Arc<AtomicUsize>,
}

impl PasswordHasher {
    /// A hasher with bcrypt `cost` (4 to 31), at most `concurrency` hashes at once and at
    /// most `queue` waiting for a turn.
    pub fn new(cost: u32, concurrency: usize, queue: usize) -> Result<Self> {
        if !(4..=31).contains(&cost) {
            return Err(Error::invalid("bcrypt_cost", "must be between 4 and 31"));
        }
        Ok(Self {
            cost,
            threads: Arc::new(BcryptThreads::start(concurrency.max(1))?),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            admission: Arc::new(Semaphore::new(concurrency.max(1) + queue)),
            places: concurrency.max(1) + queue,
            dummy_hash: Arc::new(OnceCell::new()),
            running: Arc::new(AtomicUsize::new(0)),
            computed: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The bcrypt hash of a new password.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let (cost, text) = (self.cost, password.expose().to_owned());
        self.run(move || bcrypt::hash(text, cost).map_err(Error::internal))
            .await
    }

    /// Whether `hash` was made with another cost than new hashes get. Checking a password
    /// against it takes another time than the dummy hash an unknown user is checked against,
    /// so it is replaced at the user's next sign-in (`rehash`).
    pub fn needs_rehash(&self, hash: &str) -> bool {
        let cost = hash
            .split('$')
            .nth(2)
            .and_then(|cost| cost.parse::<u32>().ok());
        cost != Some(self.cost)
    }

    /// A fresh hash, at this hasher's cost, of a password that has just been checked against
    /// its old hash (so it is not held to today's password policy).
    pub async fn rehash(&self, checked: &str) -> Result<String> {
        let (cost, text) = (self.cost, checked.to_owned());
        self.run(move || bcrypt::hash(text, cost).map_err(Error::internal))
            .await
    }

    /// Whether `candidate` matches `hash`. With no hash (an unknown user, or one without a
    /// password) a dummy hash is checked instead, so the answer takes as long either way.
    pub async fn verify(&self, candidate: &str, hash: Option<&str>) -> Result<bool> {
        let (hash, known) = match hash {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash().await?, false),
        };
        // Never truncated: a too-long candidate is checked for time's sake, then refused.
        let acceptable = candidate.len() < MAX_BYTES;
        let text = if acceptable {
            candidate.to_owned()
        } else {
            String::new()
        };
        let matched = self
            .run(move || Ok(bcrypt::verify(text, &hash).unwrap_or(false)))
            .await?;
        Ok(known && acceptable && matched)
    }

    /// Makes the dummy hash now, so the first sign-in of an unknown user does not pay for
    /// it (and take longer than a known user's).
    pub async fn prepare(&self) -> Result<()> {
        self.dummy_hash().await.map(|_| ())
    }

    async fn dummy_hash(&self) -> Result<String> {
        let cost = self.cost;
        self.dummy_hash
            .get_or_try_init(|| async {
                self.run(move || {
                    bcrypt::hash(crate::domain::ids::random_hex(16), cost).map_err(Error::internal)
                })
                .await
            })
            .await
            .cloned()
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        // Admission bounds the running and the waiting together; both permits move into
        // the blocking task, so a caller that gives up (a timeout, a cancel) frees its place
        // in the queue at once and its slot only when its bcrypt has really finished.
        let admitted = self
            .admission
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::Busy("every password check is in use"))?;
        let slot = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(Error::internal)?;
        let (running, computed) = (self.running.clone(), self.computed.clone());
        let (done, result) = tokio::sync::oneshot::channel();
        self.threads.run(Box::new(move || {
            running.fetch_add(1, Ordering::SeqCst);
            let result = work();
            running.fetch_sub(1, Ordering::SeqCst);
            computed.fetch_add(1, Ordering::SeqCst);
            // The turn is free before the caller hears back.
            drop((admitted, slot));
            let _ = done.send(result);
        }))?;
        result
            .await
            .map_err(|_| Error::internal("a bcrypt computation failed"))?
    }

    /// How many bcrypt computations have finished since start.
    pub fn computed(&self) -> usize {
        self.computed.load(Ordering::SeqCst)
    }

    /// How many bcrypt computations are running right now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// How many password checks and hashes are waiting for a turn right now.
    pub fn queued(&self) -> usize {
        self.places
            .saturating_sub(self.admission.available_permits())
            .saturating_sub(self.running())
    }
}

/// How much lower than the rest of the process bcrypt threads run, as a nice increment.
pub const BCRYPT_NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// The threads bcrypt runs on; they end when the last hasher is dropped.
struct BcryptThreads {
    jobs: mpsc::Sender<Job>,
}

impl BcryptThreads {
    fn start(count: usize) -> Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..count {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("spaceid-bcrypt-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok(job) = next else { return };
                        // A job that panics drops its reply, and its caller hears of it; the
                        // thread goes on.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })
                .map_err(|err| Error::internal(format!("cannot start a bcrypt thread: {err}")))?;
        }
        Ok(Self { jobs })
    }

    fn run(&self, job: Job) -> Result<()> {
        self.jobs
            .send(job)
            .map_err(|_| Error::internal("the bcrypt threads have stopped"))
    }
}

/// Lowers the calling thread's CPU priority by `BCRYPT_NICE` (Linux keeps a nice value per
/// thread). Where that fails, bcrypt runs at normal priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        let now = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
        if let Err(error) = rustix::process::setpriority_process(Some(tid), now + BCRYPT_NICE) {
            tracing::debug!(%error, "cannot lower the priority of a bcrypt thread");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_passwords_meet_the_policy_and_differ() {
        let a = Password::temporary().unwrap();
        let b = Password::temporary().unwrap();
        assert_eq!(a.expose().len(), 16);
        assert_ne!(a.expose(), b.expose());
        assert!(Password::parse(a.expose()).is_ok());
    }

    #[test]
    fn hashes_of_another_cost_need_a_rehash() {
        let hasher = PasswordHasher::new(5, 1, 1).unwrap();
        assert!(!hasher.needs_rehash(&bcrypt::hash("x", 5).unwrap()));
        assert!(hasher.needs_rehash(&bcrypt::hash("x", 4).unwrap()));
        assert!(hasher.needs_rehash("not a hash"));
    }

    #[test]
    fn the_policy_names_what_is_missing() {
        assert!(Password::parse("Passw0rd").is_ok());
        let reason = |value: &str| match Password::parse(value) {
            Err(Error::InvalidParameter { key, reason }) => {
                assert_eq!(key, "password");
                reason
            }
            other => panic!("{value}: {other:?}"),
        };
        assert!(reason("Pa5s").contains("8 characters"));
        assert!(reason("PASSW0RDX").contains("lower-case"));
        assert!(reason("passw0rdx").contains("upper-case"));
        assert!(reason("Passwordx").contains("digit"));
        assert!(reason("Pass\0w0rdx").contains("control characters"));
        assert!(reason("Pass\tw0rdx").contains("control characters"));
        assert!(reason(&format!("Pa5{}", "s".repeat(69))).contains("72 bytes"));
        assert!(Password::parse(&format!("Pa5{}", "s".repeat(68))).is_ok());
        assert!(matches!(
            Password::parse(""),
            Err(Error::RequiredParameter { .. })
        ));
    }

    #[test]
    fn a_password_never_prints() {
        let password = Password::parse("Sup3rSecret").unwrap();
        assert!(!format!("{password:?}").contains("Sup3r"));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn bcrypt_runs_below_the_priority_of_the_rest() {
        let ours = || rustix::process::getpriority_process(Some(rustix::thread::gettid()));
        let here = ours().unwrap();
        let hasher = PasswordHasher::new(4, 1, 1).unwrap();
        let there = hasher.run(move || Ok(ours().unwrap())).await.unwrap();
        assert_eq!(there, (here + BCRYPT_NICE).min(19));
    }

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let hasher = PasswordHasher::new(4, 2, 8).unwrap();
        let password = Password::parse("Passw0rd").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hasher.verify("Passw0rd", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("passw0rd", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("Passw0rd", None).await.unwrap());
        assert!(PasswordHasher::new(3, 1, 8).is_err());
    }
}
