// Two connections copied into each other byte for byte until either ends: how the API server
// passes an upgraded exec connection through to the node agent that serves it.

public enum ConnectionSplice {
  /// A side stops reading while the other has more than this queued for its peer.
  public static let backlog = 1 << 20

  /// Loop only. Either side ending or closing closes both.
  public static func join(_ first: Connection, _ second: Connection) {
    copy(from: first, into: second)
    copy(from: second, into: first)
  }

  private static func copy(from source: Connection, into target: Connection) {
    func read() {
      source.startReading(onBytes: { bytes in
        target.write(bytes) { _ in
          if source.isOpen && target.isOpen && target.queuedBytes < backlog { read() }
        }
        if target.queuedBytes >= backlog { source.stopReading() }
      }, onEnd: {
        source.close()
        target.close()
      })
    }
    source.onClose { target.close() }
    read()
  }
}
