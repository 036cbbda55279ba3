// `skiff bench`: benchmarks that print throughput, percentiles and memory. Never run in unit tests.
import ArgumentParser
import FoundationEssentials
import Glibc
import SystemKit

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a benchmark and print its figures (the last line is one JSON object).",
    subcommands: [ABIBench.self, APIBench.self, PodBench.self, SchedulerBench.self])
}

/// Monotonic nanoseconds.
func monotonicNanoseconds() -> UInt64 {
  var now = timespec()
  clock_gettime(CLOCK_MONOTONIC, &now)
  return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// The value at quantile `q` (0...1) of sorted samples.
func percentile(_ sorted: [Double], _ q: Double) -> Double {
  guard !sorted.isEmpty else { return .nan }
  return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))]
}

/// Resident set size of this process in MiB, from /proc/self/statm.
func residentMegabytes() -> Double {
  guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
        let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
  else { return .nan }
  return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
}
