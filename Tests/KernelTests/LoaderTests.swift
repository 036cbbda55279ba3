// Every way loading a plugin can fail names the plugin, the file and the cause; ordering follows
// `requires`; shutdown runs in reverse.
import Foundation
import Kernel
import SkiffTestSupport
import XCTest

final class LoaderTests: KernelTestCase {

  private func profile(_ plugins: [String]) -> String {
    "apiVersion: skiff.dev/v1alpha1\nkind: Profile\nname: test\nplugins:\n"
      + plugins.map { "  - name: \($0)\n" }.joined()
  }

  private func configurable(_ name: String, _ defines: [String] = []) throws {
    try Fixtures.buildCPlugin(source: Fixtures.cFixture("configurable"), into: dir, name: name,
                              defines: ["NAME=\"\(name)\""] + defines)
  }

  /// Boots and returns the load error, failing the test if there was none.
  private func loadError(_ plugins: [String]) -> PluginLoadError? {
    do {
      try running.boot(profile(plugins), in: dir)
      XCTFail("expected the profile to fail")
      return nil
    } catch let error as PluginLoadError {
      return error
    } catch {
      XCTFail("unexpected error \(error)")
      return nil
    }
  }

  func testFileMissing() {
    let error = loadError(["absent"])
    XCTAssertEqual(error?.cause, .fileMissing)
    XCTAssertEqual(error?.plugin, "absent")
    XCTAssertEqual(error?.file, dir.appendingPathComponent("libskiff_absent.so").path)
    XCTAssertEqual(error?.description,
                   "plugin 'absent' (\(dir.appendingPathComponent("libskiff_absent.so").path)): file not found")
  }

  func testNotASharedLibrary() throws {
    try "not an ELF file".write(to: dir.appendingPathComponent("libskiff_text.so"), atomically: true, encoding: .utf8)
    let error = loadError(["text"])
    XCTAssertEqual(error?.cause, .notSharedLibrary)
    XCTAssertTrue(error?.description.contains("plugin 'text'") == true)
    XCTAssertTrue(error?.message.contains("not a loadable shared library") == true, error?.message ?? "")
  }

  func testNoEntrySymbol() throws {
    try configurable("noentry", ["ENTRY=other_name"])
    let error = loadError(["noentry"])
    XCTAssertEqual(error?.cause, .noEntrySymbol)
    XCTAssertEqual(error?.message, "exports no 'skiff_plugin_init' symbol; is it a Skiff plugin?")
  }

  func testABIVersionMismatch() throws {
    try configurable("future", ["ABI=99"])
    let error = loadError(["future"])
    XCTAssertEqual(error?.cause, .abiVersionMismatch)
    XCTAssertTrue(error?.message.hasPrefix("built for Skiff ABI version 99; this kernel speaks versions 1 to ") == true,
                  error?.message ?? "")
  }

  func testDescriptorTooSmall() throws {
    try configurable("small", ["SIZE=16"])
    let error = loadError(["small"])
    XCTAssertEqual(error?.cause, .descriptorTooSmall)
    XCTAssertTrue(error?.message.hasPrefix("its skiff_plugin is 16 bytes") == true, error?.message ?? "")
  }

  func testInitReturnedError() throws {
    try configurable("initfails", ["INIT_RESULT=3"])
    let error = loadError(["initfails"])
    XCTAssertEqual(error?.cause, .initFailed)
    XCTAssertEqual(error?.message, "skiff_plugin_init returned 3")
  }

  func testNameMismatch() throws {
    try Fixtures.buildCPlugin(source: Fixtures.cFixture("configurable"), into: dir, name: "alias",
                              defines: ["NAME=\"realname\""])
    let error = loadError(["alias"])
    XCTAssertEqual(error?.cause, .nameMismatch)
    XCTAssertEqual(error?.message, "the profile loads it as 'alias' but it calls itself 'realname'")
  }

