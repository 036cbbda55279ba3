// The node agent end to end: the real `skiff server` (agent in-process) or `skiff agent` as its own
// process, the real `process` runtime (host processes in cgroups), and the real kubectl.
import Foundation
import SkiffTestSupport
import XCTest

final class NodeAgentTests: XCTestCase {
  var dir: URL!
  var server: SkiffServer!
  /// Unique per test, so that cleanup removes exactly this test's cgroups and processes.
  var cgroupParent = ""
  var agents: [Process] = []

  override func setUpWithError() throws {
    dir = try Fixtures.temporaryDirectory()
    cgroupParent = "skiff-agent-test-\(UInt64.random(in: 0 ... .max))"
  }

  override func tearDown() {
    for agent in agents where agent.isRunning {
      kill(agent.processIdentifier, SIGKILL)
      agent.waitUntilExit()
    }
    server?.stop()
    // Containers outlive their agent by design: whatever this test started goes with its cgroups
    // (and oci containers with runc and their mounts).
    Leftovers.removeContainers(runcRoot: "\(dir.path)/runtime/oci/runc", mountsUnder: dir.path)
    Cgroups.destroyParent(cgroupParent)
    try? FileManager.default.removeItem(at: dir)
  }

  // MARK: Helpers

  var runtimeConfig: String { "{stateDir: \"\(dir.path)/runtime\", cgroupParent: \(cgroupParent)}" }

  /// A profile file for a `skiff` command that loads the runtime as the server does.
  func runtimeProfile(_ name: String, tail: String = "") throws -> URL {
    let profile = dir.appendingPathComponent("\(name)-profile.yaml")
    try """
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: \(name)
      plugins:
        - name: runtime
          config: \(runtimeConfig)

      """.appending(tail).write(to: profile, atomically: true, encoding: .utf8)
    return profile
  }

  /// A server that is also a node ("agent-node"), with a short restart back-off.
  func startServerWithAgent(backoff: Double = 0.2) throws {
    server = try SkiffServer(dataDir: dir.appendingPathComponent("data"), plugins: ["scheduler", "runtime"],
                             configs: ["runtime": runtimeConfig],
                             profileTail: "agent:\n  nodeName: agent-node\n  restartBackoffSeconds: \(backoff)\n")
  }

  func kubectl(_ arguments: String..., stdin: String? = nil) throws -> String {
    let result = try server.kubectl(arguments, stdin: stdin)
    XCTAssertEqual(result.status, 0, "kubectl \(arguments.joined(separator: " ")): \(result.output)")
    return result.output
  }

  func pod(_ name: String) throws -> [String: Any] {
    let reply = try HTTPClient.send("GET", "\(server.url)/api/v1/namespaces/default/pods/\(name)")
    return reply.json
  }

  /// Polls the pod until `condition` holds; fails with the last status seen.
  @discardableResult
  func waitForPod(_ name: String, seconds: Double = 20, _ what: String,
                  _ condition: ([String: Any]) -> Bool) throws -> [String: Any] {
    let deadline = Date().addingTimeInterval(seconds)
    var last: [String: Any] = [:]
    while Date() < deadline {
      last = try pod(name)
      if condition(last) { return last }
      usleep(50_000)
    }
    throw TestFailure("pod \(name) never got \(what); last status: \(last["status"] ?? "none")\n\(server.serverLog.suffix(2000))")
  }

  func status(_ pod: [String: Any]) -> [String: Any] { pod["status"] as? [String: Any] ?? [:] }
  func phase(_ pod: [String: Any]) -> String? { status(pod)["phase"] as? String }
  func containerStatus(_ pod: [String: Any], _ key: String = "containerStatuses", _ index: Int = 0) -> [String: Any] {
    (status(pod)[key] as? [[String: Any]] ?? []).dropFirst(index).first ?? [:]
  }

  func apply(_ yaml: String) throws {
    _ = try kubectl("apply", "-f", "-", stdin: yaml)
  }

