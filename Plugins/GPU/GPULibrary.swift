// The GPU plugin ("gpu"): registers the `nvidia` device extension for nvidia.com/gpu, its devices
// found by NVML on real machines or described by configuration (`backend: fake`) elsewhere.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI

@_cdecl("skiff_plugin_init")
public func skiffPluginInit(_ host: UnsafePointer<skiff_host>?,
                            _ plugin: UnsafeMutablePointer<skiff_plugin>?) -> Int32 {
  PluginHost.describe(plugin, host: host, name: "gpu", version: "0.1.0", kind: SKIFF_KIND_DEVICE,
                      summary: "NVIDIA GPUs as nvidia.com/gpu: NVML discovery and health, or "
                        + "fake devices",
                      start: startGPU, stop: stopGPU)
}

/// The devices every slot and service reads; refilled by each start.
let inventory = DeviceInventory()
/// The NVML backend while it runs; its health checks hold NVML open. Loop only.
nonisolated(unsafe) private var nvmlGPUs: NVMLGPUs?

/// Handed to the kernel inside the vtable, so it must live as long as the process; never written.
nonisolated(unsafe) private let resourceName = UnsafePointer(strdup("nvidia.com/gpu")!)

private let startGPU: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int) -> skiff_status = {
  ctx, json, length in
  PluginHost.attach(ctx)
  let backend: GPUBackend
  do throws(GPUConfigError) {
    backend = try GPUBackend.parse(json, length)
  } catch {
    PluginHost.error("config: \(error)")
    return SKIFF_INVALID
  }
  var services: [(String, String, @convention(c) () -> Void)] = [
    ("gpu.list_json", "s()", unsafeBitCast(listJSONService, to: (@convention(c) () -> Void).self)),
  ]
  switch backend {
  case .fake(let fake):
    inventory.open(fake.devices)
    // Only fake devices can be flipped by hand; NVML's own checks decide for real ones.
    services.append(("gpu.set_health", "i(si)",
                     unsafeBitCast(setHealthService, to: (@convention(c) () -> Void).self)))
    PluginHost.info("fake backend: \(fake.count) \(fake.model) on \(fake.numaNodes) NUMA node(s)")
  case .nvml(_, required: false) where !NVML.isInstalled:
    inventory.open([])
    PluginHost.info("auto backend: no NVIDIA driver (\(NVML.library) not found), so no GPUs")
  case .nvml(let healthInterval, _):
    let gpus: NVMLGPUs
    do throws(NVMLError) {
      gpus = try NVMLGPUs()
    } catch {
      PluginHost.error(error.description)
      return SKIFF_ERROR
    }
    inventory.open(gpus.devices)
    gpus.startHealthChecks(every: healthInterval, reporting: inventory)
    nvmlGPUs = gpus
    PluginHost.info("nvml backend: \(gpus.devices.count) GPU(s): "
      + gpus.devices.map { "\($0.model) \($0.uuid)" }.joined(separator: ", "))
  }
  var status = SKIFF_OK
  for (name, signature, function) in services where status == SKIFF_OK {
    status = PluginHost.registerService(name, signature: signature, function)
  }
  if status == SKIFF_OK { status = PluginHost.register(NvidiaDevices.vtable) }
  // The kernel does not call `stop` for a plugin whose start failed.
  if status != SKIFF_OK { stopGPU(ctx) }
  return status
}

private let stopGPU: @convention(c) (OpaquePointer?) -> Void = { _ in
  nvmlGPUs?.close()
  nvmlGPUs = nil
  inventory.close()
}

// MARK: Services

/// Per thread, as the ABI lets a returned string live until that thread's next call.
private let listKey: pthread_key_t = {
  var key = pthread_key_t()
  pthread_key_create(&key) { free($0) }
  return key
}()

