// `kubectl exec` end to end: the real kubectl against `skiff server` with its in-process agent and
// the `process` runtime; the API server passes the WebSocket through to the agent, which relays
// it to the runtime's exec stream. Exit codes, both output streams, piped stdin, an interactive
// shell on a terminal (Python's pty), container choice and the errors kubectl shows.
import Foundation
import SkiffTestSupport
import XCTest

final class ExecTests: XCTestCase {
  var dir: URL!
  var server: SkiffServer!
  var cgroupParent = ""

  override func setUpWithError() throws {
    dir = try Fixtures.temporaryDirectory()
    cgroupParent = "skiff-exec-test-\(UInt64.random(in: 0 ... .max))"
    server = try SkiffServer(dataDir: dir.appendingPathComponent("data"), plugins: ["scheduler", "runtime"],
                             configs: ["runtime": "{stateDir: \"\(dir.path)/runtime\", cgroupParent: \(cgroupParent)}"],
                             profileTail: "agent:\n  nodeName: exec-node\n")
  }

  override func tearDown() {
    _ = try? server?.kubectl(["delete", "pods", "--all", "--grace-period=0"])
    server?.stop()
    for mount in Cgroups.mounts.values {
      let parent = "\(mount)/\(cgroupParent)"
      for child in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] {
        Cgroups.destroy("\(parent)/\(child)")
      }
      Cgroups.destroy(parent)
    }
    try? FileManager.default.removeItem(at: dir)
  }

  // MARK: Helpers

  /// A running pod of long sleepers, one container per name, each with WHO set to its name.
  func runPod(_ name: String, containers: [String] = ["main"]) throws {
    let specs = containers.map { """
        - name: \($0)
          image: none
          command: [sleep, "1000"]
          env: [{name: WHO, value: \($0)}]
      """ }.joined(separator: "\n")
    let applied = try server.kubectl(["apply", "-f", "-"], stdin: """
      apiVersion: v1
      kind: Pod
      metadata: {name: \(name)}
      spec:
        terminationGracePeriodSeconds: 0
        containers:
      \(specs)
      """)
    XCTAssertEqual(applied.status, 0, applied.output)
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline {
      let phase = try server.kubectl(["get", "pod", name, "-o", "jsonpath={.status.phase}"]).output
      if phase == "Running" { return }
      usleep(50_000)
    }
    throw TestFailure("pod \(name) never ran\n\(server.serverLog.suffix(2000))")
  }

  /// kubectl with stdout and stderr apart.
  func kubectl(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/kubectl")
    process.arguments = ["--kubeconfig", server.kubeconfig] + arguments
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = stdin == nil ? FileHandle.nullDevice : input
    try process.run()
    if let stdin {
      input.fileHandleForWriting.write(Data(stdin.utf8))
      try? input.fileHandleForWriting.close()
    }
    nonisolated(unsafe) var errors = Data()
    let reader = Thread { errors = err.fileHandleForReading.readDataToEndOfFile() }
    reader.start()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !reader.isFinished { usleep(1000) }
    return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self))
  }

  /// A WebSocket upgrade request on a raw socket (URLSession will not send one): the status and
  /// the JSON body of a refusal.
  func upgrade(_ path: String) throws -> (status: Int, json: [String: Any]) {
    let port = UInt16(server.url.split(separator: ":").last!)!
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: port.bigEndian,
                              sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
    var timeout = timeval(tv_sec: 20, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw TestFailure("cannot connect to \(server.url)") }
    let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: a2V5a2V5a2V5a2V5a2V5a2V5\r\n"
      + "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n"
    _ = request.withCString { send(fd, $0, strlen($0), 0) }
    var received = Data()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while case let count = recv(fd, &buffer, buffer.count, 0), count > 0 { received += buffer[..<count] }
    let text = String(decoding: received, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ").dropFirst().first ?? "") else {
      throw TestFailure("not an HTTP response: \(text)")
    }
    let json = try JSONSerialization.jsonObject(with: Data(text[split.upperBound...].utf8)) as? [String: Any] ?? [:]
    return (status, json)
  }

  // MARK: Tests

  func testExecPrintsBothStreamsAndExitsWithTheCommandsCode() throws {
    try runPod("app")
    let result = try kubectl(["exec", "app", "--", "sh", "-c", "echo out $WHO; echo err >&2; exit 3"])
    XCTAssertEqual(result.stdout, "out main\n")
    XCTAssertTrue(result.stderr.hasPrefix("err\n"), result.stderr)
    XCTAssertTrue(result.stderr.contains("command terminated with exit code 3"), result.stderr)
    XCTAssertEqual(result.status, 3)

    let success = try kubectl(["exec", "app", "--", "true"])
    XCTAssertEqual(success.status, 0, success.stderr)
    XCTAssertEqual(success.stdout + success.stderr, "")
  }

  func testOtherKubectlVersions() throws {
    try runPod("app")
    // 1.30 and later speak WebSocket; 1.27 to 1.29 SPDY/3.1 (1.27 and 1.28 offer v4 at most).
    for version in ["1.27", "1.28", "1.29", "1.30", "1.31", "1.33"] {
      let binary = "/usr/lib/google-cloud-sdk/bin/kubectl.\(version)"
      guard FileManager.default.isExecutableFile(atPath: binary) else { continue }
      let result = try server.kubectl(["exec", "app", "--", "sh", "-c", "echo v\(version); exit 4"], binary: binary)
      XCTAssertEqual(result.status, 4, "kubectl \(version): \(result.output)")
      XCTAssertTrue(result.output.hasPrefix("v\(version)\n"), "kubectl \(version): \(result.output)")
    }
  }

  func testSPDYCarriesStdinBothStreamsAndTheExitCode() throws {
    try runPod("app")
    let result = try server.kubectl(["exec", "-i", "app", "--", "sh", "-c", "cat; echo err >&2; exit 2"],
                                    binary: "/usr/lib/google-cloud-sdk/bin/kubectl.1.29", stdin: "over spdy\n")
    XCTAssertEqual(result.status, 2, result.output)
    XCTAssertTrue(result.output.hasPrefix("over spdy\n"), result.output)
    XCTAssertTrue(result.output.contains("err\n"), result.output)
    // kubectl 1.32 told to skip WebSocket, a large input: many DATA frames each way.
    let text = String(repeating: "0123456789", count: 50_000) + "\n"
    let forced = try Fixtures.run(["env", "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false", "kubectl", "--kubeconfig", server.kubeconfig,
                                   "exec", "-i", "app", "--", "wc", "-c"], stdin: text)
    XCTAssertEqual(forced.status, 0, forced.output)
    XCTAssertEqual(forced.output.trimmingCharacters(in: .whitespacesAndNewlines), "\(text.utf8.count)")
  }

  func testOfficialPythonClientStreamsOverV4() throws {
    guard (try? Fixtures.run(["python3", "-c", "import kubernetes"]))?.status == 0 else {
      throw XCTSkip("the kubernetes Python client is not installed (pip install kubernetes)")
    }
    try runPod("app")
    let script = """
      import sys
      from kubernetes import client, config
      from kubernetes.stream import stream
      config.load_kube_config(sys.argv[1])
      api = client.CoreV1Api()
      print(stream(api.connect_get_namespaced_pod_exec, "app", "default", command=["sh", "-c", "echo hello $WHO"],
                   stderr=True, stdin=False, stdout=True, tty=False), end="")
      ws = stream(api.connect_get_namespaced_pod_exec, "app", "default", command=["sh", "-c", "read x; echo got $x; exit 6"],
                  stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
      ws.write_stdin("typed\\n")
      ws.run_forever(timeout=20)
      print(ws.read_stdout(), end="")
      print("returncode", ws.returncode)
      """
    let run = try Fixtures.run(["timeout", "60", "python3", "-c", script, server.kubeconfig])
    XCTAssertEqual(run.status, 0, run.output)
    XCTAssertEqual(run.output, "hello main\ngot typed\nreturncode 6\n")
  }

  func testExecWithStdinEchoesPipedInput() throws {
    try runPod("app")
    let text = "first line\nsecond line\n" + String(repeating: "x", count: 100_000) + "\n"
    let result = try kubectl(["exec", "-i", "app", "--", "cat"], stdin: text)
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertEqual(result.stdout, text)
  }

  func testInteractiveShellOnATerminal() throws {
    try runPod("app")
    // kubectl -it needs a terminal of its own: Python's pty gives it one and types into it.
    let script = """
      import fcntl, os, pty, struct, sys, termios
      pid, fd = pty.fork()
      if pid == 0:
          # kubectl sends its terminal's size on the resize channel.
          fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
          os.execv("/usr/bin/kubectl", ["kubectl", "--kubeconfig", sys.argv[1], "exec", "-it", "app", "--", "sh"])
      # The size may arrive just after the typed line: wait for it rather than race it.
      os.write(fd, b"echo hi-$((6*7)) $WHO; tty; while [ \\"$(stty size)\\" = \\"0 0\\" ]; do sleep 0.1; done; stty size; exit 5\\n")
      out = b""
      while True:
          try:
              data = os.read(fd, 4096)
          except OSError:
              break
          if not data:
              break
          out += data
      _, status = os.waitpid(pid, 0)
      sys.stdout.write(out.decode(errors="replace"))
      print("EXIT", os.waitstatus_to_exitcode(status))
      """
    let run = try Fixtures.run(["timeout", "60", "python3", "-c", script, server.kubeconfig])
    XCTAssertTrue(run.output.contains("hi-42 main"), run.output)
    XCTAssertTrue(run.output.contains("/dev/pts/"), "the command had no terminal: \(run.output)")
    XCTAssertTrue(run.output.contains("33 101"), "the terminal's size did not arrive: \(run.output)")
    XCTAssertTrue(run.output.hasSuffix("EXIT 5\n"), run.output)
  }

  func testContainerFlagChoosesTheContainer() throws {
    try runPod("pair", containers: ["one", "two"])
    let second = try kubectl(["exec", "pair", "-c", "two", "--", "sh", "-c", "echo $WHO"])
    XCTAssertEqual(second.stdout, "two\n", second.stderr)
    let first = try kubectl(["exec", "pair", "-c", "one", "--", "sh", "-c", "echo $WHO"])
    XCTAssertEqual(first.stdout, "one\n", first.stderr)
    let unknown = try kubectl(["exec", "pair", "-c", "three", "--", "true"])
    XCTAssertNotEqual(unknown.status, 0)
    XCTAssertTrue(unknown.stderr.contains("container three is not valid for pod pair"), unknown.stderr)
  }

  func testExecRefusesPodsThatAreNotRunningAndMissingCommands() throws {
    let created = try server.kubectl(["apply", "-f", "-"], stdin: """
      apiVersion: v1
      kind: Pod
      metadata: {name: nowhere}
      spec:
        nodeSelector: {absent: label}
        containers: [{name: main, image: none, command: [sleep, "1000"]}]
      """)
    XCTAssertEqual(created.status, 0, created.output)
    let pending = try kubectl(["exec", "nowhere", "--", "true"])
    XCTAssertNotEqual(pending.status, 0)
    XCTAssertTrue(pending.stderr.contains("container not found (\"main\")"), pending.stderr)

    // The API server's own answer to the upgrade, as a Kubernetes Status.
    let reply = try upgrade("/api/v1/namespaces/default/pods/nowhere/exec?command=true&stdout=true")
    XCTAssertEqual(reply.status, 400)
    XCTAssertEqual(reply.json["reason"] as? String, "BadRequest")
    XCTAssertEqual(reply.json["kind"] as? String, "Status")

    try runPod("app")
    let noCommand = try upgrade("/api/v1/namespaces/default/pods/app/exec?stdout=true")
    XCTAssertEqual(noCommand.status, 400)
    XCTAssertEqual(noCommand.json["message"] as? String, "you must specify at least one command for the container")
  }
}

