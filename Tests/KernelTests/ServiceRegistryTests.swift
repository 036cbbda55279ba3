// The service registry against real C functions: every type through libffi, the raw host-table
// form, command-line parsing, every error a plugin or user can hit, and concurrent callers.
import Dispatch
import Kernel
import SkiffABI
import Synchronization
import XCTest

// C functions have no captures, so side effects land in globals.
private let ticks = Atomic<Int>(0)
private let stored = Atomic<Int64>(0)

private let add: @convention(c) (Int64, Int64) -> Int64 = { $0 + $1 }
private let subtract32: @convention(c) (Int32, Int32) -> Int32 = { $0 - $1 }
private let multiply: @convention(c) (Double, Double) -> Double = { $0 * $1 }
private let length: @convention(c) (UnsafePointer<CChar>?) -> Int32 = {
  Int32(String(cString: $0!).utf8.count)
}
// Returns a pointer into its argument, so the caller must read it before freeing the argument.
private let dropFirst: @convention(c) (UnsafePointer<CChar>?, Int32) -> UnsafePointer<CChar>? = {
  $0! + Int($1)
}
private let mix: @convention(c) (Int32, Int64, Double) -> Double = { Double($0) + Double($1) + $2 }
private let tick: @convention(c) () -> Void = { ticks.add(1, ordering: .relaxed) }
private let store: @convention(c) (Int64) -> Void = { stored.store($0, ordering: .relaxed) }
private let nothing: @convention(c) () -> UnsafePointer<CChar>? = { nil }
// Sixteen arguments: more than fit in registers, so libffi must pass some on the stack.
private let sum16: @convention(c) (
  Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64,
  Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64
) -> Int64 = {
  $0 + $1 + $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 + $10 + $11 + $12 + $13 + $14 + $15
}

/// How a plugin's function arrives from C: as `void (*)(void)`.
private func erased<Function>(_ function: Function) -> @convention(c) () -> Void {
  unsafeBitCast(function, to: (@convention(c) () -> Void).self)
}

private func makeRegistry() throws -> ServiceRegistry {
  let registry = ServiceRegistry()
  let services: [(String, String, @convention(c) () -> Void)] = [
    ("math.add", "l(ll)", erased(add)),
    ("math.sub32", "i(ii)", erased(subtract32)),
    ("math.mul", "d(dd)", erased(multiply)),
    ("text.length", "i(s)", erased(length)),
    ("text.drop", "s(si)", erased(dropFirst)),
    ("math.mix", "d(ild)", erased(mix)),
    ("tick", "v()", erased(tick)),
    ("store", "v(l)", erased(store)),
    ("nothing", "s()", erased(nothing)),
    ("math.sum16", "l(llllllllllllllll)", erased(sum16)),
  ]
  for (name, signature, function) in services {
    try registry.register(name: name, signature: signature, function: function, owner: "test")
  }
  registry.freeze()
  return registry
}

/// The ServiceError that `expression` throws; fails the test when it throws none.
private func serviceError<T>(_ expression: @autoclosure () throws -> T,
                             file: StaticString = #filePath, line: UInt = #line) -> ServiceError? {
  do {
    let value = try expression()
    XCTFail("expected a ServiceError, got \(value)", file: file, line: line)
  } catch let error as ServiceError {
    return error
  } catch {
    XCTFail("expected a ServiceError, got \(error)", file: file, line: line)
  }
  return nil
}

final class ServiceRegistryTests: XCTestCase {
  // MARK: - Every type through libffi

  func testInt32ArgumentsAndResultKeepTheirSign() throws {
    let registry = try makeRegistry()
    XCTAssertEqual(try registry.call("math.sub32", [.int32(-7), .int32(5)]), .int32(-12))
    XCTAssertEqual(try registry.call("math.sub32", [.int32(Int32.min + 1), .int32(1)]),
                   .int32(Int32.min))
    XCTAssertEqual(try registry.call("math.sub32", [.int32(Int32.max), .int32(0)]),
                   .int32(Int32.max))
  }

  func testInt64BeyondThirtyTwoBits() throws {
    let registry = try makeRegistry()
    XCTAssertEqual(try registry.call("math.add", [.int64(5_000_000_000), .int64(-7)]),
                   .int64(4_999_999_993))
    XCTAssertEqual(try registry.call("math.add", [.int64(Int64.max - (1 << 40)), .int64(1 << 40)]),
                   .int64(Int64.max))
  }

