//! The C ABI face (native/include/tasker.h): `extern "C"` functions for koffi, `bun:ffi` and
//! `Deno.dlopen`.
//!
//! Rules kept at this boundary, whatever the caller passes:
//! - every function returns a new NUL-terminated JSON envelope the caller must free with
//!   `tasker_string_free` exactly once (a pointer this library did not hand out, or one already
//!   freed, is ignored rather than freed: see `OUTSTANDING`);
//! - input strings stay the caller's; they are read, copied where kept, never freed;
//! - NULL, invalid UTF-8, input over `MAX_INPUT_BYTES`, invalid JSON and unknown handles give
//!   error envelopes;
//! - panics are caught here and become `PANIC` error envelopes instead of unwinding into C.

use crate::completion;
use crate::core::{unknown_handle, Core};
use crate::envelope;
use crate::error::{codes, CoreError};
use crate::registry::Registry;
use crate::runtime;
use crate::shared::lock;
use crate::MAX_INPUT_BYTES;
use std::collections::HashSet;
use std::ffi::{c_char, CString};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{LazyLock, Mutex};

static CORES: LazyLock<Registry<Core>> = LazyLock::new(Registry::default);

/// Strings handed out and not yet freed. Freeing goes through this set so a double free or a
/// foreign pointer cannot corrupt the allocator; it also lets tests check nothing leaks.
static OUTSTANDING: LazyLock<Mutex<HashSet<usize>>> = LazyLock::new(|| Mutex::new(HashSet::new()));

fn hand_out(text: String) -> *mut c_char {
    // Envelopes are JSON written by serde or PostgreSQL, which escape NUL; the fallback only
    // exists so that this cannot fail.
    let c_string = CString::new(text).unwrap_or_else(|_| {
        CString::from(c"{\"ok\":false,\"error\":{\"code\":\"INTERNAL\",\"message\":\"answer contained a NUL byte\"}}")
    });
    let pointer = c_string.into_raw();
    lock(&OUTSTANDING).insert(pointer as usize);
    pointer
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    format!("the native core panicked (a bug, please report it): {detail}")
}

/// Runs one call: catches panics, wraps the outcome in an envelope, hands the string out.
fn boundary(call: impl FnOnce() -> Result<String, CoreError>) -> *mut c_char {
    let text = match panic::catch_unwind(AssertUnwindSafe(call)) {
        Ok(result) => envelope::result(result),
        Err(payload) => envelope::error(&CoreError::new(codes::PANIC, panic_message(&*payload))),
    };
    hand_out(text)
}

/// Reads a caller's string: not NULL, at most `MAX_INPUT_BYTES` before its NUL, UTF-8.
///
/// # Safety
/// `pointer` is NULL or points to a NUL-terminated string that stays valid during the call.
/// The scan stops at the limit, so an oversized string is refused without being read whole.
unsafe fn read_str<'a>(pointer: *const c_char, name: &str) -> Result<&'a str, CoreError> {
    if pointer.is_null() {
        return Err(CoreError::new(
            codes::NULL_POINTER,
            format!("{name} is NULL"),
        ));
    }
    let bytes = pointer.cast::<u8>();
    let mut len = 0usize;
    // SAFETY: every byte read is at or before the string's NUL (the caller's contract), and the
    // loop stops at the first NUL or one byte past the limit.
    while len <= MAX_INPUT_BYTES && unsafe { *bytes.add(len) } != 0 {
        len += 1;
    }
    if len > MAX_INPUT_BYTES {
        return Err(CoreError::new(
            codes::INPUT_TOO_LARGE,
            format!("{name} is longer than {MAX_INPUT_BYTES} bytes"),
        ));
    }
    // SAFETY: the `len` bytes before the NUL were just read above.
    let slice = unsafe { std::slice::from_raw_parts(bytes, len) };
    std::str::from_utf8(slice).map_err(|e| {
        CoreError::new(
            codes::INVALID_UTF8,
            format!("{name} is not valid UTF-8: {e}"),
        )
    })
}

fn core(handle: u64) -> Result<std::sync::Arc<Core>, CoreError> {
    CORES.get(handle).ok_or_else(|| unknown_handle(handle))
}

