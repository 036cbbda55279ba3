// Shared start-up for commands: read a profile, load and start its plugins on a loop, and turn
// every failure into a one-line message and a non-zero exit.
import ArgumentParser
import FoundationEssentials
import Glibc
import Kernel
import SystemKit

struct ProfileOption: ParsableArguments {
  @Option(name: .long, help: "The profile: which plugins to load and their configuration.")
  var profile: String = "profiles/default.yaml"

  @Option(name: .long, help: "Log level: debug, info, warn or error.")
  var logLevel: String = "warn"

  @Option(name: .long, help: "Where plugins keep state (${dataDir} in a profile). Default: skiff-data for the server, a temporary folder for other commands.")
  var dataDir: String?

  var level: LogLevel {
    ["debug": .debug, "info": .info, "warn": .warn, "error": .error][logLevel] ?? .warn
  }
}

/// Prints `message` to standard error and exits 1.
func fail(_ message: String) -> Never {
  writeStandardError("skiff: \(message)\n")
  Glibc.exit(1)
}

enum Booted {
  /// Loads the profile's plugins, with `${dataDir}` set to `dataDir`; the caller starts them on
  /// the loop it runs.
  static func load(_ options: ProfileOption, dataDir: String, loop: EventLoop) -> (Profile, Kernel) {
    do {
      try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
    } catch {
      fail("cannot create data directory \(dataDir): \(describeError(error))")
    }
    let absolute = URL(fileURLWithPath: dataDir).standardizedFileURL.path
    let profile: Profile
    do throws(ProfileError) {
      profile = try Profile.load(path: options.profile)
    } catch {
      fail(error.description)
    }
    let kernel = Kernel(loop: loop, log: KernelLog(minimum: options.level))
    do throws(PluginLoadError) {
      try kernel.load(profile, variables: ["dataDir": absolute])
    } catch {
      fail(error.description)
    }
    return (profile, kernel)
  }

  /// Loads and starts the profile's plugins on a loop running on a background thread, runs `body`
  /// on the loop, then shuts everything down. For commands that do one thing and exit.
  static func withKernel<T>(_ options: ProfileOption, _ body: @escaping (Profile, Kernel) throws -> T) throws -> T {
    let scratch = options.dataDir == nil
      ? FileManager.default.temporaryDirectory.appendingPathComponent("skiff-\(getpid())").path : nil
    let loop = EventLoop()
    let (profile, kernel) = load(options, dataDir: options.dataDir ?? scratch!, loop: loop)
    loop.runInBackground()
    defer {
      try? loop.submit { kernel.shutdown() }
      loop.stop()
      if let scratch { try? FileManager.default.removeItem(atPath: scratch) }
    }
    do {
      try loop.submit { try kernel.start() }
    } catch let error as PluginLoadError {
      fail(error.description)
    }
    return try loop.submit { try body(profile, kernel) }
  }
}