  func testDoubles() throws {
    let registry = try makeRegistry()
    XCTAssertEqual(try registry.call("math.mul", [.double(1.5), .double(-2.25)]), .double(-3.375))
  }

  func testStringArgumentAndResult() throws {
    let registry = try makeRegistry()
    XCTAssertEqual(try registry.call("text.length", [.string("héllo")]), .int32(6))
    XCTAssertEqual(try registry.call("text.length", [.string("")]), .int32(0))
    XCTAssertEqual(try registry.call("text.drop", [.string("services"), .int32(4)]),
                   .string("ices"))
  }

  func testMixedArguments() throws {
    let registry = try makeRegistry()
    XCTAssertEqual(try registry.call("math.mix", [.int32(-3), .int64(4_000_000_000), .double(0.5)]),
                   .double(3_999_999_997.5))
  }

  func testVoidResultWithoutArgumentsRunsTheFunction() throws {
    let registry = try makeRegistry()
    let before = ticks.load(ordering: .relaxed)
    XCTAssertEqual(try registry.call("tick", []), .void)
    XCTAssertEqual(try registry.call("tick", []), .void)
    XCTAssertEqual(ticks.load(ordering: .relaxed), before + 2)
  }

  func testVoidResultWithAnArgument() throws {
    let registry = try makeRegistry()
    XCTAssertEqual(try registry.call("store", [.int64(-(1 << 40))]), .void)
    XCTAssertEqual(stored.load(ordering: .relaxed), -(1 << 40))
  }

  func testSixteenArguments() throws {
    let registry = try makeRegistry()
    let values = (1...16).map { Int64($0) << 33 }
    XCTAssertEqual(try registry.call("math.sum16", values.map(ServiceValue.int64)),
                   .int64(values.reduce(0, +)))
  }

  // MARK: - The raw form the host table uses

  func testRawCallWritesTheResultInItsCType() throws {
    let registry = try makeRegistry()
    var a: Int64 = 5_000_000_000, b: Int64 = 3
    var sum: Int64 = 0
    withUnsafeMutablePointer(to: &a) { a in
      withUnsafeMutablePointer(to: &b) { b in
        var arguments: [UnsafeMutableRawPointer?] = [UnsafeMutableRawPointer(a), .init(b)]
        XCTAssertEqual(registry.call("math.add", result: &sum, arguments: &arguments), .ok)
        XCTAssertEqual(sum, 5_000_000_003)

        // An int32 result fills exactly four bytes, though libffi widens it to a word.
        var x: Int32 = -7, y: Int32 = 5
        var buffer: (Int32, Int32) = (0, 0x5A5A_5A5A)
        withUnsafeMutablePointer(to: &x) { x in
          withUnsafeMutablePointer(to: &y) { y in
            var arguments: [UnsafeMutableRawPointer?] = [UnsafeMutableRawPointer(x), .init(y)]
            XCTAssertEqual(registry.call("math.sub32", result: &buffer, arguments: &arguments), .ok)
            XCTAssertEqual(buffer.0, -12)
            XCTAssertEqual(buffer.1, 0x5A5A_5A5A)
            // NULL result: the value is discarded, the call still happens.
            XCTAssertEqual(registry.call("math.sub32", result: nil, arguments: &arguments), .ok)
          }
        }
      }
    }
  }

  func testRawCallPassesAndReturnsCStrings() throws {
    let registry = try makeRegistry()
    "services".withCString { text in
      var pointer: UnsafePointer<CChar>? = text
      var count: Int32 = 4
      var returned: UnsafePointer<CChar>?
      withUnsafeMutablePointer(to: &pointer) { pointer in
        withUnsafeMutablePointer(to: &count) { count in
          var arguments: [UnsafeMutableRawPointer?] = [.init(pointer), .init(count)]
          XCTAssertEqual(registry.call("text.drop", result: &returned, arguments: &arguments), .ok)
        }
      }
      XCTAssertEqual(returned, text + 4)
    }
  }

  func testRawCallOfVoidService() throws {
    let registry = try makeRegistry()
    let before = ticks.load(ordering: .relaxed)
    XCTAssertEqual(registry.call("tick", result: nil, arguments: nil), .ok)
    XCTAssertEqual(ticks.load(ordering: .relaxed), before + 1)
  }

