// Coscheduling's permit logic through the vtable the kernel registered: members wait until their
// gang's minMember are placed, then all are allowed; one giving up rejects the rest.
import Foundation
import Kernel
import SkiffABI
import SkiffTestSupport
import XCTest

final class CoschedulingTests: KernelTestCase {
  /// What the plugin asked the framework through host->permit_allow / permit_reject.
  private final class Decisions: PermitDecisions {
    var allowed: [UInt64: String] = [:]
    var rejected: [UInt64: String] = [:]
    func allow(pod: UInt64, plugin: String) -> skiff_status { allowed[pod] = plugin; return SKIFF_OK }
    func reject(pod: UInt64, reason: String) -> skiff_status { rejected[pod] = reason; return SKIFF_OK }
  }

  private var objects: ClusterObjects!
  private var plugin: skiff_scheduler_plugin!
  private let decisions = Decisions()

  private func boot() throws {
    try running.boot("""
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: scheduler
      plugins:
        - name: scheduler
          config: {Coscheduling: {permitWaitingTimeSeconds: 7}}
      """, in: dir)
    objects = ClusterObjects(running.kernel.strings)
    plugin = try XCTUnwrap(running.kernel.extensions.scheduler(named: "Coscheduling")).vtable.pointee
    running.kernel.permits = decisions
  }

  private func member(_ id: UInt64, of group: String?, minMember: Int32 = 3,
                      namespace: String = "default") -> UnsafePointer<skiff_pod>? {
    var pod = objects.pod()!.pointee
    pod.id = id
    pod.namespace_ = objects.id(namespace)
    pod.group = group.map(objects.id) ?? 0
    pod.group_min_member = minMember
    return objects.keep([pod])
  }

  /// Permit for `pod` in a cycle whose one node holds `placed` (the pod itself among them, as the
  /// framework places it before permit), on the loop as the framework calls it.
  private func permit(_ pod: UnsafePointer<skiff_pod>?, placed: [UnsafePointer<skiff_pod>?]) throws -> (skiff_status, UInt64) {
    var node = objects.node("n")!.pointee
    node.pods = objects.keep(placed)
    node.n_pods = UInt32(placed.count)
    let cycle = SchedulingCycle()
    cycle.nodes = objects.keep([objects.keep([node])])
    cycle.nodeCount = 1
    return try running.kernel.loop.submit { [plugin] in
      var timeout: UInt64 = 0
      let status = plugin!.permit(plugin!.`self`, cycle.handle, pod, nil, &timeout)
      return (status, timeout)
    }
  }

  func testMembersWaitUntilMinMemberArePlacedThenAllAreAllowed() throws {
    try boot()
    let a = member(1, of: "trio"), b = member(2, of: "trio"), c = member(3, of: "trio")
    let stranger = member(9, of: "trio", namespace: "other")
    var (status, timeout) = try permit(a, placed: [a])
    XCTAssertEqual(status, SKIFF_WAIT)
    XCTAssertEqual(timeout, 7000, "permitWaitingTimeSeconds from the config")
    (status, _) = try permit(b, placed: [a, b, stranger])
    XCTAssertEqual(status, SKIFF_WAIT, "a group of the same name in another namespace is another gang")
    XCTAssertEqual(decisions.allowed, [:])
    (status, _) = try permit(c, placed: [a, b, c])
    XCTAssertEqual(status, SKIFF_OK)
    XCTAssertEqual(decisions.allowed, [1: "Coscheduling", 2: "Coscheduling"])
    XCTAssertEqual(try permit(member(4, of: nil), placed: []).0, SKIFF_OK, "a pod without a group")
    XCTAssertEqual(try permit(member(5, of: "solo", minMember: 1), placed: []).0, SKIFF_OK, "a gang of one")
  }

  func testOneMemberGivingUpRejectsTheOthersAndRefusesTheGang() throws {
    try boot()
    let d = member(4, of: "duo"), e = member(5, of: "duo"), f = member(6, of: "duo")
    XCTAssertEqual(try permit(d, placed: [d]).0, SKIFF_WAIT)
    XCTAssertEqual(try permit(e, placed: [d, e]).0, SKIFF_WAIT)
    let unreserve = plugin.unreserve!, preFilter = plugin.pre_filter!, filter = plugin.filter!, me = plugin.`self`
    XCTAssertEqual(try running.kernel.loop.submit { preFilter(me, SchedulingCycle().handle, f, nil, nil) }, SKIFF_SKIP,
                   "filter runs only for refused gangs")
    try running.kernel.loop.submit { unreserve(me, SchedulingCycle().handle, d, nil) }
    let why = "pod group default/duo was rejected: gang of 2/3 members could not be placed together"
    XCTAssertEqual(decisions.rejected, [5: why])
    let cycle = SchedulingCycle()
    XCTAssertEqual(try running.kernel.loop.submit { preFilter(me, cycle.handle, f, nil, nil) }, SKIFF_OK)
    XCTAssertEqual(try running.kernel.loop.submit { filter(me, cycle.handle, f, self.objects.node("n")) },
                   SKIFF_UNSCHEDULABLE_AND_UNRESOLVABLE)
    XCTAssertEqual(cycle.reasons(ofPlugin: 0), [why])
  }
}
