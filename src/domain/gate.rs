//! Shares of the database pool for the calls that run member queries (`list`, `find`,
//! `stat`): a caller-chosen filter can make such a call the heaviest work the service does,
//! so one user, and one client address, may run at most `share` of them at once, and all of
//! them together at most `all`, which leaves a quarter of the pool (at least one connection)
//! to sign-ins, token checks and every other call. A query over a share waits its turn for at
//! most `QUERY_WAIT`, then is answered UNAVAILABLE: the flood slows its own sender.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{DomainId, UserId};
use crate::error::{Error, Result};

/// The longest a query waits for its turn under the shares.
pub const QUERY_WAIT: Duration = Duration::from_secs(2);

/// Whose share a query counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Holder {
    /// A user of a domain.
    User(DomainId, UserId),
    /// A client address (an IPv6 client by its /64).
    Address(IpAddr),
}

/// The shares of member queries (see the module's description).
#[derive(Debug)]
pub struct QueryGate {
    all: Arc<Semaphore>,
    share: usize,
    holders: Mutex<HashMap<Holder, Arc<Semaphore>>>,
}

impl QueryGate {
    /// Shares of a pool of `pool_size` connections: half of it for one user or one address,
    /// three quarters for all queries together (at least one each).
    pub fn new(pool_size: u32) -> Self {
        let pool = usize::try_from(pool_size.max(1)).unwrap_or(usize::MAX);
        let reserved = (pool / 4).max(1);
        Self {
            all: Arc::new(Semaphore::new(pool.saturating_sub(reserved).max(1))),
            share: (pool / 2).max(1),
            holders: Mutex::default(),
        }
    }

    /// Waits for the turn of `user` (domain id, user id) to run one query from `client`; the
    /// turn lasts until the returned slot is dropped.
    pub async fn admit(
        &self,
        (domain_id, user_id): (&DomainId, &UserId),
        client: Option<IpAddr>,
    ) -> Result<QuerySlot<'_>> {
        let deadline = tokio::time::Instant::now() + QUERY_WAIT;
        let mut slot = QuerySlot {
            gate: self,
            holders: Vec::with_capacity(2),
            permits: Vec::with_capacity(3),
        };
        let user = Holder::User(domain_id.clone(), user_id.clone());
        let holders = [
            Some((user, "too many queries in progress for this user")),
            client.map(|client| {
                (
                    Holder::Address(client),
                    "too many queries in progress from this address",
                )
            }),
        ];
        for (holder, refusal) in holders.into_iter().flatten() {
            let semaphore = self.semaphore(&holder);
            slot.holders.push(holder);
            slot.permits.push(turn(semaphore, deadline, refusal).await?);
        }
        slot.permits.push(
            turn(
                self.all.clone(),
                deadline,
                "too many queries in progress on this server",
            )
            .await?,
        );
        Ok(slot)
    }

    fn semaphore(&self, holder: &Holder) -> Arc<Semaphore> {
        self.lock()
            .entry(holder.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(self.share)))
            .clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Holder, Arc<Semaphore>>> {
        self.holders.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn turn(
    semaphore: Arc<Semaphore>,
    deadline: tokio::time::Instant,
    refusal: &'static str,
) -> Result<OwnedSemaphorePermit> {
    match tokio::time::timeout_at(deadline, semaphore.acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_)) | Err(_) => Err(Error::Busy(refusal)),
    }
}

/// One query's turn; dropping it gives the turn back.
pub struct QuerySlot<'g> {
    gate: &'g QueryGate,
    holders: Vec<Holder>,
    permits: Vec<OwnedSemaphorePermit>,
}

impl Drop for QuerySlot<'_> {
    fn drop(&mut self) {
        self.permits.clear();
        let mut holders = self.gate.lock();
        for holder in &self.holders {
            // Only the map holds it: no query runs or waits under it any more.
            if holders
                .get(holder)
                .is_some_and(|semaphore| Arc::strong_count(semaphore) == 1)
            {
                holders.remove(holder);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_leave_a_quarter_of_the_pool() {
        let gate = QueryGate::new(16);
        assert_eq!(gate.share, 8);
        assert_eq!(gate.all.available_permits(), 12);
        let gate = QueryGate::new(4);
        assert_eq!(gate.share, 2);
        assert_eq!(gate.all.available_permits(), 3);
        let gate = QueryGate::new(1);
        assert_eq!(gate.share, 1);
        assert_eq!(gate.all.available_permits(), 1);
    }
}
