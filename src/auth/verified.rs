//! Access tokens whose signature and immutable claims have been checked, so a token used
//! again costs a lookup instead of an RSA verification. A token cannot change until it
//! expires, so nothing here goes stale: its times are checked against the clock and its
//! account against the user's record on every use, as for a token seen the first time.

use std::sync::Arc;

use quick_cache::{Weighter, sync::Cache};

use super::Claims;

/// Bytes of tokens (and of their claims, counted as `CLAIMS_WEIGHT` each) kept at most.
pub const CAPACITY_BYTES: u64 = 8 << 20;

/// What a token's decoded claims are counted as, on top of the token's own length.
const CLAIMS_WEIGHT: u64 = 512;

/// Tokens no longer than this are kept; a longer one is verified every time.
const LONGEST_KEPT: usize = 16 << 10;

#[derive(Clone)]
struct ByLength;

impl Weighter<String, Arc<Claims>> for ByLength {
    fn weight(&self, token: &String, _: &Arc<Claims>) -> u64 {
        token.len() as u64 + CLAIMS_WEIGHT
    }
}

/// See the module documentation. Bounded by `CAPACITY_BYTES`; the least recently used
/// tokens go first.
pub struct VerifiedTokens {
    tokens: Cache<String, Arc<Claims>, ByLength>,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        let expected_tokens = (CAPACITY_BYTES / (1024 + CLAIMS_WEIGHT)) as usize;
        Self {
            tokens: Cache::with_weighter(expected_tokens, CAPACITY_BYTES, ByLength),
        }
    }
}

impl VerifiedTokens {
    /// The claims of `token`, if it was verified before.
    pub fn get(&self, token: &str) -> Option<Arc<Claims>> {
        self.tokens.get(token)
    }

    /// Remembers the claims of `token`, just verified.
    pub fn insert(&self, token: &str, claims: Arc<Claims>) {
        if token.len() <= LONGEST_KEPT {
            self.tokens.insert(token.to_owned(), claims);
        }
    }
}
