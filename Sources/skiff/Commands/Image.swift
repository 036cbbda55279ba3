// `skiff image`: the node's images, through the runtime plugin's image slots as the node agent
// calls them: import an archive, pull from a registry (progress on standard error), list.
import ArgumentParser
import Dispatch
import FoundationEssentials
import Glibc
import Kernel
import SkiffABI

struct Image: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Import, pull and list the images of a runtime plugin (the oci runtime by default).",
    subcommands: [Import.self, Pull.self, List.self])

  struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Import an OCI image layout (folder or tarball) or a docker save tarball.")
    @OptionGroup var options: ImageOptions
    @Argument(help: "The archive: an OCI layout folder, its tarball, or a docker save tarball.")
    var file: String

    func run() throws {
      var info = stat()
      guard stat(file, &info) == 0 else { fail("\(file): \(String(cString: strerror(errno)))") }
      let absolute = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
      let transport = info.st_mode & S_IFMT == S_IFDIR ? "oci:" : "oci-archive:"
      let result = options.decode(PulledImage.self, options.call(pull: transport + absolute))
      print("imported \(result.imageRef) \((result.repoTags ?? []).joined(separator: " "))")
    }
  }

  struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Pull an image from its registry (or a mirror the profile configures), printing progress.")
    @OptionGroup var options: ImageOptions
    @Argument(help: "The image, e.g. registry.example:5000/team/app:v1.")
    var reference: String

    func run() throws {
      var options = options
      // Progress lines are the runtime's info messages.
      if options.profile.logLevel == "warn" { options.profile.logLevel = "info" }
      let result = options.decode(PulledImage.self, options.call(pull: reference))
      print("pulled \(result.imageRef) \((result.repoTags ?? []).joined(separator: " "))")
    }
  }

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the images.")
    @OptionGroup var options: ImageOptions

    func run() throws {
      struct Images: Decodable {
        struct Entry: Decodable {
          var id: String
          var repoTags: [String]?
          var size: Int64?
        }
        var images: [Entry]
      }
      let images = options.decode(Images.self, options.call { $0.image_list($0.`self`, $1) }).images
      print("IMAGE ID       TAGS" + String(repeating: " ", count: 40) + "SIZE")
      for image in images {
        let tags = (image.repoTags ?? []).joined(separator: ",")
        print("\(image.id.dropFirst("sha256:".count).prefix(12))   \(tags.isEmpty ? "<none>" : tags)"
          + "\(String(repeating: " ", count: max(1, 44 - tags.count)))\((image.size ?? 0) / 1024) KiB")
      }
    }
  }
}

/// image_pull's result.
private struct PulledImage: Decodable {
  var imageRef: String
  var repoTags: [String]?
}

struct ImageOptions: ParsableArguments {
  @OptionGroup var profile: ProfileOption
  @Option(help: "The runtime whose images these are.")
  var runtime: String = "oci"

  func decode<T: Decodable>(_ type: T.Type, _ json: String) -> T {
    guard let value = try? JSONDecoder().decode(type, from: Data(json.utf8)) else {
      fail("the \(runtime) runtime answered something unexpected: \(json)")
    }
    return value
  }

  func call(pull reference: String) -> String {
    let request = String(decoding: try! JSONEncoder().encode(["image": reference]), as: UTF8.self)
    return call { vtable, done in
      request.withCString { vtable.image_pull(vtable.`self`, $0, strlen($0), done) }
    }
  }

  /// Loads the profile, starts its plugins, calls one slot of the runtime on the loop and waits
  /// off the loop for its completion (which the loop itself may have to deliver).
  func call(_ slot: @escaping (skiff_runtime_plugin, skiff_done) -> skiff_status) -> String {
    let loop = EventLoop()
    let scratch = profile.dataDir == nil ? "/tmp/skiff-image-\(getpid())" : nil
    let (_, kernel) = Booted.load(profile, dataDir: profile.dataDir ?? scratch!, loop: loop)
    loop.runInBackground()
    defer {
      try? loop.submit { kernel.shutdown() }
      loop.stop()
      if let scratch { try? FileManager.default.removeItem(atPath: scratch) }
    }
    do {
      try loop.submit { try kernel.start() }
    } catch {
      fail("\(error)")
    }
    let completion = SlotCompletion()
    let status: skiff_status
    do {
      status = try loop.submit { () -> skiff_status in
        guard let runtime = kernel.extensions.runtime(named: runtime) else { return SKIFF_NOT_FOUND }
        return slot(runtime.vtable.pointee, completion.done)
      }
    } catch {
      fail("\(error)")
    }
    if status == SKIFF_NOT_FOUND { fail("the profile \(profile.profile) registers no runtime named \(runtime)") }
    guard status == SKIFF_OK else { fail("the \(runtime) runtime refused the call (status \(status.rawValue))") }
    let (result, json) = completion.wait()
    struct Failure: Decodable { var message: String }
    guard result == SKIFF_OK else { fail((try? JSONDecoder().decode(Failure.self, from: Data(json.utf8)))?.message ?? json) }
    return json
  }
}

/// A skiff_done that a thread off the loop waits on.
private final class SlotCompletion: @unchecked Sendable {
  private let arrived = DispatchSemaphore(value: 0)
  private var result: (skiff_status, String) = (SKIFF_ERROR, "")

  var done: skiff_done {
    skiff_done(fn: { token, status, json, length in
      let me = Unmanaged<SlotCompletion>.fromOpaque(token!).takeUnretainedValue()
      me.result = (status, json.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: length), as: UTF8.self) } ?? "")
      me.arrived.signal()
    }, token: Unmanaged.passUnretained(self).toOpaque())
  }

  func wait() -> (skiff_status, String) {
    arrived.wait()
    return result
  }
}
