// The service registry: plugins publish named C functions with a signature during start, and other
// plugins (through the host table) or the CLI call them by name through libffi, from any thread.
import CFFI
import Synchronization
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A published service.
public struct Service: Sendable {
  public let name: String
  public let signature: ServiceSignature
  /// The signature string exactly as the plugin registered it.
  public let signatureString: String
  /// The plugin that registered it.
  public let owner: String
  /// The C function, as `void (*)(void)`; cast it to the signature's type to call it directly.
  public let function: @convention(c) () -> Void
  let callInterface: CallInterface

  /// The signature as a C string, for the host table's service_lookup. It lives as long as the
  /// registry or this value does.
  public var signatureCString: UnsafePointer<CChar> { UnsafePointer(callInterface.signature) }
}

/// Any thread may register, look up and call. The lock is held only to find a service, never
/// during the call itself, so a service may call other services.
public final class ServiceRegistry: Sendable {
  private struct State {
    var services: [String: Service] = [:]
    var frozen = false
  }

  private let state = Mutex(State())

  public init() {}

  /// Publishes `function` under `name`. Allowed only until `freeze()`.
  public func register(name: String, signature text: String, function: @convention(c) () -> Void,
                       owner: String) throws(ServiceError) {
    guard Self.isValidName(name) else {
      throw ServiceError(.invalidName, "plugin '\(owner)' cannot register a service named "
        + "'\(name)': a name is one or more letters, digits, '.', '_' or '-'")
    }
    let signature: ServiceSignature
    do {
      signature = try ServiceSignature(parsing: text)
    } catch {
      throw ServiceError(.invalidSignature,
                         "service '\(name)' of plugin '\(owner)': \(error.message)")
    }
    guard let callInterface = CallInterface(signature) else {
      throw ServiceError(.invalidSignature, "service '\(name)' of plugin '\(owner)': libffi "
        + "cannot prepare a call with signature '\(text)'")
    }
    let service = Service(name: name, signature: signature, signatureString: text, owner: owner,
                          function: function, callInterface: callInterface)
    try state.withLock { (state) throws(ServiceError) in
      guard !state.frozen else {
        throw ServiceError(.registryFrozen, "plugin '\(owner)' cannot register service '\(name)' "
          + "after start: services are registered only while a plugin starts")
      }
      if let existing = state.services[name] {
        throw ServiceError(.duplicateName, "plugin '\(owner)' cannot register service '\(name)': "
          + "plugin '\(existing.owner)' already registered it; choose another name")
      }
      state.services[name] = service
    }
  }

  /// Ends registration; called once every plugin has started.
  public func freeze() {
    state.withLock { $0.frozen = true }
  }

  public func lookup(_ name: String) -> Service? {
    state.withLock { $0.services[name] }
  }

  /// Every service, sorted by name.
  public var services: [Service] {
    state.withLock { $0.services.values.sorted { $0.name < $1.name } }
  }

