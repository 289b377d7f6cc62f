/*
 * Smoke test of the C ABI from plain C: loads the library with dlopen(RTLD_NOW) (so an
 * unresolved symbol would fail here, proving the napi half needs nothing from Node), then feeds
 * every function bad input and checks each answer is an error envelope, never a crash.
 *
 *   native/scripts/c-smoke.sh                      (compiles with gcc and runs)
 *   TASKER_DATABASE_URL=postgres://… native/scripts/c-smoke.sh   (also a real core's life cycle)
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef char *(*str_fn)(const char *);
typedef char *(*next_fn)(uint64_t, uint32_t, uint32_t);
typedef char *(*report_fn)(uint64_t, const char *);
typedef char *(*handle_fn)(uint64_t);
typedef char *(*drain_fn)(uint64_t, uint32_t);
typedef char *(*wait_submit_fn)(uint64_t, uint64_t, uint32_t);
typedef void (*free_fn)(char *);
typedef uint64_t (*count_fn)(void);

static str_fn core_create, echo;
static next_fn core_next, completions;
static report_fn core_report, report_submit;
static wait_submit_fn wait_submit;
static handle_fn take_aborted, stats;
static drain_fn core_drain;
static free_fn string_free;
static count_fn outstanding;
static int failures = 0;

static void *sym(void *lib, const char *name) {
  void *p = dlsym(lib, name);
  if (p == NULL) {
    fprintf(stderr, "missing symbol %s: %s\n", name, dlerror());
    exit(2);
  }
  return p;
}

/* Checks an answer contains `needle`, prints it, frees it. */
static void expect(const char *what, char *answer, const char *needle) {
  if (answer == NULL) {
    printf("FAIL %-40s NULL answer\n", what);
    failures++;
    return;
  }
  int ok = strstr(answer, needle) != NULL;
  size_t len = strlen(answer);
  printf("%s %-40s %.*s%s\n", ok ? "ok  " : "FAIL", what, (int)(len > 110 ? 110 : len), answer, len > 110 ? "…" : "");
  if (!ok) failures++;
  string_free(answer);
}

static void expect_error(const char *what, char *answer, const char *code) {
  char needle[128];
  snprintf(needle, sizeof needle, "{\"ok\":false,\"error\":{\"code\":\"%s\"", code);
  expect(what, answer, needle);
}

