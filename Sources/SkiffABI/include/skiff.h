/*
 * skiff.h — the Skiff plugin ABI. The one file a plugin author needs.
 *
 * A plugin is a shared library that exports exactly one symbol:
 *
 *     int skiff_plugin_init(const skiff_host *host, skiff_plugin *plugin);
 *
 * The kernel dlopen()s the library, checks the ABI version and struct sizes, calls
 * skiff_plugin_init to learn the plugin's name, kind and what it requires, orders all plugins by
 * those requirements, then calls each plugin's `start` in that order and `stop` in reverse.
 *
 * Rules (see DESIGN.md):
 *   1. Only C types cross this boundary.
 *   2. Every struct that crosses starts with `uint32_t abi_version; uint32_t struct_size;`.
 *      Fields are only ever appended; a receiver copies min(struct_size, its own size) and reads
 *      anything past the sender's size as zero/NULL. Changing a layout means bumping
 *      SKIFF_ABI_VERSION (Tests/SkiffABITests checks this against recorded layouts).
 *   3. Registration (extensions, services) happens only inside `start`; afterwards the registry
 *      is frozen and registration calls return SKIFF_INVALID.
 *   4. Whoever allocates frees. Memory the kernel hands to a callback is borrowed for that call;
 *      memory a plugin hands to the kernel is copied by the kernel before the call returns.
 *   5. Every optional slot may be NULL; the kernel checks before calling.
 *   6. Hot paths (the scheduler) pass kernel-owned structs; cold paths pass JSON (UTF-8, not
 *      necessarily NUL-terminated: lengths travel with the pointer).
 *
 * Threads: "loop" below means the kernel's single event-loop thread. Unless a slot says otherwise,
 * the kernel calls plugins on the loop thread, and a plugin must not block there: blocking work
 * goes through host->queue_work or the plugin's own threads.
 */
#ifndef SKIFF_H
#define SKIFF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever any struct below changes size or field offsets.
 *   1  the first layout
 *   2  skiff_host.cycle_nodes, cycle_filter_without and cycle_preempt appended
 *   3  skiff_disruption_budget; skiff_host.cycle_disruption_budgets and cycle_bind appended;
 *      SKIFF_POD_PREEMPT_NEVER
 *   4  skiff_host.cycle_changed_nodes and cycle_reject_nodes appended */
#define SKIFF_ABI_VERSION 4u

/* The exported entry symbol's name, for dlsym and for `#define SKIFF_EXPORT`. */
#define SKIFF_ENTRY_SYMBOL "skiff_plugin_init"

#if defined(__GNUC__) || defined(__clang__)
#define SKIFF_EXPORT __attribute__((visibility("default")))
#else
#define SKIFF_EXPORT
#endif

/* Fills the two header fields of any ABI struct in a designated initializer:
 *     static skiff_scheduler_plugin vt = {SKIFF_HEADER_INIT(skiff_scheduler_plugin), .name = "X"}; */
#define SKIFF_HEADER_INIT(type) .abi_version = SKIFF_ABI_VERSION, .struct_size = (uint32_t)sizeof(type)

/* ---------------------------------------------------------------------------------------------
 * Status
 * ------------------------------------------------------------------------------------------ */

/* One status enum for every call across the ABI. The scheduling meanings follow the Kubernetes
 * scheduling framework; each is documented by its consequence. A plugin that returns anything but
 * SKIFF_OK should write a human-readable reason with host->set_reason (scheduler) or return it in
 * its completion JSON (other kinds). */
typedef enum skiff_status {
  SKIFF_OK = 0,
  /* Internal error. Scheduler: the pod goes to the back-off queue; no preemption. Elsewhere: the
   * operation failed and the caller reports the reason. */
  SKIFF_ERROR = 1,
  /* The pod does not fit this node now; preemption (post_filter) may make it fit. */
  SKIFF_UNSCHEDULABLE = 2,
  /* The pod does not fit this node and preempting pods would not change that. */
  SKIFF_UNSCHEDULABLE_AND_UNRESOLVABLE = 3,
  /* permit only: hold the pod at Permit until allowed, rejected or timed out. */
  SKIFF_WAIT = 4,
  /* pre_filter/pre_score: this plugin has nothing to do for this pod; its filter/score is not
   * called in this cycle. */
  SKIFF_SKIP = 5,
  /* pre_enqueue: the pod is not ready to be scheduled yet (e.g. a gang is incomplete). It waits in
   * the unschedulable pool until a cluster event re-queues it. */
  SKIFF_PENDING = 6,
  /* Host-call results. */
  SKIFF_NOT_FOUND = 7,   /* the named object, service or handle does not exist */
  SKIFF_INVALID = 8,     /* bad arguments, or registration outside `start` */
  SKIFF_CONFLICT = 9,    /* a name is already taken, or a revision did not match */
  SKIFF_UNSUPPORTED = 10 /* the slot or operation is not provided */
} skiff_status;

/* ---------------------------------------------------------------------------------------------
 * Opaque kernel handles
 * ------------------------------------------------------------------------------------------ */

typedef struct skiff_ctx skiff_ctx;     /* one per loaded plugin; first argument of host calls */
typedef struct skiff_cycle skiff_cycle; /* one scheduling cycle of one pod */
typedef struct skiff_timer skiff_timer; /* a loop timer */
typedef struct skiff_watch skiff_watch; /* an object watch or event subscription */
typedef struct skiff_host skiff_host;   /* the kernel's function table, defined at the end */

