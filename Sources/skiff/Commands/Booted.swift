// Shared start-up for commands: read a profile, load and start its plugins on a loop, and turn
// every failure into a one-line message and a non-zero exit.
import ArgumentParser
import Foundation
import Kernel

struct ProfileOption: ParsableArguments {
  @Option(name: .long, help: "The profile: which plugins to load and their configuration.")
  var profile: String = "profiles/default.yaml"

  @Option(name: .long, help: "Log level: debug, info, warn or error.")
  var logLevel: String = "warn"

  var level: LogLevel {
    ["debug": .debug, "info": .info, "warn": .warn, "error": .error][logLevel] ?? .warn
  }
}

/// Prints `message` to standard error and exits 1.
func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("skiff: \(message)\n".utf8))
  Foundation.exit(1)
}

enum Booted {
  /// Loads the profile's plugins; the caller starts them on the loop it runs.
  static func load(_ options: ProfileOption, loop: EventLoop) -> (Profile, Kernel) {
    let profile: Profile
    do throws(ProfileError) {
      profile = try Profile.load(path: options.profile)
    } catch {
      fail(error.description)
    }
    let kernel = Kernel(loop: loop, log: KernelLog(minimum: options.level))
    do throws(PluginLoadError) {
      try kernel.load(profile)
    } catch {
      fail(error.description)
    }
    return (profile, kernel)
  }

  /// Loads and starts the profile's plugins on a loop running on a background thread, runs `body`
  /// on the loop, then shuts everything down. For commands that do one thing and exit.
  static func withKernel<T>(_ options: ProfileOption, _ body: @escaping (Profile, Kernel) throws -> T) throws -> T {
    let loop = EventLoop()
    let (profile, kernel) = load(options, loop: loop)
    loop.runInBackground()
    defer {
      try? loop.submit { kernel.shutdown() }
      loop.stop()
    }
    do {
      try loop.submit { try kernel.start() }
    } catch let error as PluginLoadError {
      fail(error.description)
    }
    return try loop.submit { try body(profile, kernel) }
  }
}
