// skiff.h's layout is the ABI: every struct's size and field offsets, and every enum value, are
// recorded per ABI version. Changing any of them without bumping SKIFF_ABI_VERSION fails here.
import Foundation
import SkiffABI
import SkiffTestSupport
import XCTest

final class ABILayoutTests: XCTestCase {
  static let repository = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  static let header = repository.appendingPathComponent("Sources/SkiffABI/include/skiff.h").path

  static func recordFile(version: UInt32) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("Layouts/abi-v\(version).txt")
  }

  func testLayoutMatchesTheRecordForThisABIVersion() throws {
    let current = try ABILayout.describe(header: Self.header)
    let record = Self.recordFile(version: SKIFF_ABI_VERSION)
    if ProcessInfo.processInfo.environment["SKIFF_RECORD_ABI_LAYOUT"] == "1" {
      try current.write(to: record, atomically: true, encoding: .utf8)
    }
    guard let recorded = try? String(contentsOf: record, encoding: .utf8) else {
      return XCTFail("no layout recorded for ABI version \(SKIFF_ABI_VERSION): run "
        + "`SKIFF_RECORD_ABI_LAYOUT=1 swift test --filter ABILayoutTests` once and commit \(record.path)")
    }
    XCTAssertEqual(ABILayout.difference(recorded, current), nil,
                   "skiff.h changed its layout without bumping SKIFF_ABI_VERSION (\(SKIFF_ABI_VERSION))")
  }

  func testRecordCoversEveryStructAndEnum() throws {
    let layout = try ABILayout.describe(header: Self.header)
    for name in ["skiff_plugin", "skiff_host", "skiff_pod", "skiff_node", "skiff_resources",
                 "skiff_scheduler_plugin", "skiff_runtime_plugin", "skiff_network_plugin",
                 "skiff_storage_plugin", "skiff_device_plugin", "skiff_autoscaler_plugin"] {
      XCTAssertTrue(layout.contains("struct \(name)\n"), "\(name) is missing from the layout")
    }
    XCTAssertTrue(layout.contains("SKIFF_UNSCHEDULABLE_AND_UNRESOLVABLE = 3"))
    XCTAssertTrue(layout.contains("SKIFF_KIND_AUTOSCALER = 6"))
  }

  /// The check must be able to fail: swap two fields of a copy of the header, append one to
  /// another, renumber an enum; each must show up as a difference.
  func testDetectsReorderedAppendedAndRenumbered() throws {
    let original = try String(contentsOfFile: Self.header, encoding: .utf8)
    let baseline = try ABILayout.describe(header: Self.header)
    let edits: [(String, String)] = [
      ("  const char *name;     /* unique across the profile",
       "  const char *version_;\n  const char *name;     /* unique across the profile"),
      ("  uint64_t generation; /* changes whenever anything above changes */",
       "  uint64_t generation; /* changes whenever anything above changes */\n  uint64_t extra;"),
      ("  SKIFF_SKIP = 5,", "  SKIFF_SKIP = 50,"),
    ]
    for (from, to) in edits {
      XCTAssertTrue(original.contains(from), "test edit anchor not found: \(from)")
      let folder = FileManager.default.temporaryDirectory.appendingPathComponent("abi-\(UUID())")
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      defer { try? FileManager.default.removeItem(at: folder) }
      let edited = folder.appendingPathComponent("skiff.h")
      try original.replacingOccurrences(of: from, with: to).write(to: edited, atomically: true, encoding: .utf8)
      XCTAssertNotNil(ABILayout.difference(baseline, try ABILayout.describe(header: edited.path)),
                      "edit not detected: \(to)")
    }
  }

  func testStructsStartWithVersionAndSize() {
    XCTAssertEqual(MemoryLayout<skiff_plugin>.offset(of: \.abi_version), 0)
    XCTAssertEqual(MemoryLayout<skiff_plugin>.offset(of: \.struct_size), 4)
    XCTAssertEqual(MemoryLayout<skiff_host>.offset(of: \.struct_size), 4)
    XCTAssertEqual(MemoryLayout<skiff_pod>.offset(of: \.struct_size), 4)
    XCTAssertEqual(MemoryLayout<skiff_scheduler_plugin>.offset(of: \.name), 8)
    XCTAssertEqual(MemoryLayout<skiff_runtime_plugin>.offset(of: \.`self`), 16)
    XCTAssertEqual(MemoryLayout<skiff_autoscaler_plugin>.offset(of: \.`self`), 16)
  }
}

/// Describes skiff.h's ABI with clang's own record layouts plus the header's enum values.
enum ABILayout {
  static func describe(header: String) throws -> String {
    let clang = ["/opt/swift/usr/bin/clang", "/usr/bin/clang"].first {
      FileManager.default.isExecutableFile(atPath: $0)
    } ?? "clang"
    let source = FileManager.default.temporaryDirectory.appendingPathComponent("abi-\(UUID()).c")
    try "#include \"\(header)\"\n".write(to: source, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: source) }
    let (status, dump) = try Fixtures.run([clang, "-x", "c", "-fsyntax-only", "-Xclang",
                                           "-fdump-record-layouts-complete", source.path])
    guard status == 0 else { throw LayoutError(message: dump) }

    var records: [String] = []
    for block in dump.components(separatedBy: "*** Dumping AST Record Layout") {
      let lines = block.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
      guard let first = lines.first, first.hasPrefix("0 | struct skiff_") else { continue }
      // "8 |   const char * name" → "8 const char * name"; the first line names the struct.
      let fields = lines.map { $0.replacingOccurrences(of: "|", with: "")
        .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
      records.append("struct " + first.dropFirst("0 | struct ".count) + "\n"
        + fields.dropFirst().joined(separator: "\n"))
    }
    let header = try String(contentsOfFile: header, encoding: .utf8)
    let enums = header.split(separator: "\n").compactMap { line -> String? in
      let text = line.trimmingCharacters(in: .whitespaces)
      guard text.hasPrefix("SKIFF_"), let equals = text.firstIndex(of: "=") else { return nil }
      let name = text[..<equals].trimmingCharacters(in: .whitespaces)
      let value = text[text.index(after: equals)...].prefix { $0.isNumber || $0 == " " }
        .trimmingCharacters(in: .whitespaces)
      return "\(name) = \(value)"
    }
    return (records.sorted() + ["enums", enums.joined(separator: "\n")]).joined(separator: "\n\n") + "\n"
  }

  /// The first differing line of two descriptions, or nil when equal.
  static func difference(_ recorded: String, _ current: String) -> String? {
    let a = recorded.split(separator: "\n", omittingEmptySubsequences: false)
    let b = current.split(separator: "\n", omittingEmptySubsequences: false)
    for i in 0..<max(a.count, b.count) {
      let left = i < a.count ? String(a[i]) : "<end>", right = i < b.count ? String(b[i]) : "<end>"
      if left != right { return "line \(i + 1): recorded '\(left)', now '\(right)'" }
    }
    return nil
  }

  struct LayoutError: Error { let message: String }
}