/* A completion for asynchronous operations (runtime, network, storage, device, autoscaler). The
 * plugin calls `fn(token, status, json, len)` exactly once, from any thread; the kernel copies
 * `json` before returning and delivers the result on the loop. `json` is the operation's result on
 * SKIFF_OK and `{"reason": "...", "message": "..."}` otherwise. A slot that takes a `done` and
 * returns anything but SKIFF_OK has NOT taken it and must never call it; a slot that returns
 * SKIFF_OK calls it exactly once, also for failures found later. */
typedef void (*skiff_done_fn)(void *token, skiff_status status, const char *json, size_t len);
typedef struct skiff_done {
  skiff_done_fn fn;
  void *token;
} skiff_done;

/* A borrowed view of bytes, valid only during the callback that receives it. Synchronous slots
 * that answer through such a callback send their result on SKIFF_OK and, on failure, return the
 * error status after sending `{"reason": "...", "message": "..."}`. */
typedef void (*skiff_bytes_cb)(void *arg, const char *data, size_t len);

/* ---------------------------------------------------------------------------------------------
 * Plugin descriptor — filled by skiff_plugin_init
 * ------------------------------------------------------------------------------------------ */

typedef enum skiff_plugin_kind {
  SKIFF_KIND_SCHEDULER = 1,
  SKIFF_KIND_RUNTIME = 2,
  SKIFF_KIND_NETWORK = 3,
  SKIFF_KIND_STORAGE = 4,
  SKIFF_KIND_DEVICE = 5,
  SKIFF_KIND_AUTOSCALER = 6
} skiff_plugin_kind;

/* The kernel allocates this struct, zeroes it, sets abi_version/struct_size to its own values and
 * hands it to skiff_plugin_init, which fills the rest. skiff_plugin_init returns 0 on success; it
 * must not call host functions other than `log`, with a NULL ctx (nothing is running yet). A plugin built against
 * a newer header must check `plugin->struct_size` before writing fields the kernel may not have.
 * All strings are owned by the plugin and must stay valid until the process exits (string
 * literals are ideal). */
typedef struct skiff_plugin {
  uint32_t abi_version; /* kernel: the host's ABI version. plugin: overwrite with its own */
  uint32_t struct_size; /* kernel: sizeof on the host side. plugin: overwrite with its own */
  const char *name;     /* unique across the profile; [a-z0-9][a-z0-9-_.]* */
  const char *version;  /* the plugin's own version, free form ("1.2.0") */
  skiff_plugin_kind kind;
  uint32_t reserved0;
  const char *description;     /* one line, shown by `skiff plugins` (optional) */
  const char *const *requires; /* NULL-terminated names of plugins that must start first (optional) */
  /* Called on the loop, in dependency order. `config_json` is the profile's `config:` block as a
   * JSON object ("{}" when absent), borrowed for the call. Register extensions and services here.
   * Return SKIFF_OK, or an error status after host->log explains why; loading then stops and the
   * already-started plugins are stopped in reverse order. */
  skiff_status (*start)(skiff_ctx *ctx, const char *config_json, size_t config_len);
  /* Called on the loop in reverse start order during shutdown (optional). Release everything.
   * Not called for a plugin whose `start` failed: `start` cleans up after itself before failing.
   * After `stop` the ctx is gone: work still finishing on other threads must not call the host. */
  void (*stop)(skiff_ctx *ctx);
} skiff_plugin;

typedef int (*skiff_plugin_init_fn)(const skiff_host *host, skiff_plugin *plugin);

/* ---------------------------------------------------------------------------------------------
 * Scheduler — kernel-owned structs valid for one scheduling cycle (no JSON on this path)
 * ------------------------------------------------------------------------------------------ */

/* Strings that the scheduler compares (label keys and values, resource names, taint keys,
 * topology keys, node names) are interned: equal strings have equal ids, 0 is "no string".
 * host->intern turns a string into its id (call it in `start` for the names a plugin compares
 * against) and host->string turns an id back. */
typedef uint32_t skiff_str;

typedef struct skiff_label {
  skiff_str key;
  skiff_str value;
} skiff_label;

/* An extended resource quantity, e.g. { intern("nvidia.com/gpu"), 2 }. */
typedef struct skiff_scalar {
  skiff_str name;
  uint32_t reserved0;
  int64_t value;
} skiff_scalar;

/* A resource vector. cpu in millicores, memory and ephemeral storage in bytes. */
typedef struct skiff_resources {
  int64_t milli_cpu;
  int64_t memory;
  int64_t ephemeral_storage;
  int64_t pods;
  const skiff_scalar *scalars; /* extended resources, sorted by name id */
  uint32_t n_scalars;
  uint32_t reserved0;
} skiff_resources;

typedef enum skiff_taint_effect {
  SKIFF_EFFECT_ANY = 0, /* tolerations only: empty effect matches every effect */
  SKIFF_EFFECT_NO_SCHEDULE = 1,
  SKIFF_EFFECT_PREFER_NO_SCHEDULE = 2,
  SKIFF_EFFECT_NO_EXECUTE = 3
} skiff_taint_effect;

typedef struct skiff_taint {
  skiff_str key;
  skiff_str value;
  skiff_taint_effect effect;
  uint32_t reserved0;
} skiff_taint;

