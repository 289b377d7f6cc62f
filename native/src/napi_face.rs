//! The napi-rs face: the class `NativeWorkerCore` and `echo` / `echoSync`, loaded as a `.node`
//! addon by Node, Bun and Deno. sdk/src/binding/napi.ts adapts it to `WorkerCore`.
//!
//! Everything that waits (connecting, `next`, `report`, `drain`) is an async function: it
//! returns a Promise and runs on the core's Tokio runtime, never on the JavaScript thread.
//! Values cross as JSON text; failures reject with an `Error` whose message is the
//! `CoreError` JSON (`{"code","message","sqlState"?,"detail"?}`), which the adapter parses.

use crate::core::{drain_json, Core};
use crate::error::{codes, CoreError};
use crate::runtime;
use crate::MAX_INPUT_BYTES;
use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use std::sync::Arc;

/// Hands napi-rs the core's runtime before the first async call, so napi's Promises and the
/// core's tasks share one runtime with the core's thread count.
#[napi_derive::module_init]
fn init() {
    if let Ok(rt) = runtime::build() {
        napi::bindgen_prelude::create_custom_tokio_runtime(rt);
    }
    // On failure napi-rs starts its default runtime on first use; nothing else to do.
}

fn reject(error: CoreError) -> Error {
    Error::new(Status::GenericFailure, error.to_json())
}

fn check_size(name: &str, text: &str) -> Result<()> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(reject(CoreError::new(
            codes::INPUT_TOO_LARGE,
            format!("{name} is longer than {MAX_INPUT_BYTES} bytes"),
        )));
    }
    Ok(())
}

/// A running worker core (see `WorkerCore` in sdk/src/binding/types.ts).
#[napi]
pub struct NativeWorkerCore {
    core: Arc<Core>,
}

#[napi]
impl NativeWorkerCore {
    /// Connects a worker core configured by a `WorkerCoreConfig` JSON and starts its loops.
    #[napi]
    pub async fn create(config_json: String) -> Result<NativeWorkerCore> {
        check_size("configJson", &config_json)?;
        let core = Core::create(&config_json, "napi").await.map_err(reject)?;
        Ok(NativeWorkerCore {
            core: Arc::new(core),
        })
    }

    /// Up to `max` claimed steps as a JSON array of `ClaimedStep`, waiting at most `timeoutMs`
    /// for the first; `[]` on timeout or when draining.
    #[napi]
    pub async fn next(&self, max: u32, timeout_ms: u32) -> Result<String> {
        let core = self.core.clone();
        Ok(core.next(max, timeout_ms).await)
    }

    /// The steps buffered now (up to `max`) as a JSON array, `[]` when there are none: what
    /// `next(max, 0)` answers, but synchronous, so a busy worker takes its steps without a
    /// thread hop (and the steps of one JS turn are taken, and reported, together).
    #[napi]
    pub fn take_now(&self, max: u32) -> String {
        self.core.take_now(max)
    }

    /// Resolves with true as soon as claimed steps are buffered (take them with `takeNow`), false
    /// when `timeoutMs` passes or the core is draining. Takes no step.
    #[napi]
    pub async fn wait_for_steps(&self, timeout_ms: u32) -> Result<bool> {
        let core = self.core.clone();
        Ok(core.wait_for_steps(timeout_ms).await)
    }

    /// Commits a JSON array of `StepReport`s together; resolves with a JSON array of their
    /// envelopes in order (`{"ok":true,"value":ReportResult}` or `{"ok":false,"error":…}`).
    /// The reports are queued before this returns, on the JS thread: an `async fn` would queue
    /// them only once one of the addon's threads ran it, which on a machine whose cores are busy
    /// with PostgreSQL came milliseconds later (0.8 ms per step on average, 4 ms at p90).
    #[napi(ts_return_type = "Promise<string>")]
    pub fn report_many<'env>(
        &self,
        env: &'env Env,
        reports_json: String,
    ) -> Result<PromiseRaw<'env, String>> {
        check_size("reportsJson", &reports_json)?;
        let queued = self.core.queue_many(&reports_json).map_err(reject)?;
        env.spawn_future(async move { Ok(queued.settled().await) })
    }

    /// Commits a `StepReport` JSON; resolves with the `ReportResult` JSON.
    #[napi]
    pub async fn report(&self, report_json: String) -> Result<String> {
        check_size("reportJson", &report_json)?;
        let core = self.core.clone();
        core.report(&report_json).await.map_err(reject)
    }

    /// Step ids whose handlers should stop, learned from heartbeats since the last call.
    #[napi]
    pub fn take_aborted(&self) -> Vec<String> {
        self.core.take_aborted()
    }

    /// Step ids whose lease lapsed by the core's clock while their handler ran.
    #[napi]
    pub fn take_lapsed(&self) -> Vec<String> {
        self.core.take_lapsed()
    }

    /// The handler of a step in flight was abandoned and will not report: its lease lapses and
    /// drain stops waiting for it. False when it was not in flight under that attempt.
    #[napi]
    pub fn abandon(&self, step_id: String, attempt: i32) -> bool {
        self.core.abandon(&step_id, attempt)
    }

    /// `CoreStats` JSON.
    #[napi]
    pub fn stats(&self) -> String {
        self.core.stats()
    }

    /// Drains (stop claiming, release buffered leases, wait for in-flight reports up to
    /// `timeoutMs`, close); resolves with the `DrainResult` JSON.
    #[napi]
    pub async fn drain(&self, timeout_ms: u32) -> Result<String> {
        let core = self.core.clone();
        Ok(drain_json(&core.drain(timeout_ms).await))
    }
}

/// Crosses into the addon and back through the async machinery (a Promise), doing nothing else.
#[napi]
pub async fn echo(payload: String) -> String {
    payload
}

/// Crosses into the addon and back synchronously, doing nothing else.
#[napi]
pub fn echo_sync(payload: String) -> String {
    payload
}