/// `kubectl port-forward` through the API server and the agent to a server the pod runs.
final class PortForwardTests: XCTestCase {
  var dir: URL!
  var server: SkiffServer!
  var cgroupParent = ""
  let podPort = Int.random(in: 20_000..<30_000)

  override func setUpWithError() throws {
    dir = try Fixtures.temporaryDirectory()
    cgroupParent = "skiff-forward-test-\(UInt64.random(in: 0 ... .max))"
    server = try SkiffServer(dataDir: dir.appendingPathComponent("data"), plugins: ["scheduler", "runtime"],
                             configs: ["runtime": "{stateDir: \"\(dir.path)/runtime\", cgroupParent: \(cgroupParent)}"],
                             profileTail: "agent:\n  nodeName: forward-node\n")
    let site = dir.appendingPathComponent("site")
    try FileManager.default.createDirectory(at: site, withIntermediateDirectories: true)
    try String(repeating: "hello through the tunnel\n", count: 4000).write(to: site.appendingPathComponent("hello.txt"),
                                                                          atomically: true, encoding: .utf8)
    let applied = try server.kubectl(["apply", "-f", "-"], stdin: """
      apiVersion: v1
      kind: Pod
      metadata: {name: web}
      spec:
        terminationGracePeriodSeconds: 0
        containers:
        - name: web
          image: none
          command: [python3, -m, http.server, "\(podPort)", --bind, 127.0.0.1]
          workingDir: \(site.path)
      """)
    XCTAssertEqual(applied.status, 0, applied.output)
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline {
      if try server.kubectl(["get", "pod", "web", "-o", "jsonpath={.status.phase}"]).output == "Running" { return }
      usleep(50_000)
    }
    throw TestFailure("pod web never ran\n\(server.serverLog.suffix(2000))")
  }

