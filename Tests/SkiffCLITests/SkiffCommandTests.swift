// The `skiff` binary as a user runs it: version, plugins, call, server start and orderly stop,
// error messages with positions, and the one-symbol rule for every plugin library.
import Foundation
import SkiffTestSupport
import XCTest

final class SkiffCommandTests: XCTestCase {
  var dir: URL!
  let skiff = Fixtures.buildDirectory + "/skiff"

  override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  private func write(_ text: String, _ name: String = "profile.yaml") throws -> String {
    let file = dir.appendingPathComponent(name)
    try text.write(to: file, atomically: true, encoding: .utf8)
    return file.path
  }

  private func skiff(_ arguments: String...) throws -> (status: Int32, output: String) {
    try Fixtures.run([skiff] + arguments)
  }

  func testVersionNamesTheABI() throws {
    let result = try skiff("version")
    XCTAssertEqual(result.status, 0)
    XCTAssertTrue(result.output.contains("plugin ABI 4"), result.output)
  }

  func testPluginsListsNameKindVersionABIFileAndServices() throws {
    let profile = try write("""
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: listing
      plugins:
        - name: scheduler
        - name: swifttest
      """)
    let result = try skiff("plugins", "--profile", profile)
    XCTAssertEqual(result.status, 0, result.output)
    let lines = result.output.split(separator: "\n").map(String.init)
    XCTAssertEqual(lines.first, "profile listing (\(profile)): 2 plugins")
    XCTAssertTrue(lines.contains("swifttest"))
    XCTAssertTrue(lines.contains("  kind:     scheduler"))
    XCTAssertTrue(lines.contains("  version:  1.0.0"))
    XCTAssertTrue(lines.contains("  abi:      4"))
    XCTAssertTrue(lines.contains("  file:     \(Fixtures.buildDirectory)/libskiff_swifttest.so"))
    XCTAssertTrue(lines.contains { $0.hasPrefix("  services: swifttest.add l(ll), swifttest.add32 i(ii)") },
                  result.output)
    XCTAssertTrue(lines.contains("  provides: scheduler/PrioritySort, scheduler/NodeName, "
                                 + "scheduler/NodeUnschedulable, scheduler/NodeAffinity, scheduler/NodePorts, "
                                 + "scheduler/NodeResourcesFit, scheduler/NodeResourcesBalancedAllocation, "
                                 + "scheduler/TaintToleration, scheduler/InterPodAffinity, "
                                 + "scheduler/PodTopologySpread, scheduler/Coscheduling, scheduler/DefaultPreemption, "
                                 + "scheduler/DefaultBinder"), result.output)
  }

  func testShippedProfilesLoad() throws {
    for profile in ["profiles/default.yaml", "profiles/edge.yaml"] {
      let result = try skiff("plugins", "--profile", Fixtures.repository.appendingPathComponent(profile).path)
      XCTAssertEqual(result.status, 0, "\(profile): \(result.output)")
    }
  }

  func testProfileErrorsNameFileLineAndColumn() throws {
    let profile = try write("apiVersion: skiff.dev/v1alpha1\nkind: Profile\nname: bad\nplugins:\n  - name: scheduler\n    confg: {}\n")
    let result = try skiff("plugins", "--profile", profile)
    XCTAssertEqual(result.status, 1)
    XCTAssertEqual(result.output, "skiff: \(profile):6:5: unknown key 'confg' in plugin entry (allowed: name, path, config)\n")
  }

  func testLoadFailureNamesThePluginAndExitsNonZero() throws {
    let profile = try write("apiVersion: skiff.dev/v1alpha1\nkind: Profile\nname: bad\nplugins:\n  - name: nonesuch\n")
    let result = try skiff("plugins", "--profile", profile)
    XCTAssertEqual(result.status, 1)
    XCTAssertTrue(result.output.hasPrefix("skiff: plugin 'nonesuch' ("), result.output)
    XCTAssertTrue(result.output.hasSuffix("libskiff_nonesuch.so): file not found\n"), result.output)
  }

  func testCallConvertsArgumentsBySignature() throws {
    let profile = try write("apiVersion: skiff.dev/v1alpha1\nkind: Profile\nname: call\nplugins:\n  - name: swifttest\n")
    XCTAssertEqual(try skiff("call", "--profile", profile, "swifttest.add", "40", "2").output, "42\n")
    XCTAssertEqual(try skiff("call", "--profile", profile, "swifttest.scale", "2.5", "4").output, "10.0\n")
    XCTAssertEqual(try skiff("call", "--profile", profile, "swifttest.greet", "world").output, "hello, world\n")
    let wrong = try skiff("call", "--profile", profile, "swifttest.add", "forty", "2")
    XCTAssertEqual(wrong.status, 1)
    XCTAssertEqual(wrong.output, "skiff: argument 1 of 'swifttest.add' must be an int64, got 'forty'\n")
    let missing = try skiff("call", "--profile", profile, "swifttest.nope")
    XCTAssertEqual(missing.status, 1)
    XCTAssertTrue(missing.output.contains("swifttest.nope"), missing.output)
  }

