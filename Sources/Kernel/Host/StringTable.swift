// Interned strings for the scheduler's structs: equal strings get equal ids, so plugins compare
// label keys and resource names as integers. Strings live until the process exits.
import FoundationEssentials
import Glibc
import Synchronization

public final class StringTable: Sendable {
  private struct State {
    var ids: [String: UInt32] = [:]
    var strings: [UnsafeMutablePointer<CChar>?] = [nil]  // id 0 means "no string"
  }
  private let state = Mutex(State())

  public init() {}

  public func intern(_ string: String) -> UInt32 {
    state.withLock { state in
      if let id = state.ids[string] { return id }
      let id = UInt32(state.strings.count)
      state.strings.append(strdup(string))
      state.ids[string] = id
      return id
    }
  }

  /// The C string for an id, valid for the process's lifetime; nil for 0 and unknown ids.
  public func cString(_ id: UInt32) -> UnsafePointer<CChar>? {
    state.withLock { state in
      Int(id) < state.strings.count ? UnsafePointer(state.strings[Int(id)]) : nil
    }
  }

  public func string(_ id: UInt32) -> String? {
    cString(id).map { String(cString: $0) }
  }
}