/// Creates a worker core from a `WorkerCoreConfig` JSON and connects it. Value: `{"handle": n}`.
/// Blocks the calling thread while connecting.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn tasker_core_create(config_json: *const c_char) -> *mut c_char {
    boundary(|| {
        // SAFETY: forwarded from this function's contract.
        let json = unsafe { read_str(config_json, "config_json") }?;
        let runtime = runtime::shared()?;
        let core = runtime.block_on(Core::create(json, "ffi"))?;
        let handle = CORES.insert(core);
        Ok(format!(r#"{{"handle":{handle}}}"#))
    })
}

/// Up to `max` claimed steps, waiting at most `timeout_ms` for the first. Value: `[ClaimedStep]`.
/// Blocks the calling thread.
#[no_mangle]
pub extern "C" fn tasker_core_next(handle: u64, max: u32, timeout_ms: u32) -> *mut c_char {
    boundary(|| {
        let core = core(handle)?;
        Ok(runtime::shared()?.block_on(core.next(max, timeout_ms)))
    })
}

/// Commits a `StepReport` JSON. Value: `ReportResult`. Blocks the calling thread until the
/// report is committed (or refused).
///
/// # Safety
/// `report_json` is NULL or a NUL-terminated string valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn tasker_core_report(
    handle: u64,
    report_json: *const c_char,
) -> *mut c_char {
    boundary(|| {
        // SAFETY: forwarded from this function's contract.
        let json = unsafe { read_str(report_json, "report_json") }?;
        let core = core(handle)?;
        runtime::shared()?.block_on(core.report(json))
    })
}

/// Queues reports and returns at once. `reports_json` is a JSON array of
/// `{"ticket": n, "report": StepReport}`; each report's `ReportResult` (or its refusal) comes
/// back from `tasker_core_completions` under its ticket. Value: how many were queued. A
/// malformed array, an unknown handle or a closed core is an error envelope, and then nothing
/// was queued. Does not block.
///
/// # Safety
/// `reports_json` is NULL or a NUL-terminated string valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn tasker_core_report_submit(
    handle: u64,
    reports_json: *const c_char,
) -> *mut c_char {
    boundary(|| {
        // SAFETY: forwarded from this function's contract.
        let json = unsafe { read_str(reports_json, "reports_json") }?;
        let queued = core(handle)?.submit_reports(json)?;
        Ok(queued.to_string())
    })
}

/// Starts waiting for claimed steps and returns at once: `true` comes back from
/// `tasker_core_completions` under `ticket` as soon as steps are buffered (take them with
/// `tasker_core_next(handle, max, 0)`), `false` when `timeout_ms` passes or the core is
/// draining. No step is taken by the wait. Value: null. Does not block.
#[no_mangle]
pub extern "C" fn tasker_core_wait_submit(
    handle: u64,
    ticket: u64,
    timeout_ms: u32,
) -> *mut c_char {
    boundary(|| {
        core(handle)?.submit_wait(ticket, timeout_ms)?;
        Ok("null".to_owned())
    })
}

/// Results of submitted operations: up to `max` (at least 1), waiting up to `timeout_ms` for the
/// first. Value: `[{"ticket": n, "ok": true, "value": …} | {"ticket": n, "ok": false,
/// "error": …}]`, `[]` on timeout. After the core closed it answers what is left, then
/// `CORE_CLOSED`. Blocks the calling thread.
#[no_mangle]
pub extern "C" fn tasker_core_completions(handle: u64, max: u32, timeout_ms: u32) -> *mut c_char {
    boundary(|| {
        let core = core(handle)?;
        runtime::shared()?.block_on(core.completions(max, timeout_ms))
    })
}

/// Step ids whose handlers should stop. Value: `["step id", …]`. Does not block.
#[no_mangle]
pub extern "C" fn tasker_core_take_aborted(handle: u64) -> *mut c_char {
    boundary(|| {
        let ids = core(handle)?.take_aborted();
        serde_json::to_string(&ids).map_err(|e| CoreError::new(codes::INTERNAL, e.to_string()))
    })
}

