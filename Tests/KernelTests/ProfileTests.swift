// The profile loader: a valid profile's plugins, paths and JSON config, and for each way a profile
// can be wrong, the exact file:line:column and message a user sees.
import Foundation
import Kernel
import XCTest

final class ProfileTests: XCTestCase {
  private let header = """
    apiVersion: skiff.dev/v1alpha1
    kind: Profile
    name: test

    """

  /// What `Profile.parse` says about `text`, or nil if it accepts it.
  private func error(in text: String, file: String = "profiles/x.yaml") -> String? {
    do {
      _ = try Profile.parse(text, file: file)
      return nil
    } catch {
      return error.description
    }
  }

  private func yamlError(in text: String) -> String? {
    do {
      _ = try YAMLParser.parse(text, file: "x.yaml")
      return nil
    } catch {
      return error.description
    }
  }

  private func configJSON(_ config: String) throws -> String {
    let profile = try Profile.parse(
      header + "plugins:\n  - name: p\n    config:\n" + config, file: "x.yaml")
    return try XCTUnwrap(profile.plugins.first).configJSON
  }

  // MARK: - A valid profile

  func testValidProfile() throws {
    let profile = try Profile.parse(
      """
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: default
      description: All-in-one
      pluginDirs: [plugins, /opt/skiff/plugins]
      plugins:
        - name: scheduler
          path: ../examples/plugins/libskiff_labelpref.so
          config:
            weights: {NodeResourcesFit: 1, TaintToleration: 3}
        - name: runtime.process
        - name: gpu_fake-1
          path: /usr/lib/skiff/libgpu.so
          config:
      """, file: "/etc/skiff/profiles/default.yaml")

    XCTAssertEqual(profile.file, "/etc/skiff/profiles/default.yaml")
    XCTAssertEqual(profile.name, "default")
    XCTAssertEqual(profile.description, "All-in-one")
    XCTAssertEqual(profile.pluginDirs, ["/etc/skiff/profiles/plugins", "/opt/skiff/plugins"])
    XCTAssertEqual(profile.plugins.map(\.name), ["scheduler", "runtime.process", "gpu_fake-1"])
    XCTAssertEqual(
      profile.plugins.map(\.path),
      ["/etc/skiff/profiles/../examples/plugins/libskiff_labelpref.so", nil,
       "/usr/lib/skiff/libgpu.so"])
    XCTAssertEqual(
      profile.plugins.map(\.configJSON),
      [#"{"weights":{"NodeResourcesFit":1,"TaintToleration":3}}"#, "{}", "{}"])
    XCTAssertEqual(
      profile.plugins.map(\.mark),
      [SourceMark(file: "/etc/skiff/profiles/default.yaml", line: 7, column: 5),
       SourceMark(file: "/etc/skiff/profiles/default.yaml", line: 11, column: 5),
       SourceMark(file: "/etc/skiff/profiles/default.yaml", line: 12, column: 5)])
  }

  func testOptionalKeysMayBeLeftOut() throws {
    let profile = try Profile.parse(header + "plugins: []\n", file: "x.yaml")
    XCTAssertEqual(profile.name, "test")
    XCTAssertNil(profile.description)
    XCTAssertEqual(profile.pluginDirs, [])
    XCTAssertEqual(profile.plugins.count, 0)
  }

  func testRelativePathsFollowTheProfileFolder() throws {
    let text = header + "pluginDirs: [plugins]\nplugins:\n  - name: a\n    path: lib/a.so\n"
    let nested = try Profile.parse(text, file: "profiles/edge.yaml")
    XCTAssertEqual(nested.pluginDirs, ["profiles/plugins"])
    XCTAssertEqual(nested.plugins.first?.path, "profiles/lib/a.so")
    let here = try Profile.parse(text, file: "edge.yaml")
    XCTAssertEqual(here.pluginDirs, ["plugins"])
    XCTAssertEqual(here.plugins.first?.path, "lib/a.so")
    let atRoot = try Profile.parse(text, file: "/edge.yaml")
    XCTAssertEqual(atRoot.pluginDirs, ["/plugins"])
  }

  func testConfigBecomesJSONByTheCoreSchema() throws {
    let json = try configJSON(
      #"""
            numbers: [1, -2.5, .5, 1., 2.50E-3, 0x1F, 0o17, 007, +12, -0]
            flags: {yes: true, no: False, upper: TRUE, unset: null, tilde: ~, empty: }
            notBooleans: [yes, on, Off]
            quoted: {number: "42", bool: 'true', nul: "null", tagged: !!str 5}
            strings: [.inf, -.inf, .nan, 1_000, 0x, 0x+1, 1e, héllo ☃]
            escaped: ["tab\there", "quote \" and \\ back", "\u0001", "\e", "new\nline"]
            text: |
              line one
              line two
            nested: [[1, 2], {a: [b]}, []]
            order: {z: 1, a: 2, m: 3}
      """#)
    XCTAssertEqual(
      json,
      #"{"numbers":[1,-2.5,0.5,1.0,2.50e-3,31,15,7,12,-0],"#
        + #""flags":{"yes":true,"no":false,"upper":true,"unset":null,"tilde":null,"empty":null},"#
        + #""notBooleans":["yes","on","Off"],"#
        + #""quoted":{"number":"42","bool":"true","nul":"null","tagged":"5"},"#
        + #""strings":[".inf","-.inf",".nan","1_000","0x","0x+1","1e","héllo ☃"],"#
        + #""escaped":["tab\there","quote \" and \\ back","\u0001","\u001b","new\nline"],"#
        + #""text":"line one\nline two\n","#
        + #""nested":[[1,2],{"a":["b"]},[]],"#
        + #""order":{"z":1,"a":2,"m":3}}"#)
    XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(json.utf8)))
  }

  func testAliasInConfigResolves() throws {
    let profile = try Profile.parse(
      header + """
        plugins:
          - name: a
            config: &shared
              limits: &limits {cpu: 2, gpu: 1}
              again: *limits
          - name: b
            config: *shared
        """, file: "x.yaml")
    let expected = #"{"limits":{"cpu":2,"gpu":1},"again":{"cpu":2,"gpu":1}}"#
    XCTAssertEqual(profile.plugins.map(\.configJSON), [expected, expected])
  }

  func testLoadReadsAFileAndResolvesPathsAgainstItsFolder() throws {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("skiff-profile-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = folder.appendingPathComponent("edge.yaml").path
    try (header + "plugins:\n  - name: a\n    path: a.so\n").write(
      toFile: file, atomically: true, encoding: .utf8)

    let profile = try Profile.load(path: file)
    XCTAssertEqual(profile.file, file)
    XCTAssertEqual(profile.plugins.first?.path, folder.appendingPathComponent("a.so").path)
  }

  // MARK: - The YAML tree

  func testParserKeepsMarksOrderAndQuoting() throws {
    let root = try YAMLParser.parse("b: [1, '2']\na:\n  - x\n", file: "t.yaml")
    let entries = try XCTUnwrap(root.mappingValue)
    XCTAssertEqual(entries.map { $0.key.stringValue }, ["b", "a"])
    XCTAssertEqual(entries[1].key.mark, SourceMark(file: "t.yaml", line: 2, column: 1))
    let items = try XCTUnwrap(entries[0].value.sequenceValue)
    guard case .scalar("2", quoted: true) = items[1].value else {
      return XCTFail("expected the quoted scalar '2', got \(items[1].value)")
    }
    XCTAssertEqual(items[1].mark, SourceMark(file: "t.yaml", line: 1, column: 8))
    XCTAssertEqual(entries[1].value.sequenceValue?.first?.stringValue, "x")
    XCTAssertEqual(root.json(), #"{"b":[1,"2"],"a":["x"]}"#)
  }

  func testEmptyDocumentIsAnEmptyMapping() throws {
    for text in ["", "# only a comment\n", "---\n"] {
      let root = try YAMLParser.parse(text, file: "t.yaml")
      XCTAssertEqual(root.mappingValue?.count, 0, "for \(text.debugDescription)")
      XCTAssertEqual(root.json(), "{}")
    }
    XCTAssertEqual(
      error(in: ""), "profiles/x.yaml:1:1: missing required key 'apiVersion' in profile")
  }

  // MARK: - Syntax errors, as libyaml reports them

  func testUnclosedFlowSequence() {
    XCTAssertEqual(
      error(in: header + "pluginDirs: [a, b\nplugins: []\n"),
      "profiles/x.yaml:5:8: did not find expected ',' or ']' "
        + "(while parsing a flow sequence at 4:13)")
  }

  func testBadIndentation() {
    XCTAssertEqual(
      error(in: header + "plugins:\n  - name: a\n   path: b\n"),
      "profiles/x.yaml:6:4: did not find expected '-' indicator "
        + "(while parsing a block collection at 5:3)")
  }

  func testUnclosedQuote() {
    XCTAssertEqual(
      error(in: "apiVersion: skiff.dev/v1alpha1\nkind: Profile\nname: \"x\nplugins: []\n"),
      "profiles/x.yaml:5:1: found unexpected end of stream "
        + "(while scanning a quoted scalar at 3:7)")
  }

  func testTabIndentation() {
    XCTAssertEqual(
      error(in: header + "plugins:\n\t- name: a\n"),
      "profiles/x.yaml:5:1: found character that cannot start any token "
        + "(while scanning for the next token at 5:1)")
  }

  func testInvalidUTF8IsReportedWhereItIs() throws {
    let file = FileManager.default.temporaryDirectory
      .appendingPathComponent("skiff-profile-\(UUID().uuidString).yaml").path
    defer { try? FileManager.default.removeItem(atPath: file) }
    let bytes = Array((header + "description: né ").utf8) + [0xFF] + Array("\nplugins: []\n".utf8)
    XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data(bytes)))
    XCTAssertThrowsError(try Profile.load(path: file)) { error in
      XCTAssertEqual(
        (error as? ProfileError)?.description,
        "\(file):4:17: invalid leading UTF-8 octet (0xFF)")
    }
  }

  func testControlCharacter() {
    XCTAssertEqual(
      yamlError(in: "a: 1\nb: x\u{01}\n"),
      "x.yaml:2:5: control characters are not allowed (0x01)")
  }

  // MARK: - YAML the parser refuses

  func testDuplicateKey() {
    XCTAssertEqual(
      error(in: header + "name: again\nplugins: []\n"),
      "profiles/x.yaml:4:1: duplicate key 'name' (first at 3:1)")
  }

  func testDuplicateKeyInsideConfig() {
    XCTAssertEqual(
      error(in: header + "plugins:\n  - name: a\n    config: {x: 1, y: 2, x: 3}\n"),
      "profiles/x.yaml:6:26: duplicate key 'x' (first at 6:14)")
  }

  func testUndefinedAlias() {
    XCTAssertEqual(
      error(in: header + "plugins:\n  - name: a\n    config: *missing\n"),
      "profiles/x.yaml:6:13: undefined alias '*missing' (no anchor '&missing' before it)")
  }

  func testAliasInsideItsOwnAnchor() {
    XCTAssertEqual(
      yamlError(in: "a: &loop [1, *loop]\n"),
      "x.yaml:1:14: alias '*loop' refers to a node that contains it")
  }

  func testAliasBomb() {
    /// Each level repeats the one before ten times: `levels` levels expand to about 10^(levels+1).
    func bomb(levels: Int) -> String {
      var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
      for level in 1...levels {
        text += "a\(level): &a\(level) ["
          + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
      }
      return text
    }
    XCTAssertNil(yamlError(in: bomb(levels: 4)))
    XCTAssertEqual(
      yamlError(in: bomb(levels: 5)), "x.yaml:6:45: aliases expand the document past 1000000 nodes")
  }

  func testNestingTooDeep() {
    let text = String(repeating: "[", count: 1001) + String(repeating: "]", count: 1001)
    XCTAssertEqual(yamlError(in: text), "x.yaml:1:1001: nested more than 1000 levels deep")
    XCTAssertNil(
      yamlError(in: String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)))
  }

  func testComplexKey() {
    XCTAssertEqual(
      yamlError(in: "? [a, b]\n: c\n"),
      "x.yaml:1:3: a mapping key must be a scalar, not a sequence")
  }

  func testSecondDocument() {
    XCTAssertEqual(
      error(in: header + "plugins: []\n---\nname: other\n"),
      "profiles/x.yaml:5:1: expected one YAML document, found a second one")
  }

  // MARK: - Profiles that break the schema

  func testUnknownTopLevelKey() {
    XCTAssertEqual(
      error(in: header + "plugin: []\n"),
      "profiles/x.yaml:4:1: unknown key 'plugin' in profile "
        + "(allowed: apiVersion, kind, name, description, pluginDirs, plugins, agent)")
  }

  func testUnknownPluginEntryKey() {
    XCTAssertEqual(
      error(in: header + "plugins:\n  - name: a\n  - name: b\n    confg: {}\n"),
      "profiles/x.yaml:7:5: unknown key 'confg' in plugin entry (allowed: name, path, config)")
  }

  func testMissingProfileName() {
    XCTAssertEqual(
      error(in: "apiVersion: skiff.dev/v1alpha1\nkind: Profile\nplugins: []\n"),
      "profiles/x.yaml:1:1: missing required key 'name' in profile")
  }

  func testMissingPluginName() {
    XCTAssertEqual(
      error(in: header + "plugins:\n  - name: a\n  - path: b.so\n"),
      "profiles/x.yaml:6:5: missing required key 'name' in plugin entry")
  }

  func testMissingPlugins() {
    XCTAssertEqual(
      error(in: header), "profiles/x.yaml:1:1: missing required key 'plugins' in profile")
  }

  func testNullName() {
    XCTAssertEqual(
      error(in: header + "plugins:\n  - name:\n"),
      "profiles/x.yaml:5:10: 'name' must be a string, not null")
  }

  func testBadAPIVersion() {
    XCTAssertEqual(
      error(in: "apiVersion: v1\nkind: Profile\nname: x\nplugins: []\n"),
      "profiles/x.yaml:1:13: unsupported apiVersion 'v1' (expected skiff.dev/v1alpha1)")
  }

  func testBadKind() {
    XCTAssertEqual(
      error(in: "apiVersion: skiff.dev/v1alpha1\nkind: Pod\nname: x\nplugins: []\n"),
      "profiles/x.yaml:2:7: unsupported kind 'Pod' (expected Profile)")
  }

  func testBadPluginNames() {
    let rule = "(use at most 63 lowercase letters, digits, '.', '_' and '-', "
      + "starting with a letter or digit)"
    for name in ["Scheduler", "-scheduler", "sched uler", "é", String(repeating: "a", count: 64)] {
      XCTAssertEqual(
        error(in: header + "plugins:\n  - name: '\(name)'\n"),
        "profiles/x.yaml:5:11: invalid plugin name '\(name)' \(rule)")
    }
    XCTAssertNil(error(in: header + "plugins:\n  - name: \(String(repeating: "a", count: 63))\n"))
    XCTAssertNil(error(in: header + "plugins:\n  - name: 0k8s.io_x-y\n"))
  }

  func testDuplicatePlugin() {
    XCTAssertEqual(
      error(in: header + "plugins:\n  - name: gpu\n  - name: net\n  - name: gpu\n"),
      "profiles/x.yaml:7:11: plugin 'gpu' is listed twice (first at 5:11)")
  }

  func testConfigMustBeAMapping() {
    XCTAssertEqual(
      error(in: header + "plugins:\n  - name: a\n    config: [x]\n"),
      "profiles/x.yaml:6:13: 'config' must be a mapping, not a sequence")
    XCTAssertEqual(
      error(in: header + "plugins:\n  - name: a\n    config: 3\n"),
      "profiles/x.yaml:6:13: 'config' must be a mapping, not a number")
  }

  func testPluginsMustBeASequenceOfMappings() {
    XCTAssertEqual(
      error(in: header + "plugins:\n  name: a\n"),
      "profiles/x.yaml:5:3: 'plugins' must be a sequence of mappings, not a mapping")
    XCTAssertEqual(
      error(in: header + "plugins:\n  - scheduler\n"),
      "profiles/x.yaml:5:5: 'plugins' must be a sequence of mappings; this entry is a string")
  }

  func testOtherWrongTypes() {
    XCTAssertEqual(
      error(in: "- a\n"), "profiles/x.yaml:1:1: a profile must be a mapping, not a sequence")
    XCTAssertEqual(
      error(in: header + "pluginDirs: plugins\nplugins: []\n"),
      "profiles/x.yaml:4:13: 'pluginDirs' must be a sequence of strings, not a string")
    XCTAssertEqual(
      error(in: header + "pluginDirs: [a, {b: c}]\nplugins: []\n"),
      "profiles/x.yaml:4:17: 'pluginDirs' must be a sequence of strings; this entry is a mapping")
    XCTAssertEqual(
      error(in: header + "description: [a]\nplugins: []\n"),
      "profiles/x.yaml:4:14: 'description' must be a string, not a sequence")
    XCTAssertEqual(
      error(in: header + "plugins:\n  - name: a\n    path: ''\n"),
      "profiles/x.yaml:6:11: 'path' must not be empty")
  }

  func testMissingFile() {
    let path = "/nonexistent/skiff/default.yaml"
    XCTAssertThrowsError(try Profile.load(path: path)) { error in
      let error = error as? ProfileError
      XCTAssertEqual(error?.description, "\(path): cannot read profile: No such file or directory")
      XCTAssertEqual(error?.mark, SourceMark(file: path, line: 0, column: 0))
    }
  }

  func testFolderIsNotAProfile() {
    XCTAssertThrowsError(try Profile.load(path: NSTemporaryDirectory())) { error in
      XCTAssertEqual((error as? ProfileError)?.message, "cannot read profile: Is a directory")
    }
  }
}
