//! Tasker's native worker core: the hot path of a worker (claim → hand out → report) over the
//! SQL protocol in migrations/, with two faces on one core:
//!
//! - `napi_face`: a napi-rs addon (`NativeWorkerCore`), loaded by Node, Bun and Deno;
//! - `c_abi`: `extern "C"` functions returning JSON envelopes (include/tasker.h), loaded by
//!   koffi, `bun:ffi` and `Deno.dlopen`.
//!
//! Both are compiled into the one cdylib; README.md explains why that is safe for C callers.

pub mod backoff;
pub mod book;
pub mod c_abi;
pub mod claim_loop;
pub mod claim_size;
pub mod completion;
pub mod config;
pub mod core;
pub mod db;
pub mod envelope;
pub mod error;
pub mod heartbeat;
pub mod listener;
mod log;
pub mod napi_face;
pub mod profile;
pub mod registry;
pub mod report;
pub mod reporter;
pub mod runtime;
pub mod shared;
pub mod stats;

/// Largest string argument accepted by either face (64 MiB).
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;