  /// The host table's service_call. `arguments` holds a pointer to each argument's value, as
  /// ffi_call takes them; `result` receives the value in its C type (an int32_t for 'i', a
  /// `const char *` for 's'), or is NULL to discard it. A NULL `arguments` or argument pointer
  /// where the signature has arguments is `.invalid`.
  public func call(_ name: String, result: UnsafeMutableRawPointer?,
                   arguments: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> ServiceStatus {
    guard let service = lookup(name) else { return .notFound }
    let count = service.signature.arguments.count
    if count > 0 {
      guard let arguments, (0..<count).allSatisfy({ arguments[$0] != nil }) else { return .invalid }
    }
    Self.invoke(service, result: result, arguments: arguments)
    return .ok
  }

  /// Calls a service with Swift values, checked against its signature. A service that returns a
  /// NULL string throws `.nullString` rather than passing it off as an empty string.
  public func call(_ name: String,
                   _ arguments: [ServiceValue]) throws(ServiceError) -> ServiceValue {
    let service = try find(name)
    try Self.checkCount(arguments.count, of: service)
    for (index, (value, type)) in zip(arguments, service.signature.arguments).enumerated() {
      guard value.type == type else {
        throw ServiceError(.wrongArgumentType,
                           "argument \(index + 1) of '\(name)' must be \(type), got \(value.type)")
      }
      if case .string(let text) = value, text.utf8.contains(0) {
        throw ServiceError(.invalidArgument, "argument \(index + 1) of '\(name)' contains a NUL "
          + "character, which a C string cannot carry")
      }
    }
    guard let value = Self.invoke(service, arguments) else {
      throw ServiceError(.nullString, "service '\(name)' returned a NULL string")
    }
    return value
  }

  /// Calls a service with command-line strings, each converted to its argument's type.
  public func call(_ name: String,
                   parsing arguments: [String]) throws(ServiceError) -> ServiceValue {
    let service = try find(name)
    try Self.checkCount(arguments.count, of: service)
    var values: [ServiceValue] = []
    for (index, (text, type)) in zip(arguments, service.signature.arguments).enumerated() {
      guard let value = Self.parse(text, as: type) else {
        let expected = switch type {
        case .int32 where Self.isInteger(text): "an int32 between \(Int32.min) and \(Int32.max)"
        case .int64 where Self.isInteger(text): "an int64 between \(Int64.min) and \(Int64.max)"
        case .int32, .int64: "an \(type)"
        case .double, .string, .void: "a \(type)"
        }
        throw ServiceError(.invalidArgument,
                           "argument \(index + 1) of '\(name)' must be \(expected), got '\(text)'")
      }
      values.append(value)
    }
    return try call(name, values)
  }

  // MARK: - Calling through libffi

  private func find(_ name: String) throws(ServiceError) -> Service {
    guard let service = lookup(name) else {
      throw ServiceError(.notFound,
                         "no service named '\(name)'; `skiff plugins` lists the services")
    }
    return service
  }

  private static func checkCount(_ count: Int, of service: Service) throws(ServiceError) {
    let expected = service.signature.arguments
    guard count != expected.count else { return }
    let letters = expected.map { String($0.letter) }.joined(separator: ", ")
    let takes = switch expected.count {
    case 0: "no arguments"
    case 1: "1 argument (\(letters))"
    default: "\(expected.count) arguments (\(letters))"
    }
    throw ServiceError(.wrongArgumentCount,
                       "service '\(service.name)' takes \(takes), got \(count)")
  }

  /// Passes checked values to the service; nil means it returned a NULL string.
  private static func invoke(_ service: Service, _ values: [ServiceValue]) -> ServiceValue? {
    // Strings go to C as copies that live for the call only, as skiff.h promises plugins.
    var copies: [UnsafeMutablePointer<CChar>] = []
    defer { copies.forEach { free($0) } }
    let slotCount = max(values.count, 1)
    // Every argument type fits in 8 bytes, so one UInt64 slot holds each value.
    return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: slotCount) { slots in
      withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer?.self,
                                    capacity: slotCount) { pointers in
        for (index, value) in values.enumerated() {
          let slot = UnsafeMutableRawPointer(slots.baseAddress! + index)
          switch value {
          case .int32(let number): slot.storeBytes(of: number, as: Int32.self)
          case .int64(let number): slot.storeBytes(of: number, as: Int64.self)
          case .double(let number): slot.storeBytes(of: number, as: Double.self)
          case .string(let text):
            let copy = strdup(text)!
            copies.append(copy)
            slot.storeBytes(of: copy, as: UnsafeMutablePointer<CChar>.self)
          case .void: preconditionFailure("a signature never takes a void argument")
          }
          pointers[index] = slot
        }
        var word: UInt64 = 0
        return withUnsafeMutableBytes(of: &word) { result in
          invoke(service, result: result.baseAddress, arguments: pointers.baseAddress)
          // Decode before the argument copies are freed: a service may return one of them.
          switch service.signature.result {
          case .void: return .void
          case .int32: return .int32(result.load(as: Int32.self))
          case .int64: return .int64(result.load(as: Int64.self))
          case .double: return .double(result.load(as: Double.self))
          case .string:
            return result.load(as: UnsafePointer<CChar>?.self).map { .string(String(cString: $0)) }
          }
        }
      }
    }
  }

  private static func invoke(_ service: Service, result: UnsafeMutableRawPointer?,
                             arguments: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) {
    // libffi widens integer results to a whole ffi_arg, so it writes into a word of our own and
    // the caller's buffer receives exactly the C type: an int32_t must not become 8 bytes.
    withUnsafeTemporaryAllocation(byteCount: 16, alignment: 16) { word in
      ffi_call(service.callInterface.cif, service.function, word.baseAddress, arguments)
      guard let result else { return }
      switch service.signature.result {
      case .void: break
      case .int32:
        let widened = word.load(as: ffi_sarg.self)
        result.storeBytes(of: Int32(truncatingIfNeeded: widened), as: Int32.self)
      case .int64: result.storeBytes(of: word.load(as: Int64.self), as: Int64.self)
      case .double: result.storeBytes(of: word.load(as: Double.self), as: Double.self)
      case .string:
        result.storeBytes(of: word.load(as: UnsafeRawPointer?.self), as: UnsafeRawPointer?.self)
      }
    }
  }

  // MARK: - Names and command-line values

  private static func isValidName(_ name: String) -> Bool {
    !name.isEmpty && name.unicodeScalars.allSatisfy { scalar in
      scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
        || scalar == "." || scalar == "_" || scalar == "-")
    }
  }

  private static func parse(_ text: String, as type: ServiceSignature.ValueType) -> ServiceValue? {
    switch type {
    case .int32: Int32(text).map(ServiceValue.int32)
    case .int64: Int64(text).map(ServiceValue.int64)
    case .double: Double(text).map(ServiceValue.double)
    case .string: .string(text)
    case .void: nil
    }
  }

  /// Whether `text` is an integer of any size, to tell "out of range" from "not a number".
  private static func isInteger(_ text: String) -> Bool {
    let digits = text.first == "-" || text.first == "+" ? text.dropFirst() : Substring(text)
    return !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
  }
}

