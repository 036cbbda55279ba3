// Streaming exec: one connected socket carries a running command's stdin, stdout and stderr, its
// terminal size and at last its exit status, framed as docs/runtime.md ("Streaming exec") says.
// Both runtimes launch the command their own way and hand its descriptors to an ExecStream.
import FoundationEssentials
import Glibc
import SystemKit

/// One frame: a channel byte, the payload's length (4 bytes, big-endian), the payload. The
/// channels are Kubernetes' remote-command ones, so the node agent relays them one to one.
enum ExecFrame {
  static let stdin: UInt8 = 0
  static let stdout: UInt8 = 1
  static let stderr: UInt8 = 2
  /// Runtime → caller, last: `{"exitCode": n}`.
  static let status: UInt8 = 3
  /// Caller → runtime: `{"Width": w, "Height": h}` for the command's terminal.
  static let resize: UInt8 = 4
  /// Caller → runtime: the payload's one byte names a channel that ends (0: stdin is at EOF).
  static let close: UInt8 = 255
  static let headerSize = 5
  /// Frames longer than this are refused as a broken stream.
  static let maxPayload = 1 << 20

  static func encode(_ channel: UInt8, _ payload: some Collection<UInt8>) -> [UInt8] {
    let count = UInt32(payload.count)
    return [channel, UInt8(count >> 24), UInt8(count >> 16 & 0xff), UInt8(count >> 8 & 0xff), UInt8(count & 0xff)]
      + payload
  }

  /// Takes every whole frame off the front of `buffer`; nil if the stream is malformed.
  static func decode(_ buffer: inout [UInt8]) -> [(channel: UInt8, payload: [UInt8])]? {
    var frames: [(UInt8, [UInt8])] = []
    var offset = 0
    while buffer.count - offset >= headerSize {
      let count = buffer[offset + 1...offset + 4].reduce(0) { $0 << 8 | Int($1) }
      guard count <= maxPayload else { return nil }
      guard buffer.count - offset - headerSize >= count else { break }
      frames.append((buffer[offset], Array(buffer[offset + headerSize..<offset + headerSize + count])))
      offset += headerSize + count
    }
    buffer.removeFirst(offset)
    return frames
  }
}

/// The descriptors an exec'd command gets, and this side's ends of them.
struct ExecStdio {
  /// For the child: its stdin, stdout, stderr (a terminal's slave for all three with a tty).
  var child: (Int32, Int32, Int32)
  /// Where stdin bytes go (a pipe, or the terminal's master); -1 without stdin.
  var input: Int32
  /// stdout, or the terminal's master, which carries stdout and stderr together.
  var output: Int32
  /// stderr; -1 with a tty.
  var errors: Int32
  var terminal: Bool

  /// Pipes, or a pseudo-terminal when `tty`; stdin is /dev/null unless asked for.
  static func make(tty: Bool, stdin: Bool) throws(SystemError) -> ExecStdio {
    if tty {
      var master: Int32 = -1, slave: Int32 = -1
      guard let openpty = GNU.openpty, openpty(&master, &slave, nil, nil, nil) == 0 else {
        throw SystemError("opening a pseudo-terminal")
      }
      for fd in [master, slave] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
      return ExecStdio(child: (slave, slave, slave), input: stdin ? dup(master) : -1, output: master, errors: -1,
                       terminal: true)
    }
    var ends: [Int32] = []
    func pipe() throws(SystemError) -> (read: Int32, write: Int32) {
      var pair: [Int32] = [-1, -1]
      guard GNU.pipe2(&pair, O_CLOEXEC) == 0 else {
        ends.forEach { close($0) }
        throw SystemError("creating a pipe")
      }
      ends += pair
      return (pair[0], pair[1])
    }
    let input: (read: Int32, write: Int32)
    if stdin {
      input = try pipe()
    } else {
      let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
      guard devNull >= 0 else { throw SystemError("opening /dev/null") }
      input = (devNull, -1)
      ends.append(devNull)
    }
    let output = try pipe()
    let errors = try pipe()
    return ExecStdio(child: (input.read, output.write, errors.write), input: input.write, output: output.read,
                     errors: errors.read, terminal: false)
  }