typedef enum skiff_toleration_op {
  SKIFF_TOLERATION_EQUAL = 0,
  SKIFF_TOLERATION_EXISTS = 1
} skiff_toleration_op;

typedef struct skiff_toleration {
  skiff_str key; /* 0 with EXISTS tolerates every taint */
  skiff_str value;
  skiff_toleration_op op;
  skiff_taint_effect effect;
  int64_t toleration_seconds; /* -1 when unset */
} skiff_toleration;

typedef enum skiff_selector_op {
  SKIFF_SELECTOR_IN = 0,
  SKIFF_SELECTOR_NOT_IN = 1,
  SKIFF_SELECTOR_EXISTS = 2,
  SKIFF_SELECTOR_DOES_NOT_EXIST = 3,
  SKIFF_SELECTOR_GT = 4, /* node affinity only; the single value parsed as an integer */
  SKIFF_SELECTOR_LT = 5
} skiff_selector_op;

typedef struct skiff_requirement {
  skiff_str key;
  skiff_selector_op op;
  const skiff_str *values;
  uint32_t n_values;
  uint32_t reserved0;
} skiff_requirement;

/* A label selector: all requirements must hold (matchLabels become IN requirements). */
typedef struct skiff_selector {
  const skiff_requirement *requirements;
  uint32_t n_requirements;
  uint32_t reserved0;
} skiff_selector;

/* One nodeSelectorTerm: matchExpressions over labels and matchFields (metadata.name). */
typedef struct skiff_node_term {
  skiff_selector match_labels;
  skiff_selector match_fields;
} skiff_node_term;

typedef struct skiff_preferred_node_term {
  int32_t weight; /* 1..100 */
  uint32_t reserved0;
  skiff_node_term term;
} skiff_preferred_node_term;

/* A pod (anti-)affinity term. Namespaces are interned names; none means the pod's own. */
typedef struct skiff_pod_term {
  skiff_selector selector;
  const skiff_str *namespaces;
  uint32_t n_namespaces;
  skiff_str topology_key;
  int32_t weight; /* preferred terms: 1..100; required terms: 0 */
  uint32_t reserved0;
} skiff_pod_term;

typedef enum skiff_unsatisfiable_action {
  SKIFF_SPREAD_DO_NOT_SCHEDULE = 0,
  SKIFF_SPREAD_SCHEDULE_ANYWAY = 1
} skiff_unsatisfiable_action;

typedef struct skiff_spread_constraint {
  int32_t max_skew;
  int32_t min_domains; /* 0 when unset */
  skiff_str topology_key;
  skiff_unsatisfiable_action when_unsatisfiable;
  skiff_selector selector;
} skiff_spread_constraint;

typedef struct skiff_port {
  int32_t port;
  uint32_t protocol; /* interned "TCP", "UDP" or "SCTP" */
  skiff_str host_ip; /* 0 = all addresses */
  uint32_t reserved0;
} skiff_port;

/* A pod as the scheduler sees it. Owned by the kernel, valid for the cycle (and, for pods placed
 * on a node, for as long as the node's snapshot entry lists it). */
typedef struct skiff_pod {
  uint32_t abi_version;
  uint32_t struct_size;
  uint64_t id;          /* stable for the pod's lifetime in this process */
  skiff_str namespace_; /* interned */
  skiff_str name;
  skiff_str uid;
  skiff_str node_name;      /* spec.nodeName (0 when unset) */
  skiff_str scheduler_name; /* spec.schedulerName */
  skiff_str priority_class;
  int32_t priority; /* spec.priority after PriorityClass resolution */
  uint32_t flags;   /* SKIFF_POD_* below */
  int64_t creation_unix_ns;
  skiff_resources requests; /* effective requests: max(init containers) vs sum(containers) + overhead */
  const skiff_label *labels;
  uint32_t n_labels;
  uint32_t n_node_selector;
  const skiff_label *node_selector; /* spec.nodeSelector */
  const skiff_toleration *tolerations;
  uint32_t n_tolerations;
  uint32_t n_required_node_terms;
  const skiff_node_term *required_node_terms; /* ORed */
  const skiff_preferred_node_term *preferred_node_terms;
  uint32_t n_preferred_node_terms;
  uint32_t n_affinity;
  const skiff_pod_term *affinity; /* required pod affinity */
  const skiff_pod_term *preferred_affinity;
  uint32_t n_preferred_affinity;
  uint32_t n_anti_affinity;
  const skiff_pod_term *anti_affinity;
  const skiff_pod_term *preferred_anti_affinity;
  uint32_t n_preferred_anti_affinity;
  uint32_t n_spread;
  const skiff_spread_constraint *spread;
  const skiff_port *host_ports;
  uint32_t n_host_ports;
  skiff_str group; /* gang name (pod group) or 0 */
  int32_t group_min_member;
  uint32_t reserved0;
} skiff_pod;

#define SKIFF_POD_TERMINATING 0x1u /* deletionTimestamp set */
#define SKIFF_POD_NOMINATED 0x2u   /* status.nominatedNodeName set (preemption in flight) */
/* ABI 3: preemptionPolicy Never (from the pod's spec or its PriorityClass): the pod waits for room
 * and never evicts others to make it. */
#define SKIFF_POD_PREEMPT_NEVER 0x4u

/* ABI 3: a PodDisruptionBudget as preemption sees it: the pods it covers and how many of them may
 * still be disrupted (status.disruptionsAllowed). An empty selector covers no pod, as in
 * Kubernetes' preemption. */
