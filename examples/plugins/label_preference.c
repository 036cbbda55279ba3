/*
 * label_preference.c — a Skiff scheduler plugin in plain C, built against skiff.h alone:
 *
 *     cc -shared -fPIC -O2 -I Sources/SkiffABI/include \
 *        -o libskiff_labelpref.so examples/plugins/label_preference.c
 *
 * It registers the scheduler extension "LabelPreference":
 *   filter  rejects nodes without `requireLabel` (when configured), in Kubernetes' words;
 *   score   gives SKIFF_MAX_NODE_SCORE to nodes carrying `preferLabel`, 0 to the rest.
 * Configuration (the profile's `config:` block):
 *   { "requireLabel": "key=value", "preferLabel": "key=value" }   both optional
 */
#include <skiff.h>

#include <stdio.h>
#include <string.h>

static const skiff_host *host;
static skiff_ctx *context;

typedef struct label_rule {
  int set;
  skiff_str key;
  skiff_str value;
  char text[256];
} label_rule;

static label_rule required, preferred;

static int node_has(const skiff_node *node, const label_rule *rule) {
  for (uint32_t i = 0; i < node->n_labels; i++)
    if (node->labels[i].key == rule->key && node->labels[i].value == rule->value) return 1;
  return 0;
}

static skiff_status filter(void *self, skiff_cycle *cycle, const skiff_pod *pod,
                           const skiff_node *node) {
  (void)self, (void)pod;
  if (!required.set || node_has(node, &required)) return SKIFF_OK;
  char reason[300];
  snprintf(reason, sizeof reason, "node(s) didn't have label %s", required.text);
  host->set_reason(cycle, reason);
  return SKIFF_UNSCHEDULABLE_AND_UNRESOLVABLE;
}

static skiff_status score(void *self, skiff_cycle *cycle, const skiff_pod *pod,
                          const skiff_node *node, int64_t *out) {
  (void)self, (void)cycle, (void)pod;
  *out = preferred.set && node_has(node, &preferred) ? SKIFF_MAX_NODE_SCORE : 0;
  return SKIFF_OK;
}

/* Finds "key": "value" in a flat JSON object and copies the value. The kernel hands over
 * compact JSON it rendered itself, so a full parser is not needed for this example. */
static int json_string(const char *json, size_t len, const char *key, char *out, size_t cap) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
  size_t plen = strlen(pattern);
  for (size_t i = 0; i + plen <= len; i++) {
    if (memcmp(json + i, pattern, plen) != 0) continue;
    size_t start = i + plen, end = start;
    while (end < len && json[end] != '"') end++;
    if (end >= len || end - start >= cap) return -1;
    memcpy(out, json + start, end - start);
    out[end - start] = '\0';
    return 1;
  }
  return 0;
}

/* Parses "key=value" into interned ids; logs and fails on anything else. */
static skiff_status parse_rule(const char *json, size_t len, const char *field, label_rule *rule) {
  int found = json_string(json, len, field, rule->text, sizeof rule->text);
  if (found == 0) return SKIFF_OK;
  char *eq = found > 0 ? strchr(rule->text, '=') : NULL;
  if (!eq || eq == rule->text) {
    char message[128];
    snprintf(message, sizeof message, "config.%s must be a string \"key=value\"", field);
    host->log(context, SKIFF_LOG_ERROR, message);
    return SKIFF_INVALID;
  }
  *eq = '\0';
  rule->key = host->intern(context, rule->text);
  rule->value = host->intern(context, eq + 1);
  *eq = '=';
  rule->set = 1;
  return SKIFF_OK;
}

static skiff_status start(skiff_ctx *ctx, const char *config, size_t len) {
  context = ctx;
  skiff_status status = parse_rule(config, len, "requireLabel", &required);
  if (status == SKIFF_OK) status = parse_rule(config, len, "preferLabel", &preferred);
  if (status != SKIFF_OK) return status;

  static const skiff_scheduler_plugin vtable = {
      SKIFF_HEADER_INIT(skiff_scheduler_plugin),
      .name = "LabelPreference",
      .filter = filter,
      .score = score,
  };
  return host->register_scheduler(ctx, &vtable);
}

SKIFF_EXPORT int skiff_plugin_init(const skiff_host *h, skiff_plugin *plugin) {
  if (h->abi_version < 1 || plugin->struct_size < sizeof(skiff_plugin)) return 1;
  host = h;
  plugin->abi_version = SKIFF_ABI_VERSION;
  plugin->struct_size = sizeof(skiff_plugin);
  plugin->name = "labelpref";
  plugin->version = "1.0.0";
  plugin->kind = SKIFF_KIND_SCHEDULER;
  plugin->description = "prefers or requires nodes with a label";
  plugin->start = start;
  return 0;
}