  /// After the fork: the child's ends belong to it alone (a terminal's master reads EOF only
  /// once no one else holds the slave).
  func closeChildEnds() {
    Set([child.0, child.1, child.2]).filter { $0 >= 0 }.forEach { close($0) }
  }

  func closeAll() {
    closeChildEnds()
    Set([input, output, errors]).filter { $0 >= 0 }.forEach { close($0) }
  }
}

/// Pumps one exec'd command's streams to and from the socket on a thread of its own, then sends
/// its exit status and closes the socket.
final class ExecStream: @unchecked Sendable {
  /// After the command exits, how long output still held open by its descendants is relayed.
  static let drainMilliseconds: Int32 = 1000

  private let pid: pid_t
  private let stdio: ExecStdio
  private let socket: Int32
  private let hangUp: @Sendable () -> Void
  /// The waiter thread writes the exit code here once the command has ended.
  private var exitPipe: [Int32] = [-1, -1]

  /// Takes ownership of `stdio`'s ends and `socket`. `hangUp` runs if the caller goes away while
  /// the command still runs: it ends the command, which would otherwise run on unseen.
  static func start(pid: pid_t, stdio: ExecStdio, socket: Int32, hangUp: @escaping @Sendable () -> Void)
    throws(SystemError) {
    let stream = ExecStream(pid: pid, stdio: stdio, socket: socket, hangUp: hangUp)
    guard GNU.pipe2(&stream.exitPipe, O_CLOEXEC) == 0 else { throw SystemError("creating a pipe") }
    startThread(name: "skiff-exec-wait-\(pid)") { stream.waitForExit() }
    startThread(name: "skiff-exec-\(pid)") { stream.pump() }
  }