  func waitForFile(_ path: String, seconds: Double = 20) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if FileManager.default.fileExists(atPath: path) { return }
      usleep(50_000)
    }
    throw TestFailure("\(path) never appeared")
  }

  // MARK: Running, environment, init containers, logs

  func testPodRunsWithInitContainersAndEnvironmentAndItsOutputIsInKubectlLogs() throws {
    try startServerWithAgent()
    let nodes = try kubectl("get", "nodes", "-o", "json")
    let node = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(nodes.utf8)) as? [String: Any])?["items"] as? [[String: Any]]).first
    let nodeStatus = node?["status"] as? [String: Any] ?? [:]
    XCTAssertEqual((node?["metadata"] as? [String: Any])?["name"] as? String, "agent-node")
    XCTAssertEqual((nodeStatus["capacity"] as? [String: Any])?["cpu"] as? String, "\(ProcessInfo.processInfo.activeProcessorCount)")
    XCTAssertEqual((nodeStatus["capacity"] as? [String: Any])?["pods"] as? String, "110")
    XCTAssertEqual((nodeStatus["conditions"] as? [[String: Any]])?.first?["status"] as? String, "True")
    let lease = try HTTPClient.send("GET", "\(server.url)/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/agent-node")
    XCTAssertEqual(lease.status, 200, lease.text)

    let work = dir.appendingPathComponent("work").path
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    _ = try kubectl("create", "configmap", "settings", "--from-literal=greeting=hello", "--from-literal=color=blue")
    _ = try kubectl("create", "secret", "generic", "credentials", "--from-literal=token=s3cret")
    try apply("""
      apiVersion: v1
      kind: Pod
      metadata:
        name: app
        labels: {tier: web}
        # Without it kubectl says on stderr which container it chose (the output holds both).
        annotations: {kubectl.kubernetes.io/default-container: main}
      spec:
        initContainers:
        - name: prepare
          image: none
          command: [sh, -c, "echo prepared > \(work)/init-ran"]
          # Init containers count for the QoS class too: Guaranteed needs limits on every one.
          resources:
            limits: {cpu: 100m, memory: 16Mi}
        containers:
        - name: main
          image: none
          workingDir: \(work)
          command: [sh, -c]
          args: ["cat init-ran; echo \\"$GREETING $TOKEN $POD_NAME $NODE $TIER $CPU_MILLI $(GREETING)\\"; echo \\"cfg_color=$cfg_color\\"; echo line3; while [ ! -f go ]; do sleep 0.1; done; echo later; sleep 1000"]
          env:
          - {name: GREETING, valueFrom: {configMapKeyRef: {name: settings, key: greeting}}}
          - {name: TOKEN, valueFrom: {secretKeyRef: {name: credentials, key: token}}}
          - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
          - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
          - {name: TIER, valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}}
          - {name: CPU_MILLI, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}
          envFrom:
          - {prefix: cfg_, configMapRef: {name: settings}}
          resources:
            limits: {cpu: 500m, memory: 64Mi}
      """)
    let running = try waitForPod("app", "Running and Ready") {
      self.phase($0) == "Running" && self.containerStatus($0)["ready"] as? Bool == true
    }
    let initStatus = containerStatus(running, "initContainerStatuses")
    let initTerminated = (initStatus["state"] as? [String: Any])?["terminated"] as? [String: Any]
    XCTAssertEqual(initTerminated?["exitCode"] as? Int, 0)
    XCTAssertEqual(initTerminated?["reason"] as? String, "Completed")
    XCTAssertEqual(status(running)["qosClass"] as? String, "Guaranteed")
    let conditions = Dictionary(uniqueKeysWithValues: (status(running)["conditions"] as? [[String: Any]] ?? [])
      .map { ($0["type"] as! String, $0["status"] as! String) })
    XCTAssertEqual(conditions, ["PodScheduled": "True", "PodReadyToStartContainers": "True", "Initialized": "True",
                                "ContainersReady": "True", "Ready": "True"])
    XCTAssertEqual(status(running)["hostIP"] as? String, "127.0.0.1")
    XCTAssertTrue((containerStatus(running)["containerID"] as? String ?? "").hasPrefix("process://"))

    let expected = "prepared\nhello s3cret app agent-node web 500 hello\ncfg_color=blue\nline3\n"
    var logs = ""
    for _ in 0..<100 where logs != expected {
      logs = try kubectl("logs", "app")
      usleep(50_000)
    }
    XCTAssertEqual(logs, expected)
    XCTAssertEqual(try kubectl("logs", "app", "--tail", "1"), "line3\n")
    XCTAssertEqual(try kubectl("logs", "app", "-c", "prepare"), "")
    let stamped = try kubectl("logs", "app", "--timestamps", "--tail", "1")
    XCTAssertTrue(stamped.hasSuffix(" line3\n") && stamped.hasPrefix("20"), stamped)

    // -f receives a line written after it started.
    let follower = Process()
    follower.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    follower.arguments = ["KUBECONFIG=\(server.kubeconfig)", "kubectl", "logs", "-f", "app", "--tail", "1"]
    let output = Pipe()
    follower.standardOutput = output
    try follower.run()
    defer { if follower.isRunning { follower.terminate(); follower.waitUntilExit() } }
    // A stream that stops delivering must fail the test, not hang it: ending kubectl ends the reads.
    DispatchQueue.global().asyncAfter(deadline: .now() + 20) { if follower.isRunning { follower.terminate() } }
    var followed = ""
    let reader = output.fileHandleForReading
    while !followed.contains("line3") {
      let data = reader.availableData
      if data.isEmpty { break }  // kubectl ended: the assertion below says what it printed
      followed += String(decoding: data, as: UTF8.self)
    }
    FileManager.default.createFile(atPath: "\(work)/go", contents: Data())
    while !followed.contains("later") {
      let data = reader.availableData
      if data.isEmpty { break }
      followed += String(decoding: data, as: UTF8.self)
    }
    XCTAssertEqual(followed, "line3\nlater\n")

    // Errors as Kubernetes words them.
    let unknown = try server.kubectl(["logs", "app", "-c", "nope"])
    XCTAssertNotEqual(unknown.status, 0)
    XCTAssertTrue(unknown.output.contains("container nope is not valid for pod app"), unknown.output)
  }

  func testMissingConfigMapHoldsTheContainerWithCreateContainerConfigError() throws {
    try startServerWithAgent()
    try apply("""
      apiVersion: v1
      kind: Pod
      metadata: {name: waiting}
      spec:
        containers:
        - name: main
          image: none
          command: [sleep, "1000"]
          env: [{name: X, valueFrom: {configMapKeyRef: {name: absent, key: x}}}]
      """)
    let held = try waitForPod("waiting", "CreateContainerConfigError") {
      ((self.containerStatus($0)["state"] as? [String: Any])?["waiting"] as? [String: Any])?["reason"] as? String
        == "CreateContainerConfigError"
    }
    XCTAssertEqual(phase(held), "Pending")
    _ = try kubectl("create", "configmap", "absent", "--from-literal=x=1")
    try waitForPod("waiting", "Running once the ConfigMap exists") { self.phase($0) == "Running" }
  }

  // MARK: Restarts

  func testFailingContainerRestartsWithBackOffAndKeepsItsPreviousLog() throws {
    try startServerWithAgent(backoff: 0.2)
    try apply("""
      apiVersion: v1
      kind: Pod
      metadata: {name: crasher}
      spec:
        containers:
        - {name: main, image: none, command: [sh, -c, "echo run; exit 3"]}
      """)
    let looping = try waitForPod("crasher", "CrashLoopBackOff after restarts") {
      let container = self.containerStatus($0)
      return (container["restartCount"] as? Int ?? 0) >= 3
        && ((container["state"] as? [String: Any])?["waiting"] as? [String: Any])?["reason"] as? String == "CrashLoopBackOff"
    }
    XCTAssertEqual(phase(looping), "Running")
    let last = (containerStatus(looping)["lastState"] as? [String: Any])?["terminated"] as? [String: Any]
    XCTAssertEqual(last?["exitCode"] as? Int, 3)
    XCTAssertEqual(last?["reason"] as? String, "Error")
    XCTAssertEqual(try kubectl("logs", "crasher", "--previous"), "run\n")
    let table = try kubectl("get", "pod", "crasher")
    XCTAssertTrue(table.contains("CrashLoopBackOff") || table.contains("Error") || table.contains("Running"), table)
  }

  func testRestartPoliciesEndInSucceededOrFailed() throws {
    try startServerWithAgent(backoff: 0.2)
    let marker = dir.appendingPathComponent("failed-once").path
    try apply("""
      apiVersion: v1
      kind: Pod
      metadata: {name: never-fails}
      spec:
        restartPolicy: Never
        containers: [{name: main, image: none, command: [sh, -c, "exit 2"]}]
      ---
      apiVersion: v1
      kind: Pod
      metadata: {name: onfailure-ok}
      spec:
        restartPolicy: OnFailure
        containers: [{name: main, image: none, command: ["true"]}]
      ---
      apiVersion: v1
      kind: Pod
      metadata: {name: onfailure-retries}
      spec:
        restartPolicy: OnFailure
        containers: [{name: main, image: none, command: [sh, -c, "[ -f \(marker) ] || { touch \(marker); exit 1; }"]}]
      ---
      apiVersion: v1
      kind: Pod
      metadata: {name: init-fails}
      spec:
        restartPolicy: Never
        initContainers: [{name: setup, image: none, command: ["false"]}]
        containers: [{name: main, image: none, command: ["true"]}]
      """)
    let failed = try waitForPod("never-fails", "Failed") { self.phase($0) == "Failed" }
    XCTAssertEqual(containerStatus(failed)["restartCount"] as? Int, 0)
    XCTAssertEqual(((containerStatus(failed)["state"] as? [String: Any])?["terminated"] as? [String: Any])?["exitCode"] as? Int, 2)
    let succeeded = try waitForPod("onfailure-ok", "Succeeded") { self.phase($0) == "Succeeded" }
    XCTAssertEqual(containerStatus(succeeded)["restartCount"] as? Int, 0)
    let retried = try waitForPod("onfailure-retries", "Succeeded") { self.phase($0) == "Succeeded" }
    XCTAssertEqual(containerStatus(retried)["restartCount"] as? Int, 1)
    let initFailed = try waitForPod("init-fails", "Failed") { self.phase($0) == "Failed" }
    XCTAssertNil(containerStatus(initFailed)["containerID"], "a container started although its init container failed")
    // Terminal pods are deleted at once: no agent needs to stop anything.
    _ = try kubectl("delete", "pod", "never-fails", "--wait=false")
    XCTAssertEqual(try HTTPClient.send("GET", "\(server.url)/api/v1/namespaces/default/pods/never-fails").status, 404)
  }

  func testMemoryLimitBreachIsReportedAsOOMKilled() throws {
    guard Cgroups.mounts["memory"] != nil else { throw XCTSkip("no cgroup v1 memory controller on this host") }
    try startServerWithAgent()
    try apply("""
      apiVersion: v1
      kind: Pod
      metadata: {name: hungry}
      spec:
        restartPolicy: Never
        containers:
        - {name: main, image: none, command: [tail, /dev/zero], resources: {limits: {memory: 32Mi}}}
      """)
    let killed = try waitForPod("hungry", seconds: 60, "Failed") { self.phase($0) == "Failed" }
    let terminated = (containerStatus(killed)["state"] as? [String: Any])?["terminated"] as? [String: Any]
    XCTAssertEqual(terminated?["reason"] as? String, "OOMKilled")
    XCTAssertEqual(terminated?["exitCode"] as? Int, 137)
    XCTAssertEqual(status(killed)["qosClass"] as? String, "Burstable")
  }

  // MARK: Deletion

  func testGracefulDeletionSendsSIGTERMAndWaitsForTheContainer() throws {
    try startServerWithAgent()
    let marker = "graceful-\(UUID())"
    let terminated = dir.appendingPathComponent("terminated").path
    let ready = dir.appendingPathComponent("ready").path
    try apply("""
      apiVersion: v1
      kind: Pod
      metadata: {name: graceful}
      spec:
        terminationGracePeriodSeconds: 20
        containers:
        - name: main
          image: none
          command: [sh, -c, "trap 'sleep 1; echo done > \(terminated); exit 0' TERM; touch \(ready); while :; do sleep 0.1; done", \(marker)]
      """)
    try waitForPod("graceful", "Running") { self.phase($0) == "Running" }
    try waitForFile(ready)
    XCTAssertEqual(Processes.withCommandLine(containing: marker).count, 1)
    // Marked, not removed: the agent owns the rest.
    let reply = try HTTPClient.send("DELETE", "\(server.url)/api/v1/namespaces/default/pods/graceful")
    XCTAssertEqual(reply.status, 200, reply.text)
    let metadata = reply.json["metadata"] as? [String: Any]
    XCTAssertNotNil(metadata?["deletionTimestamp"])
    XCTAssertEqual(metadata?["deletionGracePeriodSeconds"] as? Int, 20)
    // kubectl returns once the pod is gone, which is after its trap ran to the end.
    _ = try kubectl("delete", "pod", "graceful", "--timeout=30s")
    XCTAssertEqual(try HTTPClient.send("GET", "\(server.url)/api/v1/namespaces/default/pods/graceful").status, 404)
    XCTAssertEqual(try String(contentsOfFile: terminated, encoding: .utf8), "done\n")
    XCTAssertEqual(Processes.withCommandLine(containing: marker), [])
  }

  func testGracePeriodEndsInSIGKILLAndUnboundPodsGoAtOnce() throws {
    try startServerWithAgent()
    let marker = "stubborn-\(UUID())"
    try apply("""
      apiVersion: v1
      kind: Pod
      metadata: {name: stubborn}
      spec:
        containers:
        - {name: main, image: none, command: [sh, -c, "trap '' TERM; while :; do sleep 0.1; done", \(marker)]}
      ---
      apiVersion: v1
      kind: Pod
      metadata: {name: unbound}
      spec:
        schedulerName: nobody
        containers: [{name: main, image: none, command: ["true"]}]
      """)
    try waitForPod("stubborn", "Running") { self.phase($0) == "Running" }
    _ = try kubectl("delete", "pod", "stubborn", "--grace-period=1", "--timeout=30s")
    XCTAssertEqual(Processes.withCommandLine(containing: marker), [])
    let unbound = try HTTPClient.send("DELETE", "\(server.url)/api/v1/namespaces/default/pods/unbound")
    XCTAssertEqual(unbound.status, 200)
    XCTAssertNil((unbound.json["metadata"] as? [String: Any])?["deletionTimestamp"])
    XCTAssertEqual(try HTTPClient.send("GET", "\(server.url)/api/v1/namespaces/default/pods/unbound").status, 404)
  }

  // MARK: Probes

  func conditionStatus(_ pod: [String: Any], _ type: String) -> String? {
    (status(pod)["conditions"] as? [[String: Any]] ?? []).first { $0["type"] as? String == type }?["status"] as? String
  }

  func testStartupProbeHoldsReadinessBackAndReadinessGatesTheReadyCondition() throws {
    try startServerWithAgent()
    let started = dir.appendingPathComponent("started").path
    let ready = dir.appendingPathComponent("ready").path
    FileManager.default.createFile(atPath: ready, contents: Data())
    try apply("""
      apiVersion: v1
      kind: Pod
      metadata: {name: gated}
      spec:
        containers:
        - name: main
          image: none
          command: [sh, -c, "while :; do sleep 0.1; done"]
          startupProbe: {exec: {command: [test, -f, \(started)]}, periodSeconds: 1, failureThreshold: 1000}
          readinessProbe: {exec: {command: [test, -f, \(ready)]}, periodSeconds: 1, failureThreshold: 1}
      """)
    try waitForPod("gated", "Running") { self.phase($0) == "Running" }
    // The readiness file is there, but the startup probe has not passed: neither started nor ready.
    usleep(2_500_000)
    var held = try pod("gated")
    XCTAssertEqual(containerStatus(held)["started"] as? Bool, false)
    XCTAssertEqual(containerStatus(held)["ready"] as? Bool, false)
    XCTAssertEqual(conditionStatus(held, "Ready"), "False")
    FileManager.default.createFile(atPath: started, contents: Data())
    held = try waitForPod("gated", "started and Ready") {
      self.containerStatus($0)["started"] as? Bool == true && self.conditionStatus($0, "Ready") == "True"
    }
    XCTAssertEqual(containerStatus(held)["ready"] as? Bool, true)
    XCTAssertEqual(conditionStatus(held, "ContainersReady"), "True")
    // Readiness fails: not Ready, yet not restarted either.
    try FileManager.default.removeItem(atPath: ready)
    let unready = try waitForPod("gated", "not Ready once the readiness probe fails") {
      self.containerStatus($0)["ready"] as? Bool == false && self.conditionStatus($0, "Ready") == "False"
    }
    XCTAssertEqual(conditionStatus(unready, "ContainersReady"), "False")
    XCTAssertEqual(phase(unready), "Running")
    XCTAssertEqual(containerStatus(unready)["restartCount"] as? Int, 0)
    XCTAssertEqual(containerStatus(unready)["started"] as? Bool, true)
    FileManager.default.createFile(atPath: ready, contents: Data())
    try waitForPod("gated", "Ready again") { self.conditionStatus($0, "Ready") == "True" }
  }

  func testFailingLivenessProbeRestartsTheContainerWithBackOff() throws {
    try startServerWithAgent(backoff: 0.2)
    let alive = dir.appendingPathComponent("alive").path
    let marker = "liveness-\(UUID())"
    try apply("""
      apiVersion: v1
      kind: Pod
      metadata: {name: sickly}
      spec:
        terminationGracePeriodSeconds: 5
        containers:
        - name: main
          image: none
          command: [sh, -c, "echo up; while :; do sleep 0.1; done", \(marker)]
          livenessProbe: {exec: {command: [test, -f, \(alive)]}, periodSeconds: 1, failureThreshold: 2}
      """)
    let restarted = try waitForPod("sickly", seconds: 40, "two restarts by the liveness probe") {
      (self.containerStatus($0)["restartCount"] as? Int ?? 0) >= 2
    }
    let last = (containerStatus(restarted)["lastState"] as? [String: Any])?["terminated"] as? [String: Any]
    XCTAssertTrue((last?["message"] as? String ?? "").hasPrefix("Liveness probe failed"), "\(last ?? [:])")
    XCTAssertEqual(last?["exitCode"] as? Int, 143, "stopped with SIGTERM")
    XCTAssertEqual(try kubectl("logs", "sickly", "--previous"), "up\n")
    XCTAssertLessThanOrEqual(Processes.withCommandLine(containing: marker).count, 1, "a killed instance still runs")
    // Alive from now on: the restarts stop.
    FileManager.default.createFile(atPath: alive, contents: Data())
    let healthy = try waitForPod("sickly", seconds: 30, "Running after the probe passes") {
      ((self.containerStatus($0)["state"] as? [String: Any])?["running"]) != nil
    }
    let count = containerStatus(healthy)["restartCount"] as? Int ?? 0
    usleep(3_000_000)
    XCTAssertEqual(containerStatus(try pod("sickly"))["restartCount"] as? Int, count)
    XCTAssertEqual(Processes.withCommandLine(containing: marker).count, 1)
  }

  func testHTTPGetReadinessTCPSocketLivenessAndExecTimeoutProbeRealProcesses() throws {
    try startServerWithAgent(backoff: 0.2)
    let port = try freePort()
    let closedPort = try freePort()
    let site = dir.appendingPathComponent("site").path
    try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
    try apply("""
      apiVersion: v1
      kind: Pod
      metadata: {name: web}
      spec:
        containers:
        - name: server
          image: none
          command: [python3, -m, http.server, "\(port)", --bind, 127.0.0.1, --directory, \(site)]
          ports: [{name: http, containerPort: \(port)}]
          readinessProbe: {httpGet: {path: /healthy, port: http}, periodSeconds: 1, failureThreshold: 1}
          livenessProbe: {tcpSocket: {port: \(port)}, periodSeconds: 1, initialDelaySeconds: 2}
      ---
      apiVersion: v1
      kind: Pod
      metadata: {name: deaf}
      spec:
        containers:
        - name: main
          image: none
          command: [sleep, "1000"]
          livenessProbe: {tcpSocket: {port: \(closedPort)}, periodSeconds: 1, failureThreshold: 1}
      ---
      apiVersion: v1
      kind: Pod
      metadata: {name: slow}
      spec:
        containers:
        - name: main
          image: none
          command: [sleep, "1000"]
          livenessProbe: {exec: {command: [sleep, "5"]}, timeoutSeconds: 1, periodSeconds: 1, failureThreshold: 1}
      """)
    try waitForPod("web", "Running") { self.phase($0) == "Running" }
    // 404 until the page exists.
    usleep(2_000_000)
    XCTAssertEqual(containerStatus(try pod("web"))["ready"] as? Bool, false)
    FileManager.default.createFile(atPath: "\(site)/healthy", contents: Data("ok".utf8))
    try waitForPod("web", "Ready once /healthy answers 200") { self.conditionStatus($0, "Ready") == "True" }
    try FileManager.default.removeItem(atPath: "\(site)/healthy")
    let unready = try waitForPod("web", "not Ready once /healthy answers 404") { self.conditionStatus($0, "Ready") == "False" }
    // The port stays open: the TCP liveness probe never restarted it.
    XCTAssertEqual(containerStatus(unready)["restartCount"] as? Int, 0)
    let deaf = try waitForPod("deaf", "a restart by the failed TCP probe") { (self.containerStatus($0)["restartCount"] as? Int ?? 0) >= 1 }
    let last = (containerStatus(deaf)["lastState"] as? [String: Any])?["terminated"] as? [String: Any]
    XCTAssertTrue((last?["message"] as? String ?? "").hasPrefix("Liveness probe failed: dial tcp"), "\(last ?? [:])")
    // An exec probe that outlasts timeoutSeconds failed.
    let slow = try waitForPod("slow", "a restart by the timed-out exec probe") { (self.containerStatus($0)["restartCount"] as? Int ?? 0) >= 1 }
    let slowLast = (containerStatus(slow)["lastState"] as? [String: Any])?["terminated"] as? [String: Any]
    XCTAssertTrue((slowLast?["message"] as? String ?? "").contains("timed out"), "\(slowLast ?? [:])")
  }

  // MARK: RuntimeClass

  func testRuntimeClassHandlerPicksTheOCIRuntimeForABusyboxImage() throws {
    let image = try TestImages.build(in: dir.appendingPathComponent("image"))
    // The image goes into the store the server's oci runtime reads (its stateDir) before it starts.
    let profile = try runtimeProfile("import")
    let imported = try Fixtures.run(["\(Fixtures.buildDirectory)/skiff", "image", "import", image.dockerArchive,
                                     "--profile", profile.path, "--data-dir", dir.appendingPathComponent("import").path])
    XCTAssertEqual(imported.status, 0, imported.output)
    try startServerWithAgent()
    try apply("""
      apiVersion: node.k8s.io/v1
      kind: RuntimeClass
      metadata: {name: sandboxed}
      handler: oci
      ---
      apiVersion: node.k8s.io/v1
      kind: RuntimeClass
      metadata: {name: elsewhere}
      handler: kata
      ---
      apiVersion: v1
      kind: Pod
      metadata: {name: boxed}
      spec:
        runtimeClassName: sandboxed
        terminationGracePeriodSeconds: 1
        containers:
        - {name: main, image: \(TestImages.Built.dockerTag), command: [sh, -c, "echo pid=$$$$; cat /etc/hostname; sleep 1000"]}
      ---
      apiVersion: v1
      kind: Pod
      metadata: {name: plain}
      spec:
        containers:
        - {name: main, image: none, command: [sh, -c, "echo pid=$$$$; sleep 1000"]}
      ---
      apiVersion: v1
      kind: Pod
      metadata: {name: unhandled}
      spec:
        runtimeClassName: elsewhere
        containers:
        - {name: main, image: none, command: [sleep, "1000"]}
      """)
    let boxed = try waitForPod("boxed", seconds: 60, "Running through oci") { self.phase($0) == "Running" }
    XCTAssertTrue((containerStatus(boxed)["containerID"] as? String ?? "").hasPrefix("oci://"), "\(containerStatus(boxed))")
    let plain = try waitForPod("plain", "Running through process") { self.phase($0) == "Running" }
    XCTAssertTrue((containerStatus(plain)["containerID"] as? String ?? "").hasPrefix("process://"), "\(containerStatus(plain))")
    // Its own pid namespace and hostname: the image's shell is the container's first process
    // (`$$$$` is the shell's `$$` once the agent has expanded the command as Kubernetes does).
    var logs = ""
    for _ in 0..<100 where !logs.hasSuffix("boxed\n") {
      logs = try kubectl("logs", "boxed")
      usleep(50_000)
    }
    XCTAssertEqual(logs, "pid=1\nboxed\n")
    XCTAssertNotEqual(try kubectl("logs", "plain"), "pid=1\n")
    // A handler no runtime plugin registers: the pod waits, nothing of it runs.
    let unhandled = try pod("unhandled")
    XCTAssertEqual(phase(unhandled), "Pending")
    XCTAssertNil(containerStatus(unhandled)["containerID"])
    _ = try kubectl("delete", "pod", "boxed", "--timeout=30s")
    let mounts = try String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)
    XCTAssertFalse(mounts.contains(dir.path), "the oci container's root filesystem is still mounted")
  }

  // MARK: `skiff agent` as its own process

  /// Starts `skiff agent` for node "remote-node" against the server, and waits for its ready line.
  func startAgent(server url: String) throws -> Process {
    let profile = try runtimeProfile("agent", tail: "agent:\n  restartBackoffSeconds: 0.2\n")
    let agent = Process()
    agent.executableURL = URL(fileURLWithPath: Fixtures.buildDirectory + "/skiff")
    agent.arguments = ["agent", "--server", url, "--profile", profile.path, "--data-dir", dir.appendingPathComponent("agent").path,
                       "--node-name", "remote-node"]
    let output = Pipe()
    agent.standardOutput = output
    agent.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try agent.run()
    agents.append(agent)
    var text = ""
    while !text.contains("\n") {
      let data = output.fileHandleForReading.availableData
      guard !data.isEmpty else { break }
      text += String(decoding: data, as: UTF8.self)
    }
    guard text.contains("agent ready") else { throw TestFailure("skiff agent did not start: \(text)") }
    return agent
  }

  func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    return Int(UInt16(bigEndian: address.sin_port))
  }

  /// A server on a fixed port (so that it can come back on it) and `skiff agent` running pod
  /// "steady": container "main" (its command line holds `marker`) runs, "flaky" fails every 0.3 s.
  /// Returns once flaky restarted and main runs and is ready.
  func startAgentWithSteadyPod(marker: String) throws -> Process {
    let port = try freePort()
    server = try SkiffServer(dataDir: dir.appendingPathComponent("data"), arguments: ["--listen", "127.0.0.1:\(port)"])
    let agent = try startAgent(server: server.url)
    try apply("""
      apiVersion: v1
      kind: Pod
      metadata: {name: steady}
      spec:
        nodeName: remote-node
        containers:
        - {name: main, image: none, command: [sh, -c, "echo up; while :; do sleep 0.1; done", \(marker)]}
        - {name: flaky, image: none, command: [sh, -c, "echo flake; sleep 0.3; exit 1"]}
      """)
    try waitForPod("steady", "Running with a restart of the flaky container") {
      self.phase($0) == "Running" && self.containerStatus($0)["ready"] as? Bool == true && self.flakyRestarts($0) >= 1
    }
    return agent
  }

  func flakyRestarts(_ pod: [String: Any]) -> Int { containerStatus(pod, "containerStatuses", 1)["restartCount"] as? Int ?? 0 }

  func testKilledAgentReadoptsItsContainersAndPodsSurviveTheAPIServerGoing() throws {
    let marker = "adopted-\(UUID())"
    var agent = try startAgentWithSteadyPod(marker: marker)
    let pids = Processes.withCommandLine(containing: marker)
    XCTAssertEqual(pids.count, 1)

    // kill -9 and a fresh agent: the same process, no second copy, the restart count kept.
    kill(agent.processIdentifier, SIGKILL)
    agent.waitUntilExit()
    XCTAssertEqual(Processes.withCommandLine(containing: marker), pids)
    let before = flakyRestarts(try pod("steady"))
    agent = try startAgent(server: server.url)
    let after = try waitForPod("steady", "the restarted agent's status") { self.flakyRestarts($0) > before }
    XCTAssertEqual(containerStatus(after)["restartCount"] as? Int, 0)
    XCTAssertEqual(phase(after), "Running")
    XCTAssertEqual(Processes.withCommandLine(containing: marker), pids, "the re-adopted container was started again")
    XCTAssertEqual(try kubectl("logs", "steady", "-c", "main"), "up\n")

    // The API server goes away: the pod keeps running and the flaky container keeps restarting.
    XCTAssertEqual(server.stop(), 0)
    let pidsWhileAway = Processes.withCommandLine(containing: marker)
    usleep(1_500_000)
    XCTAssertEqual(Processes.withCommandLine(containing: marker), pidsWhileAway)
    XCTAssertEqual(pidsWhileAway, pids)
    XCTAssertTrue(agent.isRunning)
    let countAway = try waitForRestartWhileAway()
    XCTAssertGreaterThan(countAway, 0)
    try server.start()
    let back = try waitForPod("steady", "a status sent after the API server returned") { self.flakyRestarts($0) > before + 1 }
    XCTAssertEqual(phase(back), "Running")
  }

  func testAgentRestartedWhileTheAPIServerIsAwayAppliesRestartPoliciesFromItsJournal() throws {
    let marker = "journaled-\(UUID())"
    var agent = try startAgentWithSteadyPod(marker: marker)
    let pids = Processes.withCommandLine(containing: marker)
    XCTAssertEqual(pids.count, 1)
    let journal = dir.appendingPathComponent("agent/pods").path
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: journal).count, 1)

    // The API server goes, then the agent dies: the new agent learns the pod from its journal alone.
    let before = flakyRestarts(try pod("steady"))
    XCTAssertEqual(server.stop(), 0)
    kill(agent.processIdentifier, SIGKILL)
    agent.waitUntilExit()
    agent = try startAgent(server: server.url)
    XCTAssertGreaterThan(try waitForRestartWhileAway(), 0)
    XCTAssertEqual(Processes.withCommandLine(containing: marker), pids, "the re-adopted container was started again")
    try server.start()
    let back = try waitForPod("steady", "the restarts made while the API server was away") { self.flakyRestarts($0) > before + 1 }
    XCTAssertEqual(containerStatus(back)["restartCount"] as? Int, 0)
    // Deleted through the API server: the journal forgets it.
    _ = try kubectl("delete", "pod", "steady", "--grace-period=1", "--timeout=30s")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: journal), [])
    XCTAssertEqual(Processes.withCommandLine(containing: marker), [])
  }

  /// The container log files kept for the flaky container change while no API server answers.
  func waitForRestartWhileAway() throws -> Int {
    // The runtime keeps the current and the previous instance's logs, so the set of files turns over.
    let first = try Set(FileManager.default.subpathsOfDirectory(atPath: dir.appendingPathComponent("runtime").path)
      .filter { $0.contains("/flaky/") })
    let deadline = Date().addingTimeInterval(20)
    while Date() < deadline {
      let now = try Set(FileManager.default.subpathsOfDirectory(atPath: dir.appendingPathComponent("runtime").path)
        .filter { $0.contains("/flaky/") })
      if now != first && !now.isEmpty { return now.count }
      usleep(100_000)
    }
    throw TestFailure("the flaky container was not restarted while the API server was away")
  }
}
