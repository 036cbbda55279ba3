// `skiff bench abi`: the cost of one scheduler `filter` call from the kernel through the C ABI
// into a loaded plugin, over kernel-owned pod and node structs.
import ArgumentParser
import FoundationEssentials
import Glibc
import Kernel
import SkiffABI
import SystemKit

struct ABIBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "abi", abstract: "Nanoseconds per scheduler filter call through the plugin ABI.")

  @OptionGroup var options: ProfileOption

  @Option(help: "The scheduler extension whose filter is called.")
  var plugin: String = "NodeResourcesFit"

  @Option(help: "Calls per timed batch.")
  var batch: Int = 100_000

  @Option(help: "Timed batches; the median and p99 are over these.")
  var rounds: Int = 200

  func run() throws {
    let result = try Booted.withKernel(options) { _, kernel -> String in
      guard let target = kernel.extensions.scheduler(named: plugin) else {
        fail("no scheduler extension named \(plugin) in \(options.profile)")
      }
      guard let filter = target.vtable.pointee.filter else {
        fail("\(plugin) has no filter")
      }
      return measure(filter: filter, self: target.vtable.pointee.`self`, strings: kernel.strings)
    }
    print(result)
  }

  private func measure(filter: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?,
                                               UnsafePointer<skiff_pod>?, UnsafePointer<skiff_node>?) -> skiff_status,
                       self instance: UnsafeMutableRawPointer?, strings: StringTable) -> String {
    let gpu = strings.intern("nvidia.com/gpu")
    let podScalars = [skiff_scalar(name: gpu, reserved0: 0, value: 1)]
    let nodeScalars = [skiff_scalar(name: gpu, reserved0: 0, value: 8)]
    let usedScalars = [skiff_scalar(name: gpu, reserved0: 0, value: 4)]
    let labels = [skiff_label(key: strings.intern("kubernetes.io/hostname"), value: strings.intern("node-1"))]
    let cycle = SchedulingCycle()

    return podScalars.withUnsafeBufferPointer { podScalars in
      nodeScalars.withUnsafeBufferPointer { nodeScalars in
        usedScalars.withUnsafeBufferPointer { usedScalars in
          labels.withUnsafeBufferPointer { labels in
            var pod = skiff_pod()
            pod.abi_version = SKIFF_ABI_VERSION
            pod.struct_size = UInt32(MemoryLayout<skiff_pod>.size)
            pod.name = strings.intern("trainer-0")
            pod.requests = skiff_resources(milli_cpu: 500, memory: 1 << 30, ephemeral_storage: 0,
                                           pods: 1, scalars: podScalars.baseAddress, n_scalars: 1,
                                           reserved0: 0)
            var node = skiff_node()
            node.abi_version = SKIFF_ABI_VERSION
            node.struct_size = UInt32(MemoryLayout<skiff_node>.size)
            node.name = strings.intern("node-1")
            node.allocatable = skiff_resources(milli_cpu: 64_000, memory: 512 << 30,
                                               ephemeral_storage: 1 << 40, pods: 110,
                                               scalars: nodeScalars.baseAddress, n_scalars: 1,
                                               reserved0: 0)
            node.requested = skiff_resources(milli_cpu: 8_000, memory: 64 << 30, ephemeral_storage: 0,
                                             pods: 10, scalars: usedScalars.baseAddress, n_scalars: 1,
                                             reserved0: 0)
            node.labels = labels.baseAddress
            node.n_labels = 1
            node.n_pods = 10
            return timeCalls(filter, instance, cycle.handle, &pod, &node)
          }
        }
      }
    }
  }

  private func timeCalls(_ filter: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?,
                                                   UnsafePointer<skiff_pod>?, UnsafePointer<skiff_node>?) -> skiff_status,
                         _ instance: UnsafeMutableRawPointer?, _ cycle: OpaquePointer,
                         _ pod: UnsafePointer<skiff_pod>, _ node: UnsafePointer<skiff_node>) -> String {
    var accepted = 0
    guard filter(instance, cycle, pod, node) == SKIFF_OK else {
      fail("the benchmark pod does not fit the benchmark node under \(plugin)")
    }
    for _ in 0..<batch { accepted &+= Int(filter(instance, cycle, pod, node).rawValue) }  // warm-up
    var samples: [Double] = []
    for _ in 0..<rounds {
      let start = monotonicNanoseconds()
      for _ in 0..<batch { accepted &+= Int(filter(instance, cycle, pod, node).rawValue) }
      samples.append(Double(monotonicNanoseconds() - start) / Double(batch))
    }
    samples.sort()
    let median = percentile(samples, 0.5), p99 = percentile(samples, 0.99)
    let lines = [
      "filter: \(plugin) through skiff.h, \(rounds) batches of \(batch) calls (non-OK results: \(accepted))",
      String(cFormat: "ns/call  median %.2f  p99 %.2f  min %.2f", median, p99, samples[0]),
      String(cFormat: "rss      %.1f MiB", residentMegabytes()),
      String(cFormat: #"{"benchmark":"abi","plugin":"\#(plugin)","calls":%d,"ns_per_call_median":%.2f,"ns_per_call_p99":%.2f,"rss_mb":%.1f}"#,
             rounds * batch, median, p99, residentMegabytes()),
    ]
    return lines.joined(separator: "\n")
  }
}