  func testServerStopsPluginsInReverseOrderOnSIGTERMAndSIGINT() throws {
    try Fixtures.buildCPlugin(source: Fixtures.cFixture("configurable"), into: dir, name: "base",
                              defines: ["NAME=\"base\""])
    try Fixtures.buildCPlugin(source: Fixtures.cFixture("configurable"), into: dir, name: "top",
                              defines: ["NAME=\"top\"", "REQUIRES=\"base\","])
    let profile = try write("""
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: server
      pluginDirs: [.]
      plugins:
        - name: top
        - name: swifttest
        - name: base
      """)
    for signal in [SIGTERM, SIGINT] {
      try runServerUntil(signal, profile: profile)
    }
  }

  private func runServerUntil(_ signal: Int32, profile: String) throws {
    let server = Process()
    server.executableURL = URL(fileURLWithPath: skiff)
    server.arguments = ["server", "--profile", profile, "--data-dir", dir.appendingPathComponent("data").path,
                        "--listen", "127.0.0.1:0", "--log-level", "info"]
    let stdout = Pipe(), stderr = Pipe()
    server.standardOutput = stdout
    server.standardError = stderr
    try server.run()
    let ready = String(decoding: stdout.fileHandleForReading.availableData, as: UTF8.self)  // blocks until ready
    XCTAssertTrue(ready.hasPrefix("skiff: ready: API on http://127.0.0.1:"), ready)
    XCTAssertTrue(ready.contains("profile server, 3 plugins"), ready)
    kill(server.processIdentifier, signal)
    server.waitUntilExit()
    XCTAssertEqual(server.terminationStatus, 0)
    let log = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let order = log.split(separator: "\n").compactMap { line -> String? in
      guard let range = line.range(of: "] started scheduler plugin ") ?? line.range(of: "] stopped plugin ")
      else { return nil }
      let verb = line.contains("started") ? "start" : "stop"
      return "\(verb) \(line[range.upperBound...].split(separator: " ")[0])"
    }
    XCTAssertEqual(order, ["start base", "start top", "start swifttest",
                           "stop swifttest", "stop top", "stop base"], "signal \(signal): \(log)")
  }

  func testEveryPluginLibraryExportsExactlyOneSkiffSymbol() throws {
    var libraries = try FileManager.default.contentsOfDirectory(atPath: Fixtures.buildDirectory)
      .filter { $0.hasPrefix("libskiff_") && $0.hasSuffix(".so") }
      .map { Fixtures.buildDirectory + "/" + $0 }
    XCTAssertTrue(libraries.contains { $0.hasSuffix("libskiff_scheduler.so") })
    libraries.append(try Fixtures.buildCPlugin(
      source: Fixtures.repository.appendingPathComponent("examples/plugins/label_preference.c").path,
      into: dir, name: "labelpref"))
    for library in libraries {
      let result = try Fixtures.run(["nm", "-D", "--defined-only", library])
      XCTAssertEqual(result.status, 0, result.output)
      let symbols = result.output.split(separator: "\n").compactMap { $0.split(separator: " ").last }
        .filter { $0.hasPrefix("skiff_") }
      XCTAssertEqual(symbols, ["skiff_plugin_init"], library)
    }
  }

  /// Full Foundation maps libFoundation, ICU and FoundationInternationalization: about 7 MB of the
  /// server's resident memory. What ships imports FoundationEssentials (and SystemKit for threads,
  /// locks and formatting) instead; a file that imports Foundation again brings them back.
  func testNothingShippedNeedsFullFoundation() throws {
    let fullFoundation = ["libFoundation.so", "lib_FoundationICU.so", "libFoundationInternationalization.so"]
    let libraries = try FileManager.default.contentsOfDirectory(atPath: Fixtures.buildDirectory)
      .filter { $0.hasPrefix("libskiff_") && $0.hasSuffix(".so") }
      .map { Fixtures.buildDirectory + "/" + $0 }
    XCTAssertTrue(libraries.contains { $0.hasSuffix("libskiff_runtime.so") })
    for binary in [skiff] + libraries {
      let result = try Fixtures.run(["readelf", "-d", binary])
      XCTAssertEqual(result.status, 0, result.output)
      let needed = result.output.split(separator: "\n").filter { $0.contains("(NEEDED)") }
      XCTAssertFalse(needed.isEmpty, "\(binary): \(result.output)")
      for library in fullFoundation {
        XCTAssertFalse(needed.contains { $0.contains("[\(library)]") },
                       "\(binary) needs \(library): a file in its module imports Foundation; import "
                         + "FoundationEssentials and use SystemKit's helpers instead")
      }
    }
  }

  func testBenchABIEndsWithOneJSONLine() throws {
    let result = try skiff("bench", "abi", "--profile",
                           Fixtures.repository.appendingPathComponent("profiles/edge.yaml").path,
                           "--rounds", "3", "--batch", "1000")
    XCTAssertEqual(result.status, 0, result.output)
    let last = try XCTUnwrap(result.output.split(separator: "\n").last)
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
    XCTAssertEqual(json["plugin"] as? String, "NodeResourcesFit")
    XCTAssertEqual(json["calls"] as? Int, 3000)
    XCTAssertGreaterThan(json["ns_per_call_median"] as? Double ?? 0, 0)
    XCTAssertGreaterThan(json["rss_mb"] as? Double ?? 0, 0)
  }
}