  func testDuplicateNameIsRefusedWithBothPositions() throws {
    try configurable("twice")
    let text = "apiVersion: skiff.dev/v1alpha1\nkind: Profile\nname: test\nplugins:\n"
      + "  - name: twice\n  - name: twice\n"
    XCTAssertThrowsError(try running.boot(text, in: dir)) { error in
      XCTAssertEqual((error as? ProfileError)?.description,
                     "\(dir.appendingPathComponent("profile.yaml").path):6:11: plugin 'twice' is listed twice (first at 5:11)")
    }
  }

  func testMissingDependency() throws {
    try configurable("needy", ["REQUIRES=\"ghost\","])
    let error = loadError(["needy"])
    XCTAssertEqual(error?.cause, .missingDependency)
    XCTAssertEqual(error?.message, "requires plugin 'ghost', which the profile does not load")
  }

  func testDependencyCycle() throws {
    try configurable("alpha", ["REQUIRES=\"beta\","])
    try configurable("beta", ["REQUIRES=\"gamma\","])
    try configurable("gamma", ["REQUIRES=\"alpha\","])
    let error = loadError(["alpha", "beta", "gamma"])
    XCTAssertEqual(error?.cause, .dependencyCycle)
    XCTAssertEqual(error?.message, "plugins require each other in a cycle: alpha → beta → gamma → alpha")
  }

  func testStartFailureStopsEarlierPluginsInReverse() throws {
    try configurable("first")
    try configurable("second")
    try configurable("broken", ["START_STATUS=SKIFF_ERROR"])
    let error = loadError(["first", "second", "broken"])
    XCTAssertEqual(error?.cause, .startFailed)
    XCTAssertEqual(error?.description,
                   "plugin 'broken' (\(dir.appendingPathComponent("libskiff_broken.so").path)): "
                     + "start returned ERROR: cannot reach the frobnicator")
    let lifecycle = running.recorder.all.filter { $0.contains("] start ") || $0.contains("] stop ") }
    XCTAssertEqual(lifecycle, ["info [first] start first", "info [second] start second",
                               "info [second] stop second", "info [first] stop first"])
  }

  func testRequiresOrderStartAndShutdownReverses() throws {
    try configurable("app", ["REQUIRES=\"db\",\"cache\","])
    try configurable("cache", ["REQUIRES=\"db\","])
    try configurable("db")
    try configurable("metrics")
    try running.boot(profile(["app", "metrics", "cache", "db"]), in: dir)
    // Requirements start just before the first plugin that needs them; otherwise profile order.
    XCTAssertEqual(running.kernel.plugins.map(\.name), ["db", "cache", "app", "metrics"])
    try running.loop.submit { [kernel = running.kernel] in kernel.shutdown() }
    let lifecycle = running.recorder.all.filter { $0.contains("] start ") || $0.contains("] stop ") }
    XCTAssertEqual(lifecycle, ["info [db] start db", "info [cache] start cache", "info [app] start app",
                               "info [metrics] start metrics", "info [metrics] stop metrics",
                               "info [app] stop app", "info [cache] stop cache", "info [db] stop db"])
  }

  func testConfigVariablesAreFilledAndUnknownOnesRefused() throws {
    let text = "apiVersion: skiff.dev/v1alpha1\nkind: Profile\nname: vars\nplugins:\n"
      + "  - name: swifttest\n    config:\n      resource: ${vendor}.com/gpu\n"
    try running.boot(text, in: dir, variables: ["vendor": "amd", "dataDir": "/unused"])
    XCTAssertEqual(running.kernel.plugins.first?.config, #"{"resource":"amd.com/gpu"}"#)

    let other = RunningKernel()
    defer { other.stop() }
    XCTAssertThrowsError(try other.boot(text, in: dir, variables: ["dataDir": "/x"])) { error in
      XCTAssertEqual((error as? PluginLoadError)?.cause, .invalidConfig)
      XCTAssertEqual((error as? PluginLoadError)?.message,
                     "config refers to ${vendor}, which is not defined (defined: ${dataDir}) (at 5:5)")
    }
  }
}
