/*
 * tasker.h: the C ABI of Tasker's native worker core (native/, docs/bindings.md "The C ABI").
 *
 * Library: native/lib/libtasker_native.so (.dylib on macOS, tasker_native.dll on Windows),
 * built by `node native/build.mjs`. The same file is also the napi addon; a C program that only
 * calls these functions needs nothing from Node (napi symbols are resolved at napi module
 * registration, never at load time).
 *
 * ANSWERS. Every function except tasker_string_free returns a newly allocated, NUL-terminated
 * UTF-8 JSON string, the envelope:
 *
 *     {"ok":true,"value":<value>}
 *     {"ok":false,"error":{"code":"<CODE>","message":"<text>"[,"sqlState":"TK007","detail":"<json>"]}}
 *
 * OWNERSHIP.
 *   - The caller owns every returned string and must pass it to tasker_string_free exactly once,
 *     and not use it afterwards. Never free it with free(): it comes from Rust's allocator.
 *     (tasker_string_free ignores NULL and pointers it did not hand out or already took back,
 *     but do not rely on that: the address of a freed string may be handed out again.)
 *   - Input strings stay owned by the caller; they must be NUL-terminated UTF-8 and valid for
 *     the duration of the call. The library copies what it keeps.
 *   - A core is named by an opaque handle (never 0). tasker_core_drain frees it; afterwards, as
 *     for any handle never returned by tasker_core_create, calls answer UNKNOWN_HANDLE.
 *
 * ERRORS are envelopes, never crashes: NULL pointer (NULL_POINTER), invalid UTF-8
 * (INVALID_UTF8), input longer than 64 MiB (INPUT_TOO_LARGE), invalid JSON or config
 * (CONFIG_INVALID, PROTOCOL_ARGUMENT_INVALID with sqlState TK007 for a report), unknown or
 * freed handle (UNKNOWN_HANDLE), database errors (DB_CONNECTION_FAILED, DB_ERROR with its
 * sqlState), use after drain (CORE_CLOSED), and a caught panic (PANIC).
 *
 * THREADS. All functions may be called from any thread, concurrently. tasker_core_create,
 * tasker_core_next (with timeout_ms > 0), tasker_core_report, tasker_core_completions (with
 * timeout_ms > 0) and tasker_core_drain block their calling thread (create while connecting, next
 * until a step or the timeout, report until the report is committed, completions until a result
 * or the timeout, drain up to timeout_ms plus a short grace): call them off the JS thread (koffi
 * `.async`, Deno `nonblocking: true`, a Bun worker). Do not call them from a callback running on
 * the core's own threads. The others return at once.
 *
 * COMPLETION QUEUE. A blocking call per report takes a thread per report in flight, and a caller
 * that can spare only a few threads (koffi keeps libuv's pool for file and DNS work) then caps
 * how many reports the core can commit together. tasker_core_report_submit and
 * tasker_core_wait_submit return at once; their results come back, each under the caller's
 * ticket, from tasker_core_completions, which one thread can call in a loop for any number of
 * outstanding operations. A ticket is any uint64_t the caller chooses (it is only echoed back).
 * Results are kept until collected; tasker_core_drain's answer carries those nobody collected.
 *
 * VALUES. JSON with the field names of the TypeScript types in sdk/src/binding/types.ts and
 * sdk/src/protocol/types.ts; timestamps are ISO-8601 strings, message ids numbers.
 */
#ifndef TASKER_H
#define TASKER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Creates a worker core from a WorkerCoreConfig JSON, connects it and starts claiming.
 * value: {"handle": n}. Blocks while connecting. */
char *tasker_core_create(const char *config_json);

/* Up to `max` claimed steps, waiting at most `timeout_ms` for the first (0: only what is
 * buffered now). value: [ClaimedStep, ...], [] on timeout or when draining. Handed-out steps are
 * in flight until reported. */
char *tasker_core_next(uint64_t handle, uint32_t max, uint32_t timeout_ms);

/* Commits a StepReport JSON (possibly in one round trip with others); returns once committed.
 * value: ReportResult. */
char *tasker_core_report(uint64_t handle, const char *report_json);

/* Queues reports for commit and returns at once. `reports_json` is a JSON array of
 * {"ticket": n, "report": StepReport}; the reports of one call are queued together (so they can
 * share a round trip). value: how many were queued. Each report's ReportResult comes back from
 * tasker_core_completions under its ticket, or its error (e.g. PROTOCOL_ARGUMENT_INVALID for a
 * report the core refuses, CORE_CLOSED if the core closes first). A malformed array (invalid
 * JSON, an element without a ticket or a report), an unknown handle or a closed core is an error
 * envelope, and then nothing was queued. */
char *tasker_core_report_submit(uint64_t handle, const char *reports_json);

/* Starts waiting for claimed steps and returns at once. Under `ticket`, tasker_core_completions
 * later answers true as soon as steps are buffered (take them with tasker_core_next(handle, max,
 * 0)), false when `timeout_ms` passes or the core is draining. Takes no step. value: null. */
char *tasker_core_wait_submit(uint64_t handle, uint64_t ticket, uint32_t timeout_ms);

/* Results of submitted operations, oldest first: up to `max` (at least 1), waiting up to
 * `timeout_ms` for the first. value: [{"ticket": n, "ok": true, "value": ...} |
 * {"ticket": n, "ok": false, "error": {...}}, ...], [] on timeout. Once the core has closed it
 * answers what is left at once, then CORE_CLOSED. */
char *tasker_core_completions(uint64_t handle, uint32_t max, uint32_t timeout_ms);

/* Step ids whose handlers should stop, learned from heartbeats since the last call.
 * value: ["step id", ...]. */
char *tasker_core_take_aborted(uint64_t handle);

/* Step ids whose lease lapsed by the core's clock while their handler ran (heartbeats failing or
 * unanswered): stop those handlers and do not report them. value: ["step id", ...]. */
char *tasker_core_take_lapsed(uint64_t handle);

/* The handler of (step_id, attempt) was abandoned and will not report: the step leaves flight,
 * so its lease is no longer extended (it lapses) and a drain stops waiting for it.
 * value: true, or false when it was not in flight under that attempt. */
char *tasker_core_abandon(uint64_t handle, const char *step_id, int32_t attempt);

/* Counters. value: CoreStats (with "binding":"ffi"). */
char *tasker_core_stats(uint64_t handle);

/* Stops claiming, releases buffered steps, waits up to `timeout_ms` for in-flight steps to be
 * reported, closes every connection, and frees the handle. value: DrainResult, plus "stats":
 * the final CoreStats (as tasker_core_stats answers them, counting what the drain did), and
 * "completions": [...] (as tasker_core_completions answers them) when results of submitted
 * operations were never collected. */
char *tasker_core_drain(uint64_t handle, uint32_t timeout_ms);

/* Crosses the boundary and back. value: the payload, as a JSON string. */
char *tasker_echo(const char *payload);

/* Frees a string returned by any function above. NULL is ignored. */
void tasker_string_free(char *s);

/* Diagnostics (not part of docs/bindings.md): how many returned strings are not yet freed. */
uint64_t tasker_string_outstanding(void);

#ifdef __cplusplus
}
#endif

#endif /* TASKER_H */