  override func tearDown() {
    _ = try? server?.kubectl(["delete", "pods", "--all", "--grace-period=0"])
    server?.stop()
    for mount in Cgroups.mounts.values {
      let parent = "\(mount)/\(cgroupParent)"
      for child in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] {
        Cgroups.destroy("\(parent)/\(child)")
      }
      Cgroups.destroy(parent)
    }
    try? FileManager.default.removeItem(at: dir)
  }

  /// Runs `kubectl port-forward` until it says it forwards, fetches hello.txt through it twice
  /// (two connections, two stream pairs), and stops it.
  func forwardAndFetch(binary: String = "/usr/bin/kubectl", environment: [String] = []) throws {
    // Below the ephemeral range (32768 and up here), so that no outgoing connection holds it.
    let localPort = Int.random(in: 10_000..<20_000)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = environment + [binary, "--kubeconfig", server.kubeconfig, "port-forward", "pod/web", "\(localPort):\(podPort)"]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    defer {
      process.terminate()
      process.waitUntilExit()
    }
    var said = ""
    while !said.contains("Forwarding from 127.0.0.1:\(localPort)") {
      let data = output.fileHandleForReading.availableData
      if data.isEmpty { throw TestFailure("kubectl port-forward ended: \(said)") }
      said += String(decoding: data, as: UTF8.self)
      if said.contains("Unable to listen") { throw TestFailure("local port \(localPort) is taken: \(said)") }
    }
    for _ in 0..<2 {
      let fetched = try Fixtures.run(["curl", "-sS", "--max-time", "20", "http://127.0.0.1:\(localPort)/hello.txt"])
      XCTAssertEqual(fetched.status, 0, fetched.output)
      XCTAssertEqual(fetched.output.count, 25 * 4000, String(fetched.output.prefix(300)))
      XCTAssertTrue(fetched.output.hasPrefix("hello through the tunnel\n"))
    }
  }

  func testPortForwardOverWebSocket() throws {
    try forwardAndFetch()
  }

  func testPortForwardOverSPDY() throws {
    try forwardAndFetch(environment: ["KUBECTL_PORT_FORWARD_WEBSOCKETS=false"])
    let old = "/usr/lib/google-cloud-sdk/bin/kubectl.1.29"
    if FileManager.default.isExecutableFile(atPath: old) { try forwardAndFetch(binary: old) }
  }
}
