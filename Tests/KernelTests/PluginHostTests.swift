// Plugins in C and Swift, loaded for real, answering through the ABI: the C example's filter and
// score, the Swift plugin's services of every type, and a C plugin using the host table.
import Foundation
import Kernel
import SkiffTestSupport
import SkiffABI
import XCTest

final class PluginHostTests: KernelTestCase {

  func testCExamplePluginFiltersAndScoresByLabel() throws {
    // Built exactly as the README tells a plugin author to build it.
    try Fixtures.buildCPlugin(source: Fixtures.repository.appendingPathComponent(
      "examples/plugins/label_preference.c").path, into: dir, name: "labelpref")
    try running.boot("""
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: c-example
      plugins:
        - name: labelpref
          config:
            requireLabel: accelerator=h100
            preferLabel: zone=a
      """, in: dir)
    let strings = running.kernel.strings
    let plugin = try XCTUnwrap(running.kernel.extensions.scheduler(named: "LabelPreference"))
    XCTAssertEqual(plugin.owner, "labelpref")
    let vtable = plugin.vtable.pointee

    let gpuZoneA = [skiff_label(key: strings.intern("accelerator"), value: strings.intern("h100")),
                    skiff_label(key: strings.intern("zone"), value: strings.intern("a"))]
    let gpuZoneB = [skiff_label(key: strings.intern("accelerator"), value: strings.intern("h100")),
                    skiff_label(key: strings.intern("zone"), value: strings.intern("b"))]
    let cpuOnly = [skiff_label(key: strings.intern("zone"), value: strings.intern("a"))]
    var pod = skiff_pod()
    let cycle = SchedulingCycle()

    func ask(_ labels: [skiff_label]) -> (skiff_status, Int64) {
      labels.withUnsafeBufferPointer { buffer in
        var node = skiff_node()
        node.labels = buffer.baseAddress
        node.n_labels = UInt32(buffer.count)
        var score: Int64 = -1
        let status = vtable.filter(vtable.`self`, cycle.handle, &pod, &node)
        if status == SKIFF_OK { _ = vtable.score(vtable.`self`, cycle.handle, &pod, &node, &score) }
        return (status, score)
      }
    }
    XCTAssertTrue(ask(gpuZoneA) == (SKIFF_OK, 100))
    XCTAssertTrue(ask(gpuZoneB) == (SKIFF_OK, 0))
    XCTAssertTrue(ask(cpuOnly).0 == SKIFF_UNSCHEDULABLE_AND_UNRESOLVABLE)
    XCTAssertEqual(cycle.reasons(ofPlugin: 0), ["node(s) didn't have label accelerator=h100"])
  }

  func testCExamplePluginRejectsBadConfigWithItsReason() throws {
    try Fixtures.buildCPlugin(source: Fixtures.repository.appendingPathComponent(
      "examples/plugins/label_preference.c").path, into: dir, name: "labelpref")
    XCTAssertThrowsError(try running.boot("""
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: c-example
      plugins:
        - name: labelpref
          config: {preferLabel: no-equals-sign}
      """, in: dir)) { error in
      XCTAssertEqual((error as? PluginLoadError)?.cause, .startFailed)
      XCTAssertTrue("\(error)".hasSuffix("start returned INVALID: config.preferLabel must be a string \"key=value\""),
                    "\(error)")
    }
  }

  func testSwiftPluginServicesOfEveryType() throws {
    try running.boot("apiVersion: skiff.dev/v1alpha1\nkind: Profile\nname: s\nplugins:\n  - name: swifttest\n", in: dir)
    let services = running.kernel.services
    XCTAssertEqual(try services.call("swifttest.add", [.int64(1 << 40), .int64(2)]), .int64((1 << 40) + 2))
    XCTAssertEqual(try services.call("swifttest.add32", [.int32(-7), .int32(3)]), .int32(-4))
    XCTAssertEqual(try services.call("swifttest.scale", [.double(1.5), .double(-2)]), .double(-3))
    XCTAssertEqual(try services.call("swifttest.greet", [.string("skiff")]), .string("hello, skiff"))
    XCTAssertEqual(try services.call("swifttest.tick", []), .void)
    XCTAssertEqual(try services.call("swifttest.tick", []), .void)
    XCTAssertEqual(try services.call("swifttest.ticks", []), .int64(2))
    XCTAssertEqual(try services.call("swifttest.add", parsing: ["40", "2"]), .int64(42))
    XCTAssertThrowsError(try services.call("swifttest.add", [.int64(1)])) { error in
      XCTAssertEqual("\(error)", "service 'swifttest.add' takes 2 arguments (l, l), got 1")
    }
    XCTAssertEqual(services.services.filter { $0.owner == "swifttest" }.count, 6)
  }

