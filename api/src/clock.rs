//! The server's time for deadlines: the system clock, which tests move
//! forward to reach a deadline without waiting for it. Only what depends
//! on deadlines reads it (overdue referrals, the expiry job); records keep
//! their device times and the server's `Utc::now()` stamps.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use chrono::{DateTime, Duration, Utc};

/// The system clock, plus however far it was moved forward (never, in
/// production: nothing but a test calls [`Clock::advance`]).
#[derive(Clone, Default, Debug)]
pub struct Clock {
    ahead_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.ahead_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every clone of it) forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.ahead_ms.fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}