typedef struct skiff_disruption_budget {
  skiff_str namespace_;
  int32_t disruptions_allowed;
  skiff_selector selector;
} skiff_disruption_budget;

/* A node and what is placed on it, as of this cycle (including pods assumed by earlier cycles
 * whose binding has not been stored yet). */
typedef struct skiff_node {
  uint32_t abi_version;
  uint32_t struct_size;
  uint64_t id;
  skiff_str name;
  uint32_t flags; /* SKIFF_NODE_* below */
  skiff_resources allocatable;
  skiff_resources requested; /* sum of the effective requests of the pods below */
  const skiff_label *labels;
  uint32_t n_labels;
  uint32_t n_taints;
  const skiff_taint *taints;
  const skiff_pod *const *pods;
  uint32_t n_pods;
  uint32_t n_used_ports;
  const skiff_port *used_ports;
  uint64_t generation; /* changes whenever anything above changes */
} skiff_node;

#define SKIFF_NODE_UNSCHEDULABLE 0x1u /* spec.unschedulable */
#define SKIFF_NODE_NOT_READY 0x2u
/* ABI 2: a pod placed on the node has pod affinity or anti-affinity terms (required or
 * preferred), so plugins looking for placed pods' terms about an incoming pod can skip the rest,
 * as kube-scheduler keeps its PodsWithAffinity lists. */
#define SKIFF_NODE_HAS_AFFINITY_PODS 0x4u

/* One node's score for normalize_score; scores end in [0, SKIFF_MAX_NODE_SCORE]. */
typedef struct skiff_node_score {
  const skiff_node *node;
  int64_t score;
} skiff_node_score;

#define SKIFF_MAX_NODE_SCORE 100

/* What a filter said about one node, for post_filter. */
typedef struct skiff_node_verdict {
  const skiff_node *node;
  skiff_status status;
  uint32_t reserved0;
  const char *plugin; /* the plugin that rejected it, NULL when status is SKIFF_OK */
  const char *reason;
} skiff_node_verdict;

/* A scheduler plugin: the extension points of the Kubernetes scheduling framework. A plugin fills
 * only the slots it implements; NULL slots are skipped. Every slot runs on the scheduler's thread
 * (the loop unless a profile says otherwise) and must not block. `self` is the vtable's `self`.
 * Pod and node pointers are borrowed for the call; they stay valid for the cycle.
 * Cycle-scoped data: host->cycle_set / cycle_get keep one pointer per (cycle, plugin).
 * A reason for any status other than SKIFF_OK goes through host->set_reason(cycle, "..."),
 * in Kubernetes' words ("Insufficient nvidia.com/gpu"). */
typedef struct skiff_scheduler_plugin {
  uint32_t abi_version;
  uint32_t struct_size;
  const char *name; /* as named in a profile's plugins: lists, e.g. "NodeResourcesFit" */
  void *self;

  /* Before the pod enters the active queue. SKIFF_OK admits it; SKIFF_PENDING parks it. */
  skiff_status (*pre_enqueue)(void *self, const skiff_pod *pod);
  /* Queue order: nonzero when `a` should be scheduled before `b`. At most one per profile. */
  int (*queue_sort_less)(void *self, const skiff_pod *a, int64_t a_enqueued_ns,
                         const skiff_pod *b, int64_t b_enqueued_ns);
  /* Once per cycle before filter. May narrow the nodes to consider by writing up to
   * `*n_nodes` node names into `nodes` and setting `*n_nodes`; leave it unchanged for all.
   * SKIFF_SKIP skips this plugin's filter for the cycle. */
  skiff_status (*pre_filter)(void *self, skiff_cycle *cycle, const skiff_pod *pod,
                             skiff_str *nodes, uint32_t *n_nodes);
  /* Does the pod fit this node? Called once per (pod, candidate node); the hot path. */
  skiff_status (*filter)(void *self, skiff_cycle *cycle, const skiff_pod *pod,
                         const skiff_node *node);
  /* Called when no node passed filter (e.g. preemption). On success writes the nominated node's
   * name to `*nominated` and returns SKIFF_OK; otherwise SKIFF_UNSCHEDULABLE. */
  skiff_status (*post_filter)(void *self, skiff_cycle *cycle, const skiff_pod *pod,
                              const skiff_node_verdict *verdicts, uint32_t n_verdicts,
                              skiff_str *nominated);
  /* Once per cycle before score, with the nodes that passed filter. SKIFF_SKIP skips score. */
  skiff_status (*pre_score)(void *self, skiff_cycle *cycle, const skiff_pod *pod,
                            const skiff_node *const *nodes, uint32_t n_nodes);
  /* Rank a feasible node: write a score to `*score`. */
  skiff_status (*score)(void *self, skiff_cycle *cycle, const skiff_pod *pod,
                        const skiff_node *node, int64_t *score);
  /* Rescale this plugin's scores into [0, SKIFF_MAX_NODE_SCORE] in place. */
  skiff_status (*normalize_score)(void *self, skiff_cycle *cycle, const skiff_pod *pod,
                                  skiff_node_score *scores, uint32_t n_scores);
  /* The pod is assumed on `node`: account for it. Must be undone by unreserve. */
  skiff_status (*reserve)(void *self, skiff_cycle *cycle, const skiff_pod *pod,
                          const skiff_node *node);
  /* Undo reserve after a later failure. Must not fail. */
  void (*unreserve)(void *self, skiff_cycle *cycle, const skiff_pod *pod, const skiff_node *node);
  /* SKIFF_OK lets binding proceed, SKIFF_WAIT holds the pod for up to `*timeout_ms` until
   * host->permit_allow / permit_reject, anything else rejects (unreserve runs). */
  skiff_status (*permit)(void *self, skiff_cycle *cycle, const skiff_pod *pod,
                         const skiff_node *node, uint64_t *timeout_ms);
  /* Binding cycle; may run after later scheduling cycles have started. SKIFF_SKIP from bind
   * passes to the next binder. */
  skiff_status (*pre_bind)(void *self, skiff_cycle *cycle, const skiff_pod *pod,
                           const skiff_node *node);
  skiff_status (*bind)(void *self, skiff_cycle *cycle, const skiff_pod *pod,
                       const skiff_node *node);
  void (*post_bind)(void *self, skiff_cycle *cycle, const skiff_pod *pod, const skiff_node *node);
} skiff_scheduler_plugin;

