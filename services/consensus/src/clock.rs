//! The driver's clock, injectable: the system clock in production, and a virtual one for
//! deterministic tests. Under `tokio::time::pause` (a current-thread runtime started paused) a
//! [`VirtualClock`] follows tokio's virtual time, so the driver's timers, the engine's `now` and
//! block timestamps all move together in virtual time, and a driver test runs without waiting
//! in real time and the same way every time.

use std::sync::Arc;
use std::time::SystemTime;

use coinjecture_primitives::UnixMillis;

/// Reads the time.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> UnixMillis;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> UnixMillis {
        UnixMillis::from_system_time(SystemTime::now())
    }
}

/// `base_ms` plus the tokio time elapsed since it was made (virtual under `tokio::time::pause`).
#[derive(Debug, Clone, Copy)]
pub struct VirtualClock {
    base_ms: UnixMillis,
    start: tokio::time::Instant,
}

impl VirtualClock {
    /// A clock that reads `base_ms` now.
    pub fn starting_at(base_ms: UnixMillis) -> Self {
        Self { base_ms, start: tokio::time::Instant::now() }
    }
}

impl Clock for VirtualClock {
    fn now_ms(&self) -> UnixMillis {
        self.base_ms.saturating_add(self.start.elapsed())
    }
}

tokio::task_local! {
    /// The clock of the driver task running in this scope.
    static CLOCK: Arc<dyn Clock>;
}

/// The current driver's clock (the system clock outside a driver task).
pub(crate) fn now_ms() -> UnixMillis {
    CLOCK.try_with(|c| c.now_ms()).unwrap_or_else(|_| SystemClock.now_ms())
}

/// Runs `future` with `clock` as the driver clock.
pub(crate) async fn with_clock<F: std::future::Future>(clock: Arc<dyn Clock>, future: F) -> F::Output {
    CLOCK.scope(clock, future).await
}