/// libffi's prepared description of one signature, and the signature as a C string. Written once
/// at registration and only read afterwards, so any thread may use it.
final class CallInterface: @unchecked Sendable {
  let cif: UnsafeMutablePointer<ffi_cif>
  private let argumentTypes: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>
  let signature: UnsafeMutablePointer<CChar>

  init?(_ signature: ServiceSignature) {
    let cif = UnsafeMutablePointer<ffi_cif>.allocate(capacity: 1)
    // The cif points at this array, so it lives exactly as long as the cif.
    let argumentTypes = UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>
      .allocate(capacity: max(signature.arguments.count, 1))
    for (index, type) in signature.arguments.enumerated() {
      (argumentTypes + index).initialize(to: type.ffiType)
    }
    guard ffi_prep_cif(cif, skiff_ffi_default_abi(), UInt32(signature.arguments.count),
                       signature.result.ffiType, argumentTypes) == FFI_OK else {
      cif.deallocate()
      argumentTypes.deallocate()
      return nil
    }
    self.cif = cif
    self.argumentTypes = argumentTypes
    self.signature = strdup(signature.description)!
  }

  deinit {
    cif.deallocate()
    argumentTypes.deallocate()
    free(signature)
  }
}

extension ServiceSignature.ValueType {
  fileprivate var ffiType: UnsafeMutablePointer<ffi_type> {
    switch self {
    case .void: skiff_ffi_void()
    case .int32: skiff_ffi_sint32()
    case .int64: skiff_ffi_sint64()
    case .double: skiff_ffi_double()
    case .string: skiff_ffi_pointer()
    }
  }
}
