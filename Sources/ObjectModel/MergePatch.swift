// JSON Merge Patch (RFC 7386), `application/merge-patch+json`: what `kubectl label`, `annotate`
// and `scale` send. A patch mirrors the document: null deletes, objects merge, anything else
// (arrays included) replaces.

public enum MergePatch {
  /// Applies `patch` to `target`. It cannot fail: every JSON value is a valid merge patch.
  public static func apply(_ patch: JSON, to target: JSON) -> JSON {
    var result = target
    apply(patch, into: &result)
    return result
  }

  /// Applies `patch` in place, mutating only what the patch touches.
  public static func apply(_ patch: JSON, into target: inout JSON) {
    guard case .object(let patchMembers) = patch else {
      target = patch
      return
    }
    var object = target.takeObject()  // a non-object target becomes {} first, as RFC 7386 says
    for (key, value) in patchMembers {
      if value.isNull {
        object.removeValue(forKey: key)
      } else if value.objectValue == nil {
        object[key] = value
      } else {
        // Merging into a missing member starts from {}, which also drops the nulls in `value`.
        object.modifyValue(forKey: key, default: .object([:])) { member in
          apply(value, into: &member)
        }
      }
    }
    target = .object(object)
  }
}