/* ---------------------------------------------------------------------------------------------
 * Runtime — container sandboxes and containers (cold path: JSON specs, asynchronous completion)
 * ------------------------------------------------------------------------------------------ */

/* Every slot is called on the loop, must return promptly, and reports through `done` exactly once
 * (from any thread). Specs and results are JSON in the shape of the CRI messages of the same name
 * (PodSandboxConfig, ContainerConfig, ContainerStatus, ...), documented in docs/runtime.md. A slot
 * returning anything but SKIFF_OK has not taken `done` and must not call it. */
typedef struct skiff_runtime_plugin {
  uint32_t abi_version;
  uint32_t struct_size;
  const char *name; /* the handler a RuntimeClass or profile names, e.g. "process", "oci" */
  void *self;

  skiff_status (*sandbox_create)(void *self, const char *config, size_t len, skiff_done done);
  skiff_status (*sandbox_stop)(void *self, const char *sandbox_id, skiff_done done);
  skiff_status (*sandbox_remove)(void *self, const char *sandbox_id, skiff_done done);
  skiff_status (*container_create)(void *self, const char *sandbox_id, const char *config,
                                   size_t len, skiff_done done);
  skiff_status (*container_start)(void *self, const char *container_id, skiff_done done);
  /* Sends SIGTERM, then SIGKILL after `grace_seconds`. */
  skiff_status (*container_stop)(void *self, const char *container_id, int64_t grace_seconds,
                                 skiff_done done);
  skiff_status (*container_remove)(void *self, const char *container_id, skiff_done done);
  /* Result: ContainerStatus JSON. `container_id` NULL lists all containers (re-adoption). */
  skiff_status (*container_status)(void *self, const char *container_id, skiff_done done);
  /* Result: {"path": "..."} of the container's log file (CRI log format). */
  skiff_status (*container_logs)(void *self, const char *container_id, skiff_done done);
  /* Request JSON: {"cmd": [...], "tty": bool, "stdin": bool, "stream": bool}. Result, once the
   * command ends: {"exitCode": n, "stdout": "...", "stderr": "..."}. With tty, stdin or stream
   * true, at once: {"fd": n}, a connected socket the caller owns (and closes) carrying frames
   * [channel u8][length u32 big-endian][payload]: 0 stdin, 1 stdout, 2 stderr, 3 the final
   * {"exitCode": n}, 4 resize {"Width", "Height"}, 255 [0] close stdin (docs/runtime.md). */
  skiff_status (*exec)(void *self, const char *container_id, const char *request, size_t len,
                       skiff_done done);
  /* Request JSON: {"image": "ref", "auth": {...}}. Result: {"imageRef": "..."}. */
  skiff_status (*image_pull)(void *self, const char *request, size_t len, skiff_done done);
  /* Result: {"images": [{"id", "repoTags", "size"}]}. */
  skiff_status (*image_list)(void *self, skiff_done done);
} skiff_runtime_plugin;

/* ---------------------------------------------------------------------------------------------
 * Network — pod addresses, service endpoints, policy
 * ------------------------------------------------------------------------------------------ */

typedef struct skiff_network_plugin {
  uint32_t abi_version;
  uint32_t struct_size;
  const char *name;
  void *self;

  /* Request: {"sandboxId", "netns": "/proc/N/ns/net", "/var/run/netns/NAME" or null (addresses
   * only, for pods on the host network), "namespace", "name", "uid"}. Idempotent per sandboxId.
   * Result: {"ips": ["10.88.0.5", ...], "prefixLength": 16, "gateway": "...", "interface": "eth0"}. */
  skiff_status (*attach)(void *self, const char *request, size_t len, skiff_done done);
  /* Same request shape; releases the addresses. Must succeed for an unknown sandbox. */
  skiff_status (*detach)(void *self, const char *request, size_t len, skiff_done done);
  /* A Service's ports and its ready endpoints (EndpointSlice-shaped JSON); an empty endpoint
   * list removes the programming. */
  skiff_status (*program_service)(void *self, const char *service, size_t len, skiff_done done);
  /* The full set of NetworkPolicy objects that select pods on this node. */
  skiff_status (*apply_policy)(void *self, const char *policies, size_t len, skiff_done done);
} skiff_network_plugin;

/* ---------------------------------------------------------------------------------------------
 * Storage — CSI-shaped volume lifecycle
 * ------------------------------------------------------------------------------------------ */