  func testRawCallRejectsUnknownNamesAndMissingArguments() throws {
    let registry = try makeRegistry()
    var result: Int64 = 0
    XCTAssertEqual(registry.call("math.ad", result: &result, arguments: nil), .notFound)
    XCTAssertEqual(registry.call("math.add", result: &result, arguments: nil), .invalid)
    var a: Int64 = 1
    withUnsafeMutablePointer(to: &a) { a in
      var arguments: [UnsafeMutableRawPointer?] = [UnsafeMutableRawPointer(a), nil]
      XCTAssertEqual(registry.call("math.add", result: &result, arguments: &arguments), .invalid)
    }
  }

  func testStatusesAreSkiffStatuses() {
    XCTAssertEqual(ServiceStatus.ok.rawValue, Int32(SKIFF_OK.rawValue))
    XCTAssertEqual(ServiceStatus.notFound.rawValue, Int32(SKIFF_NOT_FOUND.rawValue))
    XCTAssertEqual(ServiceStatus.invalid.rawValue, Int32(SKIFF_INVALID.rawValue))
    XCTAssertEqual(ServiceStatus.conflict.rawValue, Int32(SKIFF_CONFLICT.rawValue))
  }

  // MARK: - Command-line arguments

  func testCommandLineArgumentsAreConvertedBySignature() throws {
    let registry = try makeRegistry()
    XCTAssertEqual(try registry.call("math.add", parsing: ["5000000000", "-7"]),
                   .int64(4_999_999_993))
    XCTAssertEqual(try registry.call("math.sub32", parsing: ["-2147483647", "1"]),
                   .int32(Int32.min))
    XCTAssertEqual(try registry.call("math.mix", parsing: ["-3", "4000000000", "0.5"]),
                   .double(3_999_999_997.5))
    XCTAssertEqual(try registry.call("text.drop", parsing: ["services", "4"]), .string("ices"))
    XCTAssertEqual(try registry.call("tick", parsing: []), .void)
  }

  func testValuesPrintAsTheCommandLineShowsThem() {
    XCTAssertEqual(ServiceValue.void.description, "")
    XCTAssertEqual(ServiceValue.int32(-12).description, "-12")
    XCTAssertEqual(ServiceValue.int64(5_000_000_000).description, "5000000000")
    XCTAssertEqual(ServiceValue.double(0.5).description, "0.5")
    XCTAssertEqual(ServiceValue.string("ices").description, "ices")
  }

  func testUnparsableCommandLineArguments() throws {
    let registry = try makeRegistry()
    let word = try XCTUnwrap(serviceError(try registry.call("math.add", parsing: ["abc", "1"])))
    XCTAssertEqual(word.reason, .invalidArgument)
    XCTAssertEqual(word.message, "argument 1 of 'math.add' must be an int64, got 'abc'")

    let double = try XCTUnwrap(serviceError(
      try registry.call("math.mix", parsing: ["1", "2", "x"])))
    XCTAssertEqual(double.message, "argument 3 of 'math.mix' must be a double, got 'x'")

    let fraction = try XCTUnwrap(serviceError(
      try registry.call("math.sub32", parsing: ["1", "2.5"])))
    XCTAssertEqual(fraction.message, "argument 2 of 'math.sub32' must be an int32, got '2.5'")

    let huge = try XCTUnwrap(serviceError(
      try registry.call("math.add", parsing: ["1", "99999999999999999999"])))
    XCTAssertEqual(huge.message, "argument 2 of 'math.add' must be an int64 between "
      + "-9223372036854775808 and 9223372036854775807, got '99999999999999999999'")
  }

  func testInt32OutOfRange() throws {
    let registry = try makeRegistry()
    for text in ["2147483648", "-2147483649"] {
      let error = try XCTUnwrap(serviceError(try registry.call("math.sub32", parsing: [text, "1"])))
      XCTAssertEqual(error.reason, .invalidArgument)
      XCTAssertEqual(error.message, "argument 1 of 'math.sub32' must be an int32 between "
        + "-2147483648 and 2147483647, got '\(text)'")
    }
  }

  // MARK: - Signatures

  func testSignaturesParse() throws {
    let none = try ServiceSignature(parsing: "v()")
    XCTAssertEqual(none.result, .void)
    XCTAssertEqual(none.arguments, [])

    let mixed = try ServiceSignature(parsing: "s(sild)")
    XCTAssertEqual(mixed.result, .string)
    XCTAssertEqual(mixed.arguments, [.string, .int32, .int64, .double])
    XCTAssertEqual(mixed.description, "s(sild)")

    let widest = try ServiceSignature(parsing: "i(" + String(repeating: "d", count: 16) + ")")
    XCTAssertEqual(widest.arguments.count, ServiceSignature.maxArguments)
  }

