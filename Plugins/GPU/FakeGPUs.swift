// Fake GPUs for tests and GPU-less clusters: devices described by configuration, healthy until
// someone flips them with the gpu.set_health service.
import FoundationEssentials
import Glibc
import SystemKit

struct FakeGPUs {
  var count = 8
  var model = "H200"
  var memoryMiB = 143_771
  var numaNodes = 1

  /// Checked ranges, so that a typo in a profile fails start instead of building odd devices.
  func validated() throws(GPUConfigError) -> FakeGPUs {
    guard (1...1024).contains(count) else { throw GPUConfigError("count must be 1…1024, not \(count)") }
    guard (1...count).contains(numaNodes) else {
      throw GPUConfigError("numaNodes must be 1…count (\(count)), not \(numaNodes)")
    }
    guard memoryMiB > 0 else { throw GPUConfigError("memoryMiB must be positive, not \(memoryMiB)") }
    guard !model.isEmpty else { throw GPUConfigError("model must not be empty") }
    return self
  }

  /// fake-gpu-0…N-1, spread over the NUMA nodes in contiguous runs as real boards are. UUIDs are
  /// derived from the index, so they stay the same across restarts as real ones do.
  var devices: [GPUDevice] {
    (0..<count).map { index in
      GPUDevice(id: "fake-gpu-\(index)",
                uuid: String(cFormat: "GPU-fa4e0000-0000-4000-8000-%012x", index),
                model: model, memoryMiB: memoryMiB, numaNode: index * numaNodes / count,
                minor: index)
    }
  }
}