typedef struct skiff_storage_plugin {
  uint32_t abi_version;
  uint32_t struct_size;
  const char *name; /* the provisioner a StorageClass names, e.g. "skiff.dev/local" */
  void *self;

  /* Controller side. Request: {"name", "capacityBytes", "parameters": {...}, "accessModes"}.
   * Result: {"volumeId", "capacityBytes", "context": {...}}. Idempotent by name. */
  skiff_status (*create_volume)(void *self, const char *request, size_t len, skiff_done done);
  skiff_status (*delete_volume)(void *self, const char *volume_id, skiff_done done);
  /* Request: {"volumeId", "capacityBytes"}. Result: {"capacityBytes"}. */
  skiff_status (*expand_volume)(void *self, const char *request, size_t len, skiff_done done);
  /* Result: {"availableBytes", "totalBytes"}; `parameters` may be NULL. */
  skiff_status (*capacity)(void *self, const char *parameters, size_t len, skiff_done done);
  /* Node side. Request: {"volumeId", "stagingPath", "context"}. */
  skiff_status (*stage)(void *self, const char *request, size_t len, skiff_done done);
  skiff_status (*unstage)(void *self, const char *request, size_t len, skiff_done done);
  /* Request: {"volumeId", "stagingPath", "targetPath", "readOnly", "context"}. */
  skiff_status (*publish)(void *self, const char *request, size_t len, skiff_done done);
  skiff_status (*unpublish)(void *self, const char *request, size_t len, skiff_done done);
} skiff_storage_plugin;

/* ---------------------------------------------------------------------------------------------
 * Device — GPUs and other node devices, in the shape of the kubelet device-plugin API
 * ------------------------------------------------------------------------------------------ */

typedef struct skiff_device_plugin {
  uint32_t abi_version;
  uint32_t struct_size;
  const char *name;
  void *self;
  const char *resource_name; /* the extended resource it advertises, e.g. "nvidia.com/gpu" */

  /* Result: {"devices": [{"id", "health": "Healthy"|"Unhealthy", "numaNode", "links": {...}}]}.
   * Synchronous: the list must be cheap (cached). `out` is called once, borrowed. */
  skiff_status (*list)(void *self, skiff_bytes_cb out, void *arg);
  /* Health changes: the plugin calls `changed(arg, json, len)` with the full device list, from any
   * thread, until unwatch. Returns a watch handle through `*handle`. */
  skiff_status (*watch)(void *self, skiff_bytes_cb changed, void *arg, void **handle);
  void (*unwatch)(void *self, void *handle);
  /* Request: {"deviceIds": [...]}. Result: {"env": {...}, "mounts": [...], "devices": [{"hostPath",
   * "containerPath", "permissions"}], "annotations": {...}}. */
  skiff_status (*allocate)(void *self, const char *request, size_t len, skiff_done done);
  /* Request: {"available": [...], "mustInclude": [...], "size": n}. Result: {"deviceIds": [...]}
   * chosen for topology (optional). */
  skiff_status (*preferred_allocation)(void *self, const char *request, size_t len,
                                       skiff_bytes_cb out, void *arg);
} skiff_device_plugin;

/* ---------------------------------------------------------------------------------------------
 * Autoscaler — replica recommendations and node groups
 * ------------------------------------------------------------------------------------------ */

typedef struct skiff_autoscaler_plugin {
  uint32_t abi_version;
  uint32_t struct_size;
  const char *name;
  void *self;

  /* Request: {"target": {"kind","name","namespace"}, "currentReplicas", "minReplicas",
   * "maxReplicas", "metrics": [{"type","name","current","target","targetType","readyPods"}],
   * "behavior", "tolerance", and the history the HorizontalPodAutoscaler keeps: "now" (seconds),
   * "recommendations": [{"timestamp","replicas"}], "scaleEvents": [{"timestamp","replicaChange"}]}.
   * Result: {"desiredReplicas": n, "recommendation": n (to keep in the history), "reason",
   * "message", "conditions": [...]}. Synchronous and pure: no I/O, no hidden state. */
  skiff_status (*recommend)(void *self, const char *request, size_t len, skiff_bytes_cb out,
                            void *arg);
  /* Node groups (cluster autoscaler). Request: {"group", "delta"} / {"group", "nodes": [...]}. */
  skiff_status (*node_groups)(void *self, skiff_bytes_cb out, void *arg);
  skiff_status (*scale_up)(void *self, const char *request, size_t len, skiff_done done);
  skiff_status (*scale_down)(void *self, const char *request, size_t len, skiff_done done);
} skiff_autoscaler_plugin;

/* ---------------------------------------------------------------------------------------------
 * Host table — everything the kernel offers a plugin
 * ------------------------------------------------------------------------------------------ */

typedef enum skiff_log_level {
  SKIFF_LOG_DEBUG = 0,
  SKIFF_LOG_INFO = 1,
  SKIFF_LOG_WARN = 2,
  SKIFF_LOG_ERROR = 3
} skiff_log_level;

typedef void (*skiff_cb)(void *arg);
typedef void (*skiff_timer_cb)(skiff_timer *timer, void *arg);
/* An object change: type is "ADDED", "MODIFIED" or "DELETED"; json is the object, borrowed. */
typedef void (*skiff_watch_cb)(void *arg, const char *type, const char *json, size_t len);
/* A published event on a topic, borrowed. */
typedef void (*skiff_event_cb)(void *arg, const char *topic, const char *json, size_t len);