  func testSwiftPluginFilterOverExtendedResources() throws {
    try running.boot("apiVersion: skiff.dev/v1alpha1\nkind: Profile\nname: s\nplugins:\n  - name: swifttest\n", in: dir)
    let fit = try XCTUnwrap(running.kernel.extensions.scheduler(named: "SwiftExtendedFit")).vtable.pointee
    let gpu = running.kernel.strings.intern("nvidia.com/gpu")
    let want = [skiff_scalar(name: gpu, reserved0: 0, value: 2)]
    let have = [skiff_scalar(name: gpu, reserved0: 0, value: 8)]
    let used = [skiff_scalar(name: gpu, reserved0: 0, value: 7)]
    let cycle = SchedulingCycle()
    let status = want.withUnsafeBufferPointer { want in
      have.withUnsafeBufferPointer { have in
        used.withUnsafeBufferPointer { used in
          var pod = skiff_pod()
          pod.requests.scalars = want.baseAddress
          pod.requests.n_scalars = 1
          var node = skiff_node()
          node.allocatable.scalars = have.baseAddress
          node.allocatable.n_scalars = 1
          node.requested.scalars = used.baseAddress
          node.requested.n_scalars = 1
          return fit.filter(fit.`self`, cycle.handle, &pod, &node)
        }
      }
    }
    XCTAssertEqual(status, SKIFF_UNSCHEDULABLE)
    XCTAssertEqual(cycle.reasons(ofPlugin: 0), ["Insufficient nvidia.com/gpu"])
  }

  func testCPluginUsesTheHostTable() throws {
    try Fixtures.buildCPlugin(source: Fixtures.cFixture("hostcheck"), into: dir, name: "hostcheck")
    // hostcheck is listed first but requires swifttest, whose service it calls in its start.
    try running.boot("""
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: host
      plugins:
        - name: hostcheck
        - name: swifttest
      """, in: dir)
    XCTAssertEqual(running.kernel.plugins.map(\.name), ["swifttest", "hostcheck"])
    let services = running.kernel.services
    // Another plugin's service, called by name through libffi from C.
    XCTAssertEqual(try services.call("hostcheck.sum", []), .int64(42))
    // Objects written through the host come back with their revision.
    XCTAssertEqual(try services.call("hostcheck.revision", []), .int64(1))
    XCTAssertEqual(try services.call("hostcheck.object", []), .string(#"{"kind":"Widget","name":"w1"}"#))
    let stored = try running.loop.submit { [kernel = running.kernel] in
      kernel.objects.get("widgets", namespace: "default", name: "w1")
    }
    XCTAssertEqual(stored?.revision, 1)

    // A repeating timer fires three times, stops itself, sends work off the loop and back, and
    // publishes an event from the loop.
    nonisolated(unsafe) var published: String?
    try running.loop.submit { [kernel = running.kernel] in
      _ = kernel.events.subscribe("hostcheck.work") { _, payload in published = payload }
    }
    XCTAssertTrue(running.wait { published != nil }, "no event from the plugin")
    XCTAssertEqual(published, #"{"work":"done"}"#)
    XCTAssertEqual(try services.call("hostcheck.fires", []), .int64(3))
    XCTAssertEqual(running.kernel.metrics.value("hostcheck_ticks"), 3)
    let exposition = running.kernel.metrics.exposition()
    XCTAssertTrue(exposition.contains("# TYPE hostcheck_ticks counter\nhostcheck_ticks 3.0\n"), exposition)
    XCTAssertTrue(exposition.contains("# TYPE hostcheck_last_tick gauge\nhostcheck_last_tick 3.0\n"), exposition)
    XCTAssertEqual(try services.call("hostcheck.worked", []), .int32(11), "work off the loop, after on it")

    // Watches and subscriptions deliver on the loop: the plugin's own write, then ours.
    XCTAssertTrue(running.wait { (try? services.call("hostcheck.watched", [])) == .string(#"ADDED {"kind":"Widget","name":"w1"}"#) })
    try running.loop.submit { [kernel = running.kernel] in
      _ = kernel.objects.put("widgets", namespace: "default", name: "w1", json: #"{"v":2}"#, expectedRevision: 1)
      kernel.events.publish("hostcheck.ping", "{}")
      kernel.events.publish("hostcheck.ping", "{}")
    }
    XCTAssertTrue(running.wait { (try? services.call("hostcheck.pinged", [])) == .int64(2) })
    XCTAssertEqual(try services.call("hostcheck.watched", []), .string(#"MODIFIED {"v":2}"#))

    // After start, registration is closed.
    XCTAssertEqual(try services.call("hostcheck.register_late", []), .int32(Int32(SKIFF_INVALID.rawValue)))
    XCTAssertNil(running.kernel.extensions.scheduler(named: "Late"))
  }
}