/// `gpu.list_json` — s(): the device list, for `skiff call` and scripts.
private let listJSONService: @convention(c) () -> UnsafePointer<CChar>? = {
  free(pthread_getspecific(listKey))
  let copy = strdup(inventory.listJSON)
  pthread_setspecific(listKey, copy)
  return UnsafePointer(copy)
}

/// `gpu.set_health` — i(si): marks a fake device healthy (1) or not (0). Returns SKIFF_OK,
/// SKIFF_NOT_FOUND for an unknown id, SKIFF_INVALID for any other health value.
private let setHealthService: @convention(c) (UnsafePointer<CChar>?, Int32) -> Int32 = { id, healthy in
  guard let id = id.map({ String(cString: $0) }), inventory.contains(id) else {
    return Int32(SKIFF_NOT_FOUND.rawValue)
  }
  guard healthy == 0 || healthy == 1 else { return Int32(SKIFF_INVALID.rawValue) }
  inventory.setHealth([id: healthy == 1])
  return Int32(SKIFF_OK.rawValue)
}

// MARK: The device extension

enum NvidiaDevices {
  static var vtable: skiff_device_plugin {
    PluginHost.vtable(skiff_device_plugin.self, name: "nvidia") { vtable in
      vtable.resource_name = resourceName
      vtable.list = { _, out, arg in
        send(inventory.listJSON, to: out, arg)
        return SKIFF_OK
      }
      vtable.watch = { _, changed, arg, handle in
        guard let changed, let handle else { return SKIFF_INVALID }
        handle.pointee = UnsafeMutableRawPointer(bitPattern: inventory.watch(changed, arg))
        return SKIFF_OK
      }
      vtable.unwatch = { _, handle in
        inventory.unwatch(UInt(bitPattern: handle))
      }
      // Nothing here blocks (a lookup in the cached list), so the answer comes at once.
      vtable.allocate = { _, request, length, done in
        do throws(DeviceRequestError) {
          let ids = try decodeRequest(request, length).strings("deviceIds")
          let spec = try Allocation.containerSpec(for: ids, in: inventory.snapshot)
          done.complete(SKIFF_OK, json: PluginJSON.encode(spec))
        } catch {
          done.complete(error.status, json: error.json)
        }
        return SKIFF_OK
      }
      // Synchronous: on failure `out` receives {"reason", "message"} as a completion would.
      vtable.preferred_allocation = { _, request, length, out, arg in
        do throws(DeviceRequestError) {
          let fields = try decodeRequest(request, length)
          let ids = try Allocation.preferred(available: fields.strings("available"),
                                             mustInclude: fields.strings("mustInclude", default: []),
                                             size: fields.int("size"), in: inventory.snapshot)
          send(PluginJSON.encode(["deviceIds": ids]), to: out, arg)
          return SKIFF_OK
        } catch {
          send(error.json, to: out, arg)
          return error.status
        }
      }
    }
  }
}

/// A request object, read with errors the caller can act on.
private struct RequestFields {
  let object: [String: Any]

  func strings(_ key: String, default fallback: [String]? = nil) throws(DeviceRequestError) -> [String] {
    guard let value = object[key] else {
      if let fallback { return fallback }
      throw invalid("\(key) is required")
    }
    guard let strings = value as? [String] else { throw invalid("\(key) must be an array of strings") }
    return strings
  }

  func int(_ key: String) throws(DeviceRequestError) -> Int {
    guard let value = object[key] else { throw invalid("\(key) is required") }
    guard let number = value as? Int else { throw invalid("\(key) must be an integer") }
    return number
  }
}

private func decodeRequest(_ bytes: UnsafePointer<CChar>?, _ length: Int) throws(DeviceRequestError)
  -> RequestFields
{
  guard let object = PluginJSON.decode(bytes, length) as? [String: Any] else {
    throw invalid("the request must be a JSON object")
  }
  return RequestFields(object: object)
}

private func invalid(_ message: String) -> DeviceRequestError {
  DeviceRequestError(status: SKIFF_INVALID, reason: "InvalidRequest", message: message)
}
