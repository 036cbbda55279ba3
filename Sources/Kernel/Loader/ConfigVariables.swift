// `${name}` in a plugin's configuration stands for a value only known when the process starts,
// such as the data directory given on the command line, so one profile serves every machine.

enum ConfigVariables {
  struct Problem: Error { let message: String }

  /// Replaces each `${name}` in `json` (where it can only occur inside strings) with the
  /// JSON-escaped value. An unknown name is an error rather than a literal path.
  static func expand(_ json: String, _ variables: [String: String]) -> Result<String, Problem> {
    var output = ""
    var rest = Substring(json)
    while let start = rest.firstRange(of: "${") {
      output += rest[..<start.lowerBound]
      guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
        return .failure(Problem(message: "unterminated '${' in config"))
      }
      let name = String(rest[start.upperBound..<end])
      guard let value = variables[name] else {
        let known = variables.keys.sorted().map { "${\($0)}" }.joined(separator: ", ")
        return .failure(Problem(message: "config refers to ${\(name)}, which is not defined "
          + "(defined: \(known.isEmpty ? "none" : known))"))
      }
      output += escaped(value)
      rest = rest[rest.index(after: end)...]
    }
    return .success(output + rest)
  }

  private static func escaped(_ value: String) -> String {
    var text = ""
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\"": text += "\\\""
      case "\\": text += "\\\\"
      case _ where scalar.value < 0x20:
        text += "\\u00" + String(scalar.value, radix: 16).leftPadded(to: 2)
      default: text.unicodeScalars.append(scalar)
      }
    }
    return text
  }
}

private extension String {
  func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
