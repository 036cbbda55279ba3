/*
 * custom_binder.c — a bind plugin in plain C for the scheduling tests: it takes over binding of
 * pods labelled `binder=custom` (binding them through host->cycle_bind and counting them), holds
 * pods labelled `binder=hold` (says it bound them, binds nothing, counts them) and SKIPs every
 * other pod, which passes it to the next bind plugin (DefaultBinder).
 */
#include <skiff.h>

#include <stddef.h>

static const skiff_host *host;
static skiff_ctx *context;
static skiff_str binder_key, custom_value, hold_value;

static skiff_str label(const skiff_pod *pod, skiff_str key) {
  for (uint32_t i = 0; i < pod->n_labels; i++)
    if (pod->labels[i].key == key) return pod->labels[i].value;
  return 0;
}

static skiff_status bind(void *self, skiff_cycle *cycle, const skiff_pod *pod, const skiff_node *node) {
  (void)self;
  skiff_str value = label(pod, binder_key);
  if (value == hold_value) {
    host->counter_add(context, "held", 1);
    return SKIFF_OK;
  }
  if (value != custom_value) return SKIFF_SKIP;
  /* A host older than ABI 3 has no cycle_bind: say so instead of calling past its table. */
  if (host->struct_size < offsetof(skiff_host, cycle_bind) + sizeof host->cycle_bind) return SKIFF_ERROR;
  skiff_status status = host->cycle_bind(cycle, pod, node);
  if (status == SKIFF_OK) host->counter_add(context, "bound", 1);
  return status;
}

static skiff_status start(skiff_ctx *ctx, const char *config, size_t len) {
  (void)config, (void)len;
  context = ctx;
  binder_key = host->intern(ctx, "binder");
  custom_value = host->intern(ctx, "custom");
  hold_value = host->intern(ctx, "hold");
  static const skiff_scheduler_plugin vtable = {
      SKIFF_HEADER_INIT(skiff_scheduler_plugin),
      .name = "CustomBinder",
      .bind = bind,
  };
  return host->register_scheduler(ctx, &vtable);
}

SKIFF_EXPORT int skiff_plugin_init(const skiff_host *h, skiff_plugin *plugin) {
  if (h->abi_version < 1 || plugin->struct_size < sizeof(skiff_plugin)) return 1;
  host = h;
  plugin->abi_version = SKIFF_ABI_VERSION;
  plugin->struct_size = sizeof(skiff_plugin);
  plugin->name = "custombinder";
  plugin->version = "1.0.0";
  plugin->kind = SKIFF_KIND_SCHEDULER;
  plugin->description = "binds pods labelled binder=custom itself";
  plugin->start = start;
  return 0;
}