/// Step ids whose lease lapsed by the core's clock while their handler ran (stop them, do not
/// report them). Value: `["step id", …]`. Does not block.
#[no_mangle]
pub extern "C" fn tasker_core_take_lapsed(handle: u64) -> *mut c_char {
    boundary(|| {
        let ids = core(handle)?.take_lapsed();
        serde_json::to_string(&ids).map_err(|e| CoreError::new(codes::INTERNAL, e.to_string()))
    })
}

/// The handler of `(step_id, attempt)` was abandoned and will not report: the step leaves flight
/// (its lease lapses; a drain stops waiting for it). Value: `true`, or `false` when it was not in
/// flight under that attempt. Does not block.
///
/// # Safety
/// `step_id` is NULL or a NUL-terminated string valid during the call.
#[no_mangle]
pub unsafe extern "C" fn tasker_core_abandon(
    handle: u64,
    step_id: *const c_char,
    attempt: i32,
) -> *mut c_char {
    boundary(|| {
        // SAFETY: forwarded from this function's contract.
        let step_id = unsafe { read_str(step_id, "step_id") }?;
        let left = core(handle)?.abandon(step_id, attempt);
        Ok(if left { "true" } else { "false" }.to_owned())
    })
}

/// Counters. Value: `CoreStats`. Does not block.
#[no_mangle]
pub extern "C" fn tasker_core_stats(handle: u64) -> *mut c_char {
    boundary(|| Ok(core(handle)?.stats()))
}

/// Drains the core and frees its handle. Value: `DrainResult`. Blocks the calling thread up to
/// about `timeout_ms` (plus a short grace for a claim or release under way).
#[no_mangle]
pub extern "C" fn tasker_core_drain(handle: u64, timeout_ms: u32) -> *mut c_char {
    boundary(|| {
        let core = core(handle)?;
        let result = runtime::shared()?.block_on(core.drain(timeout_ms));
        // Removed only now: handlers finishing during the drain still report through it.
        CORES.remove(handle);
        // Results nobody collected yet would be lost with the handle: they travel with this
        // answer instead, and so do the final counters (what the drain itself reported, claimed
        // and extended), which stats() can no longer read once the handle is gone.
        let left = core.take_completions();
        let completions = if left.is_empty() {
            String::new()
        } else {
            format!(r#","completions":{}"#, completion::render(left))
        };
        Ok(format!(
            r#"{{"abandoned":{},"released":{}{},"stats":{}}}"#,
            result.abandoned,
            result.released,
            completions,
            core.stats()
        ))
    })
}

/// Crosses the boundary and back. Value: the payload, as a JSON string.
///
/// # Safety
/// `payload` is NULL or a NUL-terminated string valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn tasker_echo(payload: *const c_char) -> *mut c_char {
    boundary(|| {
        // SAFETY: forwarded from this function's contract.
        let text = unsafe { read_str(payload, "payload") }?;
        serde_json::to_string(text).map_err(|e| CoreError::new(codes::INTERNAL, e.to_string()))
    })
}

