/* A C plugin that exercises the host table the way real plugins will: it calls another plugin's
 * service, keeps a timer, sends work to the thread pool and back, publishes and subscribes to
 * events, writes, reads and watches objects, and tries to register after start (which must be refused). It reports through
 * services of its own, so the tests read the results as a user would with `skiff call`. */
#include <skiff.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const skiff_host *host;
static skiff_ctx *context;
static int64_t sum_from_service = -1;
static int64_t timer_fires;
static int64_t work_ran_off_loop = -1, after_ran_on_loop = -1;
static int64_t object_revision;
static char object_copy[256];
static char last_change[300];
static int64_t pings;

static void copy_object(void *arg, const char *json, size_t len) {
  (void)arg;
  size_t n = len < sizeof object_copy - 1 ? len : sizeof object_copy - 1;
  memcpy(object_copy, json, n);
  object_copy[n] = '\0';
}

static void on_widget(void *arg, const char *type, const char *json, size_t len) {
  (void)arg;
  snprintf(last_change, sizeof last_change, "%s %.*s", type, (int)len, json);
}

static void on_ping(void *arg, const char *topic, const char *json, size_t len) {
  (void)arg, (void)json;
  if (strcmp(topic, "hostcheck.ping") == 0 && len > 0) pings++;
}

static void work(void *arg) {
  (void)arg;
  work_ran_off_loop = !host->on_loop(context);
}

static void after(void *arg) {
  (void)arg;
  after_ran_on_loop = host->on_loop(context);
  const char *event = "{\"work\":\"done\"}";
  host->event_publish(context, "hostcheck.work", event, strlen(event));
}

static void tick(skiff_timer *timer, void *arg) {
  (void)arg;
  host->counter_add(context, "ticks", 1);
  host->gauge_set(context, "last_tick", (double)(timer_fires + 1));
  if (++timer_fires == 3) {
    host->timer_stop(context, timer);
    host->queue_work(context, work, after, NULL);
  }
}

static int64_t fires(void) { return timer_fires; }
static int64_t sum(void) { return sum_from_service; }
static int32_t worked(void) { return (int32_t)(work_ran_off_loop * 10 + after_ran_on_loop); }
static const char *object(void) { return object_copy; }
static int64_t revision(void) { return object_revision; }
static const char *watched(void) { return last_change; }
static int64_t pinged(void) { return pings; }

/* Registration after start must be refused: returns the status the host gave. */
static int32_t register_late(void) {
  static const skiff_scheduler_plugin late = {SKIFF_HEADER_INIT(skiff_scheduler_plugin), .name = "Late"};
  return (int32_t)host->register_scheduler(context, &late);
}

static skiff_status start(skiff_ctx *ctx, const char *config, size_t len) {
  (void)config, (void)len;
  context = ctx;

  int64_t a = 40, b = 2;
  void *args[] = {&a, &b};
  int64_t result = 0;
  if (host->service_call(ctx, "swifttest.add", &result, args) == SKIFF_OK) sum_from_service = result;

  skiff_watch *watch, *subscription;
  host->object_watch(ctx, "widgets", on_widget, NULL, &watch);
  host->event_subscribe(ctx, "hostcheck.ping", on_ping, NULL, &subscription);

  const char *json = "{\"kind\":\"Widget\",\"name\":\"w1\"}";
  uint64_t rev = 0;
  if (host->object_put(ctx, "widgets", "default", "w1", json, strlen(json), 0, &rev) == SKIFF_OK) {
    object_revision = (int64_t)rev;
    host->object_get(ctx, "widgets", "default", "w1", copy_object, NULL);
  }

  host->timer_start(ctx, 1, 1, tick, NULL);

  host->service_register(ctx, "hostcheck.fires", "l()", (void (*)(void))fires);
  host->service_register(ctx, "hostcheck.sum", "l()", (void (*)(void))sum);
  host->service_register(ctx, "hostcheck.worked", "i()", (void (*)(void))worked);
  host->service_register(ctx, "hostcheck.object", "s()", (void (*)(void))object);
  host->service_register(ctx, "hostcheck.revision", "l()", (void (*)(void))revision);
  host->service_register(ctx, "hostcheck.watched", "s()", (void (*)(void))watched);
  host->service_register(ctx, "hostcheck.pinged", "l()", (void (*)(void))pinged);
  host->service_register(ctx, "hostcheck.register_late", "i()", (void (*)(void))register_late);
  return SKIFF_OK;
}

SKIFF_EXPORT int skiff_plugin_init(const skiff_host *h, skiff_plugin *plugin) {
  static const char *const requirements[] = {"swifttest", NULL};
  host = h;
  plugin->abi_version = SKIFF_ABI_VERSION;
  plugin->struct_size = sizeof(skiff_plugin);
  plugin->name = "hostcheck";
  plugin->version = "0.0.1";
  plugin->kind = SKIFF_KIND_SCHEDULER;
  plugin->requires = requirements;
  plugin->start = start;
  return 0;
}
