//! The Tokio runtime the core runs on. The napi face hands one to napi-rs (so its async
//! functions and the core share it); the C ABI face keeps one for the process, started on first
//! use, and blocks the calling thread on it.

use crate::error::{codes, CoreError};
use std::sync::OnceLock;
use tokio::runtime::{Builder, Runtime};

/// Worker threads: the core is I/O-bound (a few connections per core), so two threads are
/// plenty and keep a worker process small; `TASKER_NATIVE_THREADS` overrides.
fn worker_threads() -> usize {
    std::env::var("TASKER_NATIVE_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or(2)
}

pub fn build() -> std::io::Result<Runtime> {
    Builder::new_multi_thread()
        .worker_threads(worker_threads())
        .thread_name("tasker-native")
        .enable_all()
        .build()
}

/// The C ABI's runtime.
pub fn shared() -> Result<&'static Runtime, CoreError> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| build().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| {
            CoreError::new(
                codes::RUNTIME,
                format!("cannot start the async runtime: {e}"),
            )
        })
}
