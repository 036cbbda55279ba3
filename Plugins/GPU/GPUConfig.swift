// The gpu plugin's configuration: which backend finds the devices, and that backend's settings.
// Keys are checked per backend, so a misspelt or misplaced key fails start with its name.
import FoundationEssentials
import Glibc
import PluginKit

struct GPUConfigError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

enum GPUBackend {
  /// Real GPUs through NVML, re-checked every `healthInterval` seconds. With `required` false
  /// (`backend: auto`), a machine without the NVIDIA driver simply has no GPUs.
  case nvml(healthInterval: Double, required: Bool)
  case fake(FakeGPUs)

  static func parse(_ json: UnsafePointer<CChar>?, _ length: Int) throws(GPUConfigError) -> GPUBackend {
    guard let object = PluginJSON.decode(json, length) as? [String: Any] else {
      throw GPUConfigError("config must be a JSON object")
    }
    let config = Fields(object)
    switch try config.string("backend") ?? "nvml" {
    case let backend where backend == "nvml" || backend == "auto":
      try config.allowOnly(["backend", "healthIntervalSeconds"], for: backend)
      let interval = try config.number("healthIntervalSeconds") ?? 5
      guard interval >= 0.1 else {
        throw GPUConfigError("healthIntervalSeconds must be at least 0.1, not \(interval)")
      }
      return .nvml(healthInterval: interval, required: backend == "nvml")
    case "fake":
      try config.allowOnly(["backend", "count", "model", "memoryMiB", "numaNodes"], for: "fake")
      var fake = FakeGPUs()
      fake.count = try config.int("count") ?? fake.count
      fake.model = try config.string("model") ?? fake.model
      fake.memoryMiB = try config.int("memoryMiB") ?? fake.memoryMiB
      fake.numaNodes = try config.int("numaNodes") ?? fake.numaNodes
      return .fake(try fake.validated())
    case let other:
      throw GPUConfigError("backend must be \"nvml\", \"auto\" or \"fake\", not \"\(other)\"")
    }
  }
}

/// Typed reads from a decoded JSON object, with errors that name the key.
private struct Fields {
  let object: [String: Any]
  init(_ object: [String: Any]) { self.object = object }

  func allowOnly(_ keys: Set<String>, for backend: String) throws(GPUConfigError) {
    if let stray = object.keys.sorted().first(where: { !keys.contains($0) }) {
      throw GPUConfigError("unknown key '\(stray)' for backend \(backend) (allowed: "
        + keys.sorted().joined(separator: ", ") + ")")
    }
  }

  func string(_ key: String) throws(GPUConfigError) -> String? {
    guard let value = object[key] else { return nil }
    guard let text = value as? String else { throw GPUConfigError("\(key) must be a string") }
    return text
  }

  func int(_ key: String) throws(GPUConfigError) -> Int? {
    guard let value = object[key] else { return nil }
    guard let integer = value as? Int else { throw GPUConfigError("\(key) must be an integer") }
    return integer
  }

  func number(_ key: String) throws(GPUConfigError) -> Double? {
    guard let value = object[key] else { return nil }
    guard let number = value as? Double ?? (value as? Int).map(Double.init) else { throw GPUConfigError("\(key) must be a number") }
    return number
  }
}
