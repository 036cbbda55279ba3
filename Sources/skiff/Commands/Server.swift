// `skiff server`: run the kernel with a profile's plugins until SIGINT or SIGTERM.
import ArgumentParser
import Foundation
import Kernel

struct Server: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run Skiff with a profile's plugins until interrupted.")

  @OptionGroup var options: ProfileOption

  func run() throws {
    let dataDir = options.dataDir ?? "skiff-data"
    let loop = EventLoop()
    let (profile, kernel) = Booted.load(options, dataDir: dataDir, loop: loop)
    loop.execute {
      do throws(PluginLoadError) {
        try kernel.start()
      } catch {
        fail(error.description)
      }
      kernel.stopOnSignals()
      // Unbuffered, so that whoever started the server sees it the moment it is ready.
      let ready = "skiff: ready: profile \(profile.name), \(kernel.plugins.count) plugins, data in \(dataDir)\n"
      FileHandle.standardOutput.write(Data(ready.utf8))
    }
    loop.run()
  }
}