  func testMalformedSignaturesAreRejected() {
    let seventeen = "l(" + String(repeating: "l", count: 17) + ")"
    let cases: [(signature: String, problem: String)] = [
      ("", "it is empty"),
      ("l", "expected '(' at position 2"),
      ("lsl", "expected '(' at position 2"),
      ("l(sl", "missing ')'"),
      ("(l)", "unknown result type '(' at position 1"),
      ("x(l)", "unknown result type 'x' at position 1"),
      ("l(lx)", "unknown argument type 'x' at position 4"),
      ("l(v)", "'v' (void) at position 3 is only allowed as the result type"),
      ("l(l)x", "unexpected 'x' at position 5"),
      (seventeen, "17 arguments, at most 16"),
    ]
    for (signature, problem) in cases {
      guard let error = serviceError(try ServiceSignature(parsing: signature)) else { continue }
      XCTAssertEqual(error.reason, .invalidSignature, signature)
      XCTAssertTrue(error.message.hasPrefix("invalid signature '\(signature)': "), error.message)
      XCTAssertTrue(error.message.contains(problem), "'\(error.message)' should say '\(problem)'")
    }
  }

  // MARK: - Registration

  func testRegisterRejectsABadSignatureNamingServiceAndPlugin() throws {
    let registry = ServiceRegistry()
    let error = try XCTUnwrap(serviceError(
      try registry.register(name: "math.add", signature: "l(lq)", function: erased(add),
                            owner: "math")))
    XCTAssertEqual(error.reason, .invalidSignature)
    XCTAssertEqual(error.message, "service 'math.add' of plugin 'math': invalid signature 'l(lq)': "
      + "unknown argument type 'q' at position 4; use i, l, d or s")
    XCTAssertNil(registry.lookup("math.add"))
  }

  func testRegisterRejectsInvalidNames() throws {
    let registry = ServiceRegistry()
    for name in ["", "math add", "math/add", "mäth", "math.add\n"] {
      let error = try XCTUnwrap(serviceError(
        try registry.register(name: name, signature: "v()", function: erased(tick), owner: "p")))
      XCTAssertEqual(error.reason, .invalidName, name)
      XCTAssertTrue(error.message.contains("'\(name)'"), error.message)
    }
    XCTAssertTrue(registry.services.isEmpty)
    try registry.register(name: "Ab.c_d-9", signature: "v()", function: erased(tick), owner: "p")
    XCTAssertNotNil(registry.lookup("Ab.c_d-9"))
  }

  func testDuplicateNameNamesThePluginThatHasIt() throws {
    let registry = ServiceRegistry()
    try registry.register(name: "math.add", signature: "l(ll)", function: erased(add),
                          owner: "math")
    let error = try XCTUnwrap(serviceError(
      try registry.register(name: "math.add", signature: "v()", function: erased(tick),
                            owner: "other")))
    XCTAssertEqual(error.reason, .duplicateName)
    XCTAssertEqual(error.status, .conflict)
    XCTAssertEqual(error.message, "plugin 'other' cannot register service 'math.add': "
      + "plugin 'math' already registered it; choose another name")
    XCTAssertEqual(registry.lookup("math.add")?.owner, "math")
  }

  func testRegistrationEndsAtFreeze() throws {
    let registry = ServiceRegistry()
    try registry.register(name: "early", signature: "v()", function: erased(tick), owner: "p")
    registry.freeze()
    let error = try XCTUnwrap(serviceError(
      try registry.register(name: "late", signature: "v()", function: erased(tick), owner: "p")))
    XCTAssertEqual(error.reason, .registryFrozen)
    XCTAssertEqual(error.status, .invalid)
    XCTAssertTrue(error.message.contains("'late'") && error.message.contains("after start"),
                  error.message)
    XCTAssertNil(registry.lookup("late"))
    XCTAssertEqual(registry.services.map(\.name), ["early"])
  }