  /// A connected socket pair: the caller's end (answered as `{"fd"}`) and the stream's.
  static func socketPair() throws(SystemError) -> (caller: Int32, stream: Int32) {
    var pair: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
      throw SystemError("creating a socket pair")
    }
    return (pair[0], pair[1])
  }

  private init(pid: pid_t, stdio: ExecStdio, socket: Int32, hangUp: @escaping @Sendable () -> Void) {
    self.pid = pid
    self.stdio = stdio
    self.socket = socket
    self.hangUp = hangUp
  }

  private func waitForExit() {
    var status: Int32 = 0
    var code: Int32 = -1
    while true {
      if waitpid(pid, &status, 0) >= 0 {
        let signal = status & 0x7f
        code = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        break
      }
      if errno != EINTR { break }
    }
    _ = withUnsafeBytes(of: &code) { write(exitPipe[1], $0.baseAddress, 4) }
  }

  private func pump() {
    var output = stdio.output, errors = stdio.errors, input = stdio.input
    var callerOpen = true
    var inbound: [UInt8] = []
    var pendingInput: [UInt8] = []
    var exitCode: Int32?
    /// stdin ends once what the caller sent before closing it has been written.
    var closeAfterPending = false
    var chunk = [UInt8](repeating: 0, count: 32 * 1024)
    if input >= 0 { _ = fcntl(input, F_SETFL, fcntl(input, F_GETFL) | O_NONBLOCK) }

    func closeInput() {
      if input >= 0 { close(input) }
      input = -1
      pendingInput = []
    }
    func send(_ channel: UInt8, _ bytes: ArraySlice<UInt8>) {
      guard callerOpen else { return }
      var frame = ExecFrame.encode(channel, bytes)[...]
      while !frame.isEmpty {
        let sent = frame.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if sent < 0 && errno == EINTR { continue }
        guard sent > 0 else {
          callerOpen = false
          return
        }
        frame = frame.dropFirst(sent)
      }
    }
    func received(_ channel: UInt8, _ payload: [UInt8]) {
      switch channel {
      case ExecFrame.stdin where input >= 0:
        pendingInput += payload
      case ExecFrame.close where payload.first == ExecFrame.stdin && input >= 0:
        // A terminal has no end of input of its own: the line discipline's EOF character is it.
        if stdio.terminal { pendingInput.append(4) } else { closeAfterPending = true }
      case ExecFrame.resize where stdio.terminal:
        struct Size: Decodable { var Width: UInt16; var Height: UInt16 }
        guard let size = try? JSONDecoder().decode(Size.self, from: Data(payload)) else { return }
        var window = winsize(ws_row: size.Height, ws_col: size.Width, ws_xpixel: 0, ws_ypixel: 0)
        _ = GNU.ioctlPointer(stdio.output, GNU.tiocswinsz, &window)
      default:
        break
      }
    }
    while true {
      if exitCode != nil && output < 0 && errors < 0 { break }
      var fds = [
        pollfd(fd: callerOpen && pendingInput.isEmpty ? socket : -1, events: Int16(POLLIN), revents: 0),
        pollfd(fd: input >= 0 && !pendingInput.isEmpty ? input : -1, events: Int16(POLLOUT), revents: 0),
        pollfd(fd: output, events: Int16(POLLIN), revents: 0),
        pollfd(fd: errors, events: Int16(POLLIN), revents: 0),
        pollfd(fd: exitCode == nil ? exitPipe[0] : -1, events: Int16(POLLIN), revents: 0),
      ]
      let ready = poll(&fds, nfds_t(fds.count), exitCode == nil ? -1 : Self.drainMilliseconds)
      if ready < 0 {
        if errno == EINTR { continue }
        break
      }
      if ready == 0 { break }  // exited, and its descendants still hold the output: stop relaying
      if fds[4].revents != 0 {
        var code: Int32 = -1
        _ = withUnsafeMutableBytes(of: &code) { read(exitPipe[0], $0.baseAddress, 4) }
        exitCode = code
      }
      for (index, channel) in [(2, ExecFrame.stdout), (3, ExecFrame.stderr)] where fds[index].revents != 0 {
        let fd = fds[index].fd
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
        if count > 0 {
          send(channel, chunk[0..<count])
        } else {
          // EOF, or EIO from a terminal's master once the last slave holder has gone.
          if fd == output { output = -1 } else { errors = -1 }
          close(fd)
        }
      }
      if fds[1].revents != 0 {
        let written = pendingInput.withUnsafeBytes { write(input, $0.baseAddress, $0.count) }
        if written > 0 {
          pendingInput.removeFirst(written)
          if pendingInput.isEmpty && closeAfterPending { closeInput() }
        } else if written < 0 && errno != EINTR && errno != EAGAIN {
          closeInput()  // the command closed its stdin
        }
      }
      if fds[0].revents != 0 {
        let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 {
          callerOpen = false
          closeInput()
          if exitCode == nil { hangUp() }
          continue
        }
        inbound += chunk[0..<count]
        guard let frames = ExecFrame.decode(&inbound) else {
          callerOpen = false
          closeInput()
          if exitCode == nil { hangUp() }
          continue
        }
        frames.forEach { received($0.channel, $0.payload) }
        if closeAfterPending && pendingInput.isEmpty { closeInput() }
      }
    }

    if exitCode == nil {
      var code: Int32 = -1
      _ = withUnsafeMutableBytes(of: &code) { read(exitPipe[0], $0.baseAddress, 4) }
      exitCode = code
    }
    send(ExecFrame.status, Array("{\"exitCode\":\(exitCode ?? -1)}".utf8)[...])
    shutdown(socket, Int32(SHUT_RDWR))
    close(socket)
    closeInput()
    [output, errors].filter { $0 >= 0 }.forEach { close($0) }
    close(exitPipe[0])
    close(exitPipe[1])
  }
}
