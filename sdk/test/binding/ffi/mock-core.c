/*
 * A stand-in for the native core's C ABI (native/include/tasker.h, docs/bindings.md), to measure
 * what the FFI loaders themselves cost, apart from the database. One core at a time (handle 7):
 * when its config JSON carries "mockIntervalMs": N, a thread produces one step every N ms, stamped
 * with the wall-clock time it was produced (context.producedAt, ms since the epoch), so a caller
 * can measure how long a produced step takes to reach JavaScript. tasker_core_next blocks up to
 * its timeout like the real one. mock_outstanding() counts envelopes not yet freed.
 *
 * Build: cc -O2 -shared -fPIC -o libtasker_mock.so mock-core.c -lpthread
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HANDLE 7
#define RING 65536

static atomic_long outstanding = 0;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long produced = 0, consumed = 0;
static double produced_at[RING];
static int interval_ms = 0;
static int alive = 0;
static pthread_t producer;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *envelope(size_t capacity, const char *format, ...) __attribute__((format(printf, 2, 3)));
static char *envelope(size_t capacity, const char *format, ...) {
  char *text = malloc(capacity);
  va_list args;
  va_start(args, format);
  vsnprintf(text, capacity, format, args);
  va_end(args);
  atomic_fetch_add(&outstanding, 1);
  return text;
}

static char *error(const char *code, const char *message) {
  return envelope(256, "{\"ok\":false,\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, message);
}

void tasker_string_free(char *text) {
  if (text == NULL) return;
  atomic_fetch_sub(&outstanding, 1);
  free(text);
}

long mock_outstanding(void) { return atomic_load(&outstanding); }

char *tasker_echo(const char *payload) {
  if (payload == NULL) return error("NULL_POINTER", "payload is null");
  size_t length = strlen(payload);
  char *text = malloc(length * 6 + 32), *out = text;
  atomic_fetch_add(&outstanding, 1);
  out += sprintf(out, "{\"ok\":true,\"value\":\"");
  for (size_t i = 0; i < length; i++) {
    unsigned char c = (unsigned char)payload[i];
    if (c == '"' || c == '\\') { *out++ = '\\'; *out++ = (char)c; }
    else if (c < 0x20) out += sprintf(out, "\\u%04x", c);
    else *out++ = (char)c;
  }
  strcpy(out, "\"}");
  return text;
}

static void *produce(void *unused) {
  (void)unused;
  for (;;) {
    usleep((useconds_t)interval_ms * 1000);
    pthread_mutex_lock(&mu);
    if (!alive) { pthread_mutex_unlock(&mu); return NULL; }
    produced_at[produced % RING] = now_ms();
    produced++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
  }
}

char *tasker_core_create(const char *config) {
  if (config == NULL) return error("NULL_POINTER", "config is null");
  if (strstr(config, "\"workerId\":\"bad\"") != NULL) return error("CONFIG_INVALID", "workerId bad is refused by the mock");
  pthread_mutex_lock(&mu);
  if (alive) { pthread_mutex_unlock(&mu); return error("INTERNAL", "the mock runs one core at a time"); }
  produced = consumed = 0;
  alive = 1;
  const char *interval = strstr(config, "\"mockIntervalMs\":");
  interval_ms = interval == NULL ? 0 : atoi(interval + strlen("\"mockIntervalMs\":"));
  pthread_mutex_unlock(&mu);
  if (interval_ms > 0) pthread_create(&producer, NULL, produce, NULL);
  return envelope(64, "{\"ok\":true,\"value\":{\"handle\":%d}}", HANDLE);
}

#define CHECK_HANDLE(handle) \
  if ((handle) != HANDLE || !alive) return error("UNKNOWN_HANDLE", "no live core has this handle")

char *tasker_core_next(uint64_t handle, uint32_t max, uint32_t timeout_ms) {
  CHECK_HANDLE(handle);
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000L; }
  pthread_mutex_lock(&mu);
  while (timeout_ms > 0 && produced == consumed && alive) {
    if (pthread_cond_timedwait(&cv, &mu, &deadline) != 0) break;
  }
  size_t capacity = 64 + 640 * ((size_t)(produced - consumed < max ? produced - consumed : max) + 1);
  char *text = malloc(capacity), *out = text;
  out += sprintf(out, "{\"ok\":true,\"value\":[");
  for (uint32_t i = 0; i < max && consumed < produced; i++, consumed++) {
    out += sprintf(out,
      "%s{\"msgId\":%ld,\"taskId\":\"t\",\"stepId\":\"s%ld\",\"stepName\":\"a\",\"handler\":\"h\","
      "\"stepType\":\"standard\",\"attempt\":1,\"maxAttempts\":3,\"delivery\":1,\"timeoutMs\":1000,"
      "\"leaseExpiresAt\":\"2030-01-01T00:00:00.000Z\",\"namespace\":\"ns\",\"taskName\":\"t\","
      "\"taskVersion\":\"1\",\"correlationId\":\"c\",\"context\":{\"producedAt\":%.3f},\"inputs\":{},"
      "\"dependencyResults\":{},\"successors\":[],\"dependencyNames\":[]}",
      i ? "," : "", consumed, consumed, produced_at[consumed % RING]);
  }
  strcpy(out, "]}");
  pthread_mutex_unlock(&mu);
  atomic_fetch_add(&outstanding, 1);
  return text;
}

char *tasker_core_report(uint64_t handle, const char *report) {
  CHECK_HANDLE(handle);
  if (report == NULL) return error("NULL_POINTER", "report is null");
  int retry = strstr(report, "retryable_failure") != NULL;
  return envelope(512,
    "{\"ok\":true,\"value\":{\"stepId\":\"s\",\"accepted\":true,\"reason\":null,\"stepState\":\"%s\","
    "\"taskState\":\"in_progress\",\"nextRetryAt\":%s,\"enqueued\":0}}",
    retry ? "waiting_for_retry" : "complete", retry ? "\"2030-01-01T00:00:01.000Z\"" : "null");
}

char *tasker_core_take_aborted(uint64_t handle) {
  CHECK_HANDLE(handle);
  return envelope(64, "{\"ok\":true,\"value\":[]}");
}

char *tasker_core_take_lapsed(uint64_t handle) {
  CHECK_HANDLE(handle);
  return envelope(64, "{\"ok\":true,\"value\":[]}");
}

char *tasker_core_abandon(uint64_t handle, const char *step_id, int32_t attempt) {
  CHECK_HANDLE(handle);
  (void)attempt;
  return envelope(64, step_id == NULL ? "{\"ok\":false,\"error\":{\"code\":\"NULL_POINTER\",\"message\":\"step_id is NULL\"}}" : "{\"ok\":true,\"value\":false}");
}

char *tasker_core_stats(uint64_t handle) {
  CHECK_HANDLE(handle);
  pthread_mutex_lock(&mu);
  char *text = envelope(512,
    "{\"ok\":true,\"value\":{\"binding\":\"ffi\",\"claimed\":%ld,\"discarded\":0,\"deferred\":0,"
    "\"claimRoundTrips\":0,\"reported\":0,\"rejected\":0,\"reportRoundTrips\":0,\"reportRetries\":0,"
    "\"leaseExtensions\":0,\"released\":0,\"reconnects\":0,\"buffered\":%ld,\"inFlight\":0,\"claimSize\":10}}",
    consumed, produced - consumed);
  pthread_mutex_unlock(&mu);
  return text;
}

char *tasker_core_drain(uint64_t handle, uint32_t timeout_ms) {
  (void)timeout_ms;
  CHECK_HANDLE(handle);
  pthread_mutex_lock(&mu);
  alive = 0;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  if (interval_ms > 0) pthread_join(producer, NULL);
  return envelope(64, "{\"ok\":true,\"value\":{\"abandoned\":0,\"released\":0}}");
}

/*
 * Not in the C ABI: what a callback-based variant would cost. mock_echo_later hands `payload` to
 * a background thread, which calls `callback` with the echo's envelope from that thread (the
 * caller frees it with tasker_string_free). Bun can receive such calls with a threadsafe
 * JSCallback; the bench compares that with a worker thread making a blocking call.
 */
