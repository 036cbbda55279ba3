// The pods this agent runs, kept under its data dir, so that an agent restarted while the API
// server is away still runs them by their restart policies: each pod's metadata and spec, and its
// containers' restart back-off. A record is written only when it changes (idle writes nothing).
import FoundationEssentials
import ObjectModel

struct PodJournal {
  let directory: String

  init(dataDir: String) {
    directory = dataDir + "/pods"
  }

  /// What is kept of a pod: not its status, nor the metadata every status report changes.
  static func record(_ state: PodState) -> JSON? {
    guard var pod = state.pod else { return nil }
    pod["status"] = nil
    pod["metadata"]?["resourceVersion"] = nil
    pod["metadata"]?["managedFields"] = nil
    // Sorted, so that an unchanged record serializes the same and is not written again.
    let backoff = JSONObject(state.containers.values.sorted { $0.name < $1.name }.compactMap { container in
      container.backoff.map { (container.name, JSON.double($0)) }
    })
    return ["pod": pod, "backoff": .object(backoff), "startTime": state.startTime.map { .string($0) } ?? .null]
  }

  /// Writes the pod's record if it changed since the last write.
  func save(_ state: PodState) {
    guard let record = Self.record(state), record != state.journaled else { return }
    do {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      try Data(record.serialized()).write(to: URL(fileURLWithPath: "\(directory)/\(state.uid).json"), options: .atomic)
      state.journaled = record
    } catch {
      // Kept in memory; the next change tries again.
    }
  }

  func remove(_ uid: String) {
    try? FileManager.default.removeItem(atPath: "\(directory)/\(uid).json")
  }

  /// Every record: the pod, its back-off by container name, its startTime, and the record itself.
  func load() -> [(pod: JSON, backoff: [String: Double], startTime: String?, record: JSON)] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return names.filter { $0.hasSuffix(".json") }.compactMap { name in
      guard let data = FileManager.default.contents(atPath: "\(directory)/\(name)"),
            let record = try? JSON.parse(Array(data)), let pod = record["pod"] else { return nil }
      var backoff: [String: Double] = [:]
      for (container, seconds) in record["backoff"]?.objectValue ?? [:] { backoff[container] = seconds.doubleValue }
      return (pod, backoff, record["startTime"]?.stringValue, record)
    }
  }
}