/* Collects completions (each answer freed at once) until every needle was seen, or 20 tries. */
static void expect_completions(const char *what, uint64_t handle, const char **needles, int count) {
  int seen[16] = {0};
  int missing = count;
  for (int attempt = 0; attempt < 20 && missing > 0; attempt++) {
    char *answer = completions(handle, 100, 500);
    if (answer == NULL) break;
    for (int i = 0; i < count; i++) {
      if (!seen[i] && strstr(answer, needles[i]) != NULL) {
        seen[i] = 1;
        missing--;
      }
    }
    string_free(answer);
  }
  printf("%s %-40s %d of %d results\n", missing == 0 ? "ok  " : "FAIL", what, count - missing, count);
  for (int i = 0; i < count; i++) {
    if (!seen[i]) printf("     missing: %s\n", needles[i]);
  }
  if (missing != 0) failures++;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "native/lib/libtasker_native.so";
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "FAIL dlopen(%s, RTLD_NOW): %s\n", path, dlerror());
    return 1;
  }
  printf("ok   dlopen(RTLD_NOW) %s\n", path);
  core_create = (str_fn)sym(lib, "tasker_core_create");
  echo = (str_fn)sym(lib, "tasker_echo");
  core_next = (next_fn)sym(lib, "tasker_core_next");
  core_report = (report_fn)sym(lib, "tasker_core_report");
  report_submit = (report_fn)sym(lib, "tasker_core_report_submit");
  wait_submit = (wait_submit_fn)sym(lib, "tasker_core_wait_submit");
  completions = (next_fn)sym(lib, "tasker_core_completions");
  take_aborted = (handle_fn)sym(lib, "tasker_core_take_aborted");
  stats = (handle_fn)sym(lib, "tasker_core_stats");
  core_drain = (drain_fn)sym(lib, "tasker_core_drain");
  string_free = (free_fn)sym(lib, "tasker_string_free");
  outstanding = (count_fn)sym(lib, "tasker_string_outstanding");

  expect("echo", echo("héllo \"c\""), "{\"ok\":true,\"value\":\"héllo \\\"c\\\"\"}");
  expect_error("echo(NULL)", echo(NULL), "NULL_POINTER");
  expect_error("create(NULL)", core_create(NULL), "NULL_POINTER");
  expect_error("create(invalid JSON)", core_create("{not json"), "CONFIG_INVALID");
  expect_error("create(JSON array)", core_create("[1,2]"), "CONFIG_INVALID");
  expect_error("create(missing fields)", core_create("{\"workerId\":\"w\"}"), "CONFIG_INVALID");
  const char bad_utf8[] = {'{', (char)0xff, (char)0xfe, '}', 0};
  expect_error("create(invalid UTF-8)", core_create(bad_utf8), "INVALID_UTF8");
  expect_error("echo(invalid UTF-8)", echo(bad_utf8), "INVALID_UTF8");
  expect_error("report(unknown handle, NULL)", core_report(4242, NULL), "NULL_POINTER");
  expect_error("report(unknown handle)", core_report(4242, "{}"), "UNKNOWN_HANDLE");
  expect_error("next(unknown handle)", core_next(4242, 1, 0), "UNKNOWN_HANDLE");
  expect_error("next(handle 0)", core_next(0, 1, 10), "UNKNOWN_HANDLE");
  expect_error("take_aborted(unknown handle)", take_aborted(UINT64_MAX), "UNKNOWN_HANDLE");
  expect_error("stats(unknown handle)", stats(7), "UNKNOWN_HANDLE");
  expect_error("drain(unknown handle)", core_drain(7, 0), "UNKNOWN_HANDLE");
  expect_error("report_submit(NULL)", report_submit(4242, NULL), "NULL_POINTER");
  expect_error("report_submit(unknown handle)", report_submit(4242, "[]"), "UNKNOWN_HANDLE");
  expect_error("report_submit(invalid UTF-8)", report_submit(4242, bad_utf8), "INVALID_UTF8");
  expect_error("wait_submit(unknown handle)", wait_submit(4242, 1, 0), "UNKNOWN_HANDLE");
  expect_error("completions(unknown handle)", completions(4242, 10, 0), "UNKNOWN_HANDLE");

  size_t big_len = (size_t)64 * 1024 * 1024 + 1;
  char *big = malloc(big_len + 1);
  if (big == NULL) return 2;
  memset(big, 'a', big_len);
  big[big_len] = 0;
  expect_error("echo(64 MiB + 1 byte)", echo(big), "INPUT_TOO_LARGE");
  expect_error("create(64 MiB + 1 byte)", core_create(big), "INPUT_TOO_LARGE");
  free(big);

  string_free(NULL);
  printf("ok   tasker_string_free(NULL)\n");

  const char *url = getenv("TASKER_DATABASE_URL");
  if (url != NULL && *url != 0) {
    /* A real core: created, answers, drained; then its handle is unknown. */
    static char config[4096];
    snprintf(config, sizeof config,
             "{\"databaseUrl\":\"%s\",\"workerId\":\"c-smoke\",\"namespaces\":[\"c_smoke_ns\"],\"mode\":\"PollingOnly\"}", url);
    char *created = core_create(config);
    uint64_t handle = 0;
    const char *at = created ? strstr(created, "\"handle\":") : NULL;
    if (at != NULL) handle = strtoull(at + 9, NULL, 10);
    expect("create(real database)", created, "{\"ok\":true,\"value\":{\"handle\":");
    if (handle != 0) {
      expect("next(timeout 50 ms)", core_next(handle, 5, 50), "{\"ok\":true,\"value\":[]}");
      expect("stats", stats(handle), "\"binding\":\"ffi\"");
      expect("take_aborted", take_aborted(handle), "{\"ok\":true,\"value\":[]}");
      expect_error("report(invalid JSON)", core_report(handle, "{oops"), "PROTOCOL_ARGUMENT_INVALID");
      expect_error("report(bad uuid)", core_report(handle, "{\"stepId\":\"x\",\"attempt\":1,\"delivery\":1,\"outcome\":\"success\"}"),
                   "PROTOCOL_ARGUMENT_INVALID");
      expect("report(unknown step)",
             core_report(handle, "{\"stepId\":\"00000000-0000-4000-8000-000000000000\",\"attempt\":1,\"delivery\":1,\"outcome\":\"success\"}"),
             "\"reason\" : \"unknown step\"");

      /* The completion queue: submits return at once, results come back under their tickets. */
      const char *unknown_step = "{\"stepId\":\"00000000-0000-4000-8000-000000000000\",\"attempt\":1,\"delivery\":1,\"outcome\":\"success\"}";
      static char reports[1024];
      expect_error("report_submit(invalid JSON)", report_submit(handle, "{oops"), "PROTOCOL_ARGUMENT_INVALID");
      expect_error("report_submit(not an array)", report_submit(handle, "{\"ticket\":1}"), "PROTOCOL_ARGUMENT_INVALID");
      expect_error("report_submit(no ticket)", report_submit(handle, "[{\"report\":{}}]"), "PROTOCOL_ARGUMENT_INVALID");
      expect_error("report_submit(negative ticket)", report_submit(handle, "[{\"ticket\":-1,\"report\":{}}]"),
                   "PROTOCOL_ARGUMENT_INVALID");
      expect("completions(nothing submitted)", completions(handle, 10, 0), "{\"ok\":true,\"value\":[]}");
      snprintf(reports, sizeof reports, "[{\"ticket\":11,\"report\":{\"stepId\":\"x\"}},{\"ticket\":12,\"report\":%s}]", unknown_step);
      expect("report_submit(bad + unknown step)", report_submit(handle, reports), "{\"ok\":true,\"value\":2}");
      expect("wait_submit(50 ms)", wait_submit(handle, 13, 50), "{\"ok\":true,\"value\":null}");
      const char *results[] = {
        "{\"ticket\":11,\"ok\":false,\"error\":{\"code\":\"PROTOCOL_ARGUMENT_INVALID\"",
        "{\"ticket\":12,\"ok\":true,\"value\":{\"stepId\" : \"00000000-0000-4000-8000-000000000000\", \"accepted\" : false, \"reason\" : \"unknown step\"",
        "{\"ticket\":13,\"ok\":true,\"value\":false}",
      };
      expect_completions("completions(three tickets)", handle, results, 3);
      expect("completions(all collected)", completions(handle, 10, 0), "{\"ok\":true,\"value\":[]}");
      /* A result nobody collects travels with the drain's answer. */
      snprintf(reports, sizeof reports, "[{\"ticket\":14,\"report\":%s}]", unknown_step);
      expect("report_submit(left uncollected)", report_submit(handle, reports), "{\"ok\":true,\"value\":1}");
      expect("drain(with an uncollected result)", core_drain(handle, 5000),
             "{\"ok\":true,\"value\":{\"abandoned\":0,\"released\":0,\"completions\":[{\"ticket\":14,\"ok\":true");
      expect_error("completions(drained handle)", completions(handle, 10, 0), "UNKNOWN_HANDLE");
      expect_error("report_submit(drained handle)", report_submit(handle, "[]"), "UNKNOWN_HANDLE");
      expect_error("wait_submit(drained handle)", wait_submit(handle, 15, 0), "UNKNOWN_HANDLE");
      expect_error("stats(drained handle)", stats(handle), "UNKNOWN_HANDLE");
      expect_error("drain(drained handle)", core_drain(handle, 0), "UNKNOWN_HANDLE");
      expect_error("report(drained handle)", core_report(handle, "{}"), "UNKNOWN_HANDLE");
    }
  } else {
    printf("skip real-database checks (set TASKER_DATABASE_URL)\n");
  }

  uint64_t left = outstanding();
  printf("%s strings outstanding: %llu\n", left == 0 ? "ok  " : "FAIL", (unsigned long long)left);
  if (left != 0) failures++;

  printf(failures == 0 ? "C ABI smoke test passed\n" : "C ABI smoke test FAILED (%d)\n", failures);
  return failures == 0 ? 0 : 1;
}
