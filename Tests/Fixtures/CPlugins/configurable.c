/* A C plugin whose every property is a -D flag, so the loader tests can build each way a plugin
 * can be broken: wrong ABI, short descriptor, failing init or start, odd requirements. */
#include <skiff.h>

#ifndef NAME
#define NAME "configurable"
#endif
#ifndef ABI
#define ABI SKIFF_ABI_VERSION
#endif
#ifndef SIZE
#define SIZE sizeof(skiff_plugin)
#endif
#ifndef INIT_RESULT
#define INIT_RESULT 0
#endif
#ifndef START_STATUS
#define START_STATUS SKIFF_OK
#endif
#ifndef REQUIRES
#define REQUIRES
#endif
#ifndef ENTRY
#define ENTRY skiff_plugin_init
#endif

static const skiff_host *host;
static const char *const requirements[] = {REQUIRES NULL};

static skiff_status start(skiff_ctx *ctx, const char *config, size_t len) {
  (void)config, (void)len;
  if (START_STATUS != SKIFF_OK) host->log(ctx, SKIFF_LOG_ERROR, "cannot reach the frobnicator");
  else host->log(ctx, SKIFF_LOG_INFO, "start " NAME);
  return START_STATUS;
}

static void stop(skiff_ctx *ctx) { host->log(ctx, SKIFF_LOG_INFO, "stop " NAME); }

SKIFF_EXPORT int ENTRY(const skiff_host *h, skiff_plugin *plugin) {
  host = h;
  plugin->abi_version = ABI;
  plugin->struct_size = SIZE;
  plugin->name = NAME;
  plugin->version = "0.0.1";
  plugin->kind = SKIFF_KIND_SCHEDULER;
  plugin->requires = requirements;
  plugin->start = start;
  plugin->stop = stop;
  return INIT_RESULT;
}