/* The host table. Passed to skiff_plugin_init; valid until the process exits. A plugin built
 * against a newer header checks `struct_size` before using slots appended after this version.
 * Every slot of ABI version 1 is non-NULL. "loop" = call only on the loop
 * thread; "any" = callable from any thread. */
struct skiff_host {
  uint32_t abi_version;
  uint32_t struct_size;

  /* any. Writes one line to the kernel log, tagged with the plugin's name (ctx may be NULL inside
   * skiff_plugin_init). */
  void (*log)(skiff_ctx *ctx, skiff_log_level level, const char *message);

  /* any. Metrics, named "<plugin>_<name>" in the exposition. counter_add adds a non-negative
   * delta; gauge_set sets the value. */
  void (*counter_add)(skiff_ctx *ctx, const char *name, double delta);
  void (*gauge_set)(skiff_ctx *ctx, const char *name, double value);

  /* loop. A timer firing after `delay_ms`, then every `repeat_ms` if nonzero. The returned handle
   * is the kernel's; timer_stop releases it (also safe from inside its callback). */
  skiff_timer *(*timer_start)(skiff_ctx *ctx, uint64_t delay_ms, uint64_t repeat_ms,
                              skiff_timer_cb cb, void *arg);
  void (*timer_stop)(skiff_ctx *ctx, skiff_timer *timer);

  /* any. Runs `work(arg)` on the kernel's thread pool, then `after(arg)` on the loop. */
  skiff_status (*queue_work)(skiff_ctx *ctx, skiff_cb work, skiff_cb after, void *arg);
  /* any. Runs `cb(arg)` on the loop soon. The way back onto the loop from a plugin's thread. */
  skiff_status (*post)(skiff_ctx *ctx, skiff_cb cb, void *arg);
  /* any. Nonzero when called on the loop thread. */
  int (*on_loop)(skiff_ctx *ctx);

  /* loop. Objects as JSON, addressed by resource ("pods", "nodes", "gpus.example.com"),
   * namespace ("" for cluster-scoped) and name. The JSON handed to `out` is borrowed. */
  skiff_status (*object_get)(skiff_ctx *ctx, const char *resource, const char *namespace_,
                             const char *name, skiff_bytes_cb out, void *arg);
  /* Creates or replaces. When `expected_revision` is nonzero the write succeeds only if the
   * stored object is at that revision (SKIFF_CONFLICT otherwise). `*revision` receives the new
   * revision (may be NULL). */
  skiff_status (*object_put)(skiff_ctx *ctx, const char *resource, const char *namespace_,
                             const char *name, const char *json, size_t len,
                             uint64_t expected_revision, uint64_t *revision);
  skiff_status (*object_delete)(skiff_ctx *ctx, const char *resource, const char *namespace_,
                                const char *name);
  /* Calls `out` once per object; `namespace_` NULL lists all namespaces. */
  skiff_status (*object_list)(skiff_ctx *ctx, const char *resource, const char *namespace_,
                              skiff_bytes_cb out, void *arg);
  /* Changes to a resource after this call, on the loop, until unwatch. */
  skiff_status (*object_watch)(skiff_ctx *ctx, const char *resource, skiff_watch_cb cb, void *arg,
                               skiff_watch **watch);
  void (*unwatch)(skiff_ctx *ctx, skiff_watch *watch);

  /* loop. Publish/subscribe on named topics inside the process ("node.health", ...). Delivery is
   * on the loop, in publish order; the JSON is borrowed. */
  skiff_status (*event_publish)(skiff_ctx *ctx, const char *topic, const char *json, size_t len);
  skiff_status (*event_subscribe)(skiff_ctx *ctx, const char *topic, skiff_event_cb cb, void *arg,
                                  skiff_watch **subscription);

  /* any. This plugin's configuration (the profile's `config:` block) as JSON; owned by the
   * kernel, valid until the process exits. */
  const char *(*config)(skiff_ctx *ctx, size_t *len);

  /* loop, during start only. Publishes `fn` under a unique `name` with a signature string:
   * the return type, then the argument types in parentheses, one letter each:
   *   v void (return only)  i int32_t  l int64_t  d double  s const char * (NUL-terminated)
   * e.g. "l(sl)" is `int64_t fn(const char *, int64_t)`. A returned string stays owned by the
   * plugin and must remain valid until the next call of the same service on the same thread. */
  skiff_status (*service_register)(skiff_ctx *ctx, const char *name, const char *signature,
                                   void (*fn)(void));
  /* any. Calls a service by name. `args` points to each argument's value (as libffi's
   * ffi_call takes them); `ret` receives the return value (at least 8 bytes, NULL for v). */
  skiff_status (*service_call)(skiff_ctx *ctx, const char *name, void *ret, void **args);
  /* any. Finds a service for direct calls: its signature and function pointer. */
  skiff_status (*service_lookup)(skiff_ctx *ctx, const char *name, const char **signature,
                                 void (**fn)(void));

  /* any. String interning for the scheduler structs. intern never fails for a non-NULL string;
   * string returns NULL for an unknown id. Returned strings live until the process exits. */
  skiff_str (*intern)(skiff_ctx *ctx, const char *s);
  const char *(*string)(skiff_ctx *ctx, skiff_str id);

