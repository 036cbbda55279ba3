// Kubernetes resource quantities ("500m", "2", "1.5Gi", "1e3") as the integers the scheduler
// compares: millicores for cpu, whole units (bytes, GPUs, pods) for everything else.

enum Quantity {
  /// The quantity in base units, or nil when it is not a quantity.
  static func value(_ text: String) -> Double? {
    let suffixes: [(String, Double)] = [
      ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776),
      ("Pi", 1_125_899_906_842_624), ("Ei", 1_152_921_504_606_846_976),
      ("n", 1e-9), ("u", 1e-6), ("m", 1e-3), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15),
      ("E", 1e18),
    ]
    for (suffix, factor) in suffixes where text.hasSuffix(suffix) {
      return Double(text.dropLast(suffix.count)).map { $0 * factor }
    }
    return Double(text)  // plain numbers and exponents ("1e3")
  }

  /// cpu in millicores, rounding up as Kubernetes does.
  static func milli(_ text: String?) -> Int64 {
    guard let text, let value = value(text) else { return 0 }
    return Int64((value * 1000).rounded(.up))
  }

  /// Whole units (bytes, devices), rounding up.
  static func units(_ text: String?) -> Int64 {
    guard let text, let value = value(text) else { return 0 }
    return Int64(value.rounded(.up))
  }
}