  func testLookupDescribesTheServiceForDirectCalls() throws {
    let registry = try makeRegistry()
    let service = try XCTUnwrap(registry.lookup("math.add"))
    XCTAssertEqual(service.name, "math.add")
    XCTAssertEqual(service.owner, "test")
    XCTAssertEqual(service.signatureString, "l(ll)")
    XCTAssertEqual(service.signature, try ServiceSignature(parsing: "l(ll)"))
    XCTAssertEqual(String(cString: service.signatureCString), "l(ll)")
    // A plugin that looked a service up casts it back to its C type and calls it directly.
    let direct = unsafeBitCast(service.function, to: (@convention(c) (Int64, Int64) -> Int64).self)
    XCTAssertEqual(direct(40, 2), 42)
    XCTAssertNil(registry.lookup("math.ad"))
  }

  func testServicesAreListedByName() throws {
    let registry = try makeRegistry()
    XCTAssertEqual(registry.services.map(\.name), [
      "math.add", "math.mix", "math.mul", "math.sub32", "math.sum16", "nothing", "store",
      "text.drop", "text.length", "tick",
    ])
  }

  // MARK: - Call errors

  func testUnknownService() throws {
    let registry = try makeRegistry()
    for error in [serviceError(try registry.call("math.ad", [])),
                  serviceError(try registry.call("math.ad", parsing: []))] {
      let error = try XCTUnwrap(error)
      XCTAssertEqual(error.reason, .notFound)
      XCTAssertEqual(error.status, .notFound)
      XCTAssertTrue(error.message.hasPrefix("no service named 'math.ad'"), error.message)
    }
  }

  func testWrongNumberOfArguments() throws {
    let registry = try makeRegistry()
    let three = try XCTUnwrap(serviceError(
      try registry.call("math.add", [.int64(1), .int64(2), .int64(3)])))
    XCTAssertEqual(three.reason, .wrongArgumentCount)
    XCTAssertEqual(three.message, "service 'math.add' takes 2 arguments (l, l), got 3")

    let one = try XCTUnwrap(serviceError(try registry.call("text.length", parsing: [])))
    XCTAssertEqual(one.message, "service 'text.length' takes 1 argument (s), got 0")

    let none = try XCTUnwrap(serviceError(try registry.call("tick", [.int32(1)])))
    XCTAssertEqual(none.message, "service 'tick' takes no arguments, got 1")
  }

  func testWrongArgumentType() throws {
    let registry = try makeRegistry()
    let string = try XCTUnwrap(serviceError(
      try registry.call("math.add", [.int64(1), .string("2")])))
    XCTAssertEqual(string.reason, .wrongArgumentType)
    XCTAssertEqual(string.message, "argument 2 of 'math.add' must be int64, got string")

    // No silent widening: an int32 is not an int64.
    let narrow = try XCTUnwrap(serviceError(try registry.call("math.add", [.int32(1), .int64(2)])))
    XCTAssertEqual(narrow.message, "argument 1 of 'math.add' must be int64, got int32")
  }

  func testStringWithNULCannotBePassed() throws {
    let registry = try makeRegistry()
    let error = try XCTUnwrap(serviceError(try registry.call("text.length", [.string("a\0b")])))
    XCTAssertEqual(error.reason, .invalidArgument)
    XCTAssertTrue(error.message.contains("argument 1 of 'text.length'"), error.message)
  }

  func testNullStringResultIsAnError() throws {
    let registry = try makeRegistry()
    let error = try XCTUnwrap(serviceError(try registry.call("nothing", [])))
    XCTAssertEqual(error.reason, .nullString)
    XCTAssertEqual(error.message, "service 'nothing' returned a NULL string")
  }

  // MARK: - Threads

  func testConcurrentCallersGetTheirOwnResults() throws {
    let registry = try makeRegistry()
    let threads = 8, callsPerThread = 2_000
    let wrong = Atomic<Int>(0), calls = Atomic<Int>(0)
    DispatchQueue.concurrentPerform(iterations: threads) { thread in
      for call in 0..<callsPerThread {
        let a = Int64(thread) << 36, b = Int64(call)
        let text = "thread-\(thread)-call-\(call)"
        let sum = try? registry.call("math.add", [.int64(a), .int64(b)])
        let tail = try? registry.call("text.drop", [.string(text), .int32(7)])
        if sum != .int64(a + b) || tail != .string(String(text.dropFirst(7))) {
          wrong.add(1, ordering: .relaxed)
        }
        calls.add(1, ordering: .relaxed)
      }
    }
    XCTAssertEqual(calls.load(ordering: .relaxed), threads * callsPerThread)
    XCTAssertEqual(wrong.load(ordering: .relaxed), 0)
  }
}