typedef void (*mock_callback)(char *envelope);
static pthread_mutex_t later_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t later_cv = PTHREAD_COND_INITIALIZER;
static char *later_payload = NULL;
static mock_callback later_callback = NULL;
static int later_started = 0;

static void *later_thread(void *unused) {
  (void)unused;
  for (;;) {
    pthread_mutex_lock(&later_mu);
    while (later_payload == NULL) pthread_cond_wait(&later_cv, &later_mu);
    char *payload = later_payload;
    mock_callback callback = later_callback;
    later_payload = NULL;
    pthread_cond_broadcast(&later_cv);
    pthread_mutex_unlock(&later_mu);
    char *answer = tasker_echo(payload);
    free(payload);
    callback(answer);
  }
  return NULL;
}

void mock_echo_later(const char *payload, mock_callback callback) {
  pthread_mutex_lock(&later_mu);
  if (!later_started) {
    pthread_t thread;
    pthread_create(&thread, NULL, later_thread, NULL);
    pthread_detach(thread);
    later_started = 1;
  }
  while (later_payload != NULL) pthread_cond_wait(&later_cv, &later_mu);
  later_payload = strdup(payload);
  later_callback = callback;
  pthread_cond_broadcast(&later_cv);
  pthread_mutex_unlock(&later_mu);
}