  /* loop, during start only. Registers an extension of a kind; the kernel copies the vtable
   * (min of both struct sizes). Names are unique per kind. */
  skiff_status (*register_scheduler)(skiff_ctx *ctx, const skiff_scheduler_plugin *plugin);
  skiff_status (*register_runtime)(skiff_ctx *ctx, const skiff_runtime_plugin *plugin);
  skiff_status (*register_network)(skiff_ctx *ctx, const skiff_network_plugin *plugin);
  skiff_status (*register_storage)(skiff_ctx *ctx, const skiff_storage_plugin *plugin);
  skiff_status (*register_device)(skiff_ctx *ctx, const skiff_device_plugin *plugin);
  skiff_status (*register_autoscaler)(skiff_ctx *ctx, const skiff_autoscaler_plugin *plugin);

  /* Scheduler cycle helpers; call only from inside a scheduler slot with its cycle. */
  /* Records a reason this plugin returned a non-OK status (copied). Each call adds one reason, as
   * a Kubernetes Status carries several ("Insufficient cpu", "Insufficient memory"). */
  void (*set_reason)(skiff_cycle *cycle, const char *reason);
  /* One pointer of cycle state per (cycle, plugin), e.g. computed in pre_filter and read in
   * filter. `release` (optional) runs when the cycle ends. */
  void (*cycle_set)(skiff_cycle *cycle, void *data, skiff_cb release);
  void *(*cycle_get)(skiff_cycle *cycle);
  /* Resolve a pod waiting at Permit (by the pod's id). Any thread: from the loop the answer is
   * the outcome (SKIFF_NOT_FOUND when no such pod waits); from elsewhere the decision is posted to
   * the loop and SKIFF_OK only means it was accepted. */
  skiff_status (*permit_allow)(skiff_ctx *ctx, uint64_t pod_id, const char *plugin);
  skiff_status (*permit_reject)(skiff_ctx *ctx, uint64_t pod_id, const char *reason);

  /* ABI version 2 and later (check struct_size). */

  /* Every node of the cycle's snapshot with the pods placed on it, borrowed for the cycle: what
   * plugins that count across the cluster (pod affinity, topology spread) read in pre_filter and
   * pre_score. Call only from inside a scheduler slot with its cycle. */
  skiff_status (*cycle_nodes)(skiff_cycle *cycle, const skiff_node *const **nodes, uint32_t *n_nodes);

  /* post_filter only (preemption). Would `pod` pass the profile's filters on `node` if the pods
   * with the ids in `without` were not there? SKIFF_OK if so, else the first filter's status.
   * Records no reasons. Plugins whose pre_filter state counts pods across the cluster still see
   * them (as Kubernetes before PreFilterExtensions). */
  skiff_status (*cycle_filter_without)(skiff_cycle *cycle, const skiff_pod *pod, const skiff_node *node,
                                       const uint64_t *without, uint32_t n_without);
  /* post_filter only. Evicts the pods with these ids (gracefully, through the API) to make room for
   * the cycle's pod on the node the plugin nominates. */
  skiff_status (*cycle_preempt)(skiff_cycle *cycle, const uint64_t *victims, uint32_t n_victims);

  /* ABI version 3 and later (check struct_size). */

  /* post_filter only. The cluster's PodDisruptionBudgets, borrowed for the cycle, so preemption
   * can prefer victims whose eviction breaks no budget. */
  skiff_status (*cycle_disruption_budgets)(skiff_cycle *cycle, const skiff_disruption_budget **budgets,
                                           uint32_t *n_budgets);
  /* bind only. Stores the pod's binding to `node` through the API server (pods/binding),
   * asynchronously: SKIFF_OK means the binding was sent; if the store refuses it later, the
   * framework forgets the pod's assumed place and the pod's watch says what is true. */
  skiff_status (*cycle_bind)(skiff_cycle *cycle, const skiff_pod *pod, const skiff_node *node);

  /* ABI version 4 and later (check struct_size). */

  /* Which positions of cycle_nodes' array hold a node whose struct changed (its generation, or a
   * node that came) since `*since`, a mark an earlier call left there (0 the first time), so a
   * plugin keeping counts across cycles reads those nodes instead of comparing every node's
   * generation each cycle. Writes the positions, possibly repeated, borrowed until the calling
   * slot returns, and moves `*since` on. SKIFF_SKIP: the framework no longer knows what changed
   * since that mark (a node went, the log was trimmed, the mark is another snapshot's): treat
   * every node as changed; `*since` is moved on all the same. */
  skiff_status (*cycle_changed_nodes)(skiff_cycle *cycle, uint64_t *since, const uint32_t **positions,
                                      uint32_t *n_positions);
  /* pre_filter only. The nodes at these positions of cycle_nodes' array fail this plugin's filter
   * with `status` and `reason` (copied), so the framework counts them rejected without calling
   * filter on them: a plugin that knows in pre_filter which nodes are taken (pod anti-affinity)
   * spares the filter loop the walk over them. List only nodes the filter would reject with that
   * status and reason; the others are filtered as usual. */
  skiff_status (*cycle_reject_nodes)(skiff_cycle *cycle, const uint32_t *positions, uint32_t n_positions,
                                     skiff_status status, const char *reason);
};

/* The one symbol a plugin library exports. */
SKIFF_EXPORT int skiff_plugin_init(const skiff_host *host, skiff_plugin *plugin);

#ifdef __cplusplus
}
#endif

#endif /* SKIFF_H */
