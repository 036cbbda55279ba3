/*
 * A stand-in for libnvidia-ml.so.1, built by the GPU tests with soname libnvidia-ml.so.1, so that
 * the gpu plugin's nvml backend runs on a machine without NVIDIA GPUs. It implements the entry
 * points the plugin calls with nvml.h's prototypes and struct layouts, and scripts four H200s:
 * GPU 1 is lost after discovery, GPU 2 raises critical XID 79 (fallen off the bus), GPU 3 XID 13
 * (an application error, which leaves it healthy).
 */
#include <stdio.h>
#include <string.h>

typedef int nvmlReturn_t;
enum { NVML_SUCCESS = 0, NVML_ERROR_INVALID_ARGUMENT = 2, NVML_ERROR_INSUFFICIENT_SIZE = 7,
       NVML_ERROR_TIMEOUT = 10, NVML_ERROR_GPU_IS_LOST = 15 };

typedef struct nvmlDevice_st { unsigned int index; unsigned int memoryReads; } *nvmlDevice_t;
typedef struct nvmlEventSet_st { unsigned int next; } *nvmlEventSet_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct {
  char busIdLegacy[16];
  unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
} nvmlPciInfo_t;
typedef struct {
  nvmlDevice_t device;
  unsigned long long eventType, eventData;
  unsigned int gpuInstanceId, computeInstanceId;
} nvmlEventData_t;

#define GPUS 4
#define XID_CRITICAL 8ull
static struct nvmlDevice_st gpus[GPUS] = {{0, 0}, {1, 0}, {2, 0}, {3, 0}};
static struct nvmlEventSet_st eventSet;
static const struct { unsigned int gpu; unsigned long long xid; } xids[] = {{2, 79}, {3, 13}};

nvmlReturn_t nvmlInit_v2(void) { return NVML_SUCCESS; }

nvmlReturn_t nvmlShutdown(void) {
  fprintf(stderr, "fake nvml: shutdown\n");
  return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t result) {
  return result == NVML_ERROR_GPU_IS_LOST ? "GPU is lost" : "fake NVML error";
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
  *count = GPUS;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
  if (index >= GPUS) return NVML_ERROR_INVALID_ARGUMENT;
  *device = &gpus[index];
  return NVML_SUCCESS;
}

/* Real NVML wants NVML_DEVICE_UUID_V2_BUFFER_SIZE (96) bytes; so does this one. */
nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
  if (length < 96) return NVML_ERROR_INSUFFICIENT_SIZE;
  snprintf(uuid, length, "GPU-5eed0000-0000-4000-8000-00000000000%u", device->index);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
  (void)device;
  if (length < 96) return NVML_ERROR_INSUFFICIENT_SIZE;
  snprintf(name, length, "NVIDIA H200");
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
  /* Discovery reads each GPU once; GPU 1 is gone by the first health check. */
  if (device->index == 1 && device->memoryReads++ > 0) return NVML_ERROR_GPU_IS_LOST;
  memory->total = 143771ull << 20;
  memory->used = 1ull << 20;
  memory->free = memory->total - memory->used;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
  memset(pci, 0, sizeof *pci);
  pci->domain = 0;
  pci->bus = 0x19 + 0x10 * device->index;
  pci->device = 0;
  pci->pciDeviceId = 0x233510de;
  snprintf(pci->busId, sizeof pci->busId, "%08X:%02X:%02X.0", pci->domain, pci->bus, pci->device);
  return NVML_SUCCESS;
}

/* Minor numbers need not follow enumeration order. */
nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minor) {
  *minor = GPUS - 1 - device->index;
  return NVML_SUCCESS;
}

/* GPUs 0-1 and 2-3 share a NUMA node (NVML_TOPOLOGY_NODE = 40); across them, SYSTEM = 50. */
nvmlReturn_t nvmlDeviceGetTopologyCommonAncestor(nvmlDevice_t a, nvmlDevice_t b, int *level) {
  *level = a->index / 2 == b->index / 2 ? 40 : 50;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
  *set = &eventSet;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long types, nvmlEventSet_t set) {
  (void)device;
  return set == &eventSet && (types & XID_CRITICAL) ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT;
}

nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
  (void)timeoutms;
  if (set->next >= sizeof xids / sizeof xids[0]) return NVML_ERROR_TIMEOUT;
  memset(data, 0, sizeof *data);
  data->device = &gpus[xids[set->next].gpu];
  data->eventType = XID_CRITICAL;
  data->eventData = xids[set->next].xid;
  set->next++;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
  (void)set;
  return NVML_SUCCESS;
}