/// Frees a string returned by any `tasker_*` function. NULL, and pointers that are not an
/// outstanding string of this library (already freed, or never returned by it), are ignored.
///
/// # Safety
/// Strings must not be used after they are freed.
#[no_mangle]
pub unsafe extern "C" fn tasker_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    let known = lock(&OUTSTANDING).remove(&(s as usize));
    if known {
        // SAFETY: `s` came from `CString::into_raw` in `hand_out` and is freed only once, since
        // it was just removed from the outstanding set.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Diagnostics (not in docs/bindings.md): how many returned strings are not yet freed.
#[no_mangle]
pub extern "C" fn tasker_string_outstanding() -> u64 {
    lock(&OUTSTANDING).len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    /// Calls, reads the envelope, frees it.
    fn take(pointer: *mut c_char) -> serde_json::Value {
        assert!(!pointer.is_null());
        // SAFETY: every tasker_* function returns a valid NUL-terminated string.
        let text = unsafe { CStr::from_ptr(pointer) }
            .to_str()
            .unwrap()
            .to_owned();
        unsafe { tasker_string_free(pointer) };
        serde_json::from_str(&text).unwrap()
    }

    fn error_code(value: &serde_json::Value) -> &str {
        assert_eq!(value["ok"], false, "{value}");
        value["error"]["code"].as_str().unwrap()
    }

    #[test]
    fn echo_round_trips_as_a_json_string() {
        let value = take(unsafe { tasker_echo(c"héllo \"x\"\n".as_ptr()) });
        assert_eq!(
            value,
            serde_json::json!({"ok": true, "value": "héllo \"x\"\n"})
        );
    }

    #[test]
    fn bad_inputs_are_error_envelopes() {
        assert_eq!(
            error_code(&take(unsafe { tasker_echo(std::ptr::null()) })),
            codes::NULL_POINTER
        );
        assert_eq!(
            error_code(&take(unsafe { tasker_core_create(std::ptr::null()) })),
            codes::NULL_POINTER
        );
        let bad_utf8 = [0xffu8, 0xfe, 0];
        assert_eq!(
            error_code(&take(unsafe { tasker_echo(bad_utf8.as_ptr().cast()) })),
            codes::INVALID_UTF8
        );
        assert_eq!(
            error_code(&take(unsafe { tasker_core_create(c"{not json".as_ptr()) })),
            codes::CONFIG_INVALID
        );
        assert_eq!(
            error_code(&take(tasker_core_next(987_654, 1, 0))),
            codes::UNKNOWN_HANDLE
        );
        assert_eq!(
            error_code(&take(tasker_core_stats(0))),
            codes::UNKNOWN_HANDLE
        );
        assert_eq!(
            error_code(&take(tasker_core_take_aborted(u64::MAX))),
            codes::UNKNOWN_HANDLE
        );
        assert_eq!(
            error_code(&take(tasker_core_take_lapsed(u64::MAX))),
            codes::UNKNOWN_HANDLE
        );
        assert_eq!(
            error_code(&take(unsafe {
                tasker_core_abandon(u64::MAX, c"s".as_ptr(), 1)
            })),
            codes::UNKNOWN_HANDLE
        );
        assert_eq!(
            error_code(&take(unsafe {
                tasker_core_abandon(u64::MAX, std::ptr::null(), 1)
            })),
            codes::NULL_POINTER
        );
        assert_eq!(
            error_code(&take(tasker_core_drain(42, 0))),
            codes::UNKNOWN_HANDLE
        );
        assert_eq!(
            error_code(&take(unsafe { tasker_core_report(42, c"{}".as_ptr()) })),
            codes::UNKNOWN_HANDLE
        );
        assert_eq!(
            error_code(&take(unsafe {
                tasker_core_report_submit(42, std::ptr::null())
            })),
            codes::NULL_POINTER
        );
        assert_eq!(
            error_code(&take(unsafe {
                tasker_core_report_submit(42, c"[]".as_ptr())
            })),
            codes::UNKNOWN_HANDLE
        );
        assert_eq!(
            error_code(&take(tasker_core_wait_submit(42, 1, 0))),
            codes::UNKNOWN_HANDLE
        );
        assert_eq!(
            error_code(&take(tasker_core_completions(42, 10, 0))),
            codes::UNKNOWN_HANDLE
        );
    }

    #[test]
    fn oversized_input_is_refused() {
        let mut big = vec![b'a'; MAX_INPUT_BYTES + 1];
        big.push(0);
        let value = take(unsafe { tasker_echo(big.as_ptr().cast()) });
        assert_eq!(error_code(&value), codes::INPUT_TOO_LARGE);
        // Exactly at the limit is fine.
        big.truncate(MAX_INPUT_BYTES);
        big.push(0);
        let value = take(unsafe { tasker_echo(big.as_ptr().cast()) });
        assert_eq!(value["ok"], true);
    }

    #[test]
    fn freeing_twice_or_a_foreign_pointer_is_ignored() {
        let pointer = unsafe { tasker_echo(c"x".as_ptr()) };
        unsafe { tasker_string_free(pointer) };
        unsafe { tasker_string_free(pointer) };
        let foreign = CString::new("mine").unwrap().into_raw();
        unsafe { tasker_string_free(foreign) };
        // SAFETY: still ours, never handed to the library's allocator bookkeeping.
        drop(unsafe { CString::from_raw(foreign) });
        unsafe { tasker_string_free(std::ptr::null_mut()) };
    }
}
