// `skiff call`: call a plugin's service by name, for debugging plugins.
import ArgumentParser
import Kernel

struct Call: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Call a service a plugin published, converting arguments by its signature.")

  @OptionGroup var options: ProfileOption

  @Argument(help: "The service's name, e.g. swifttest.add.")
  var name: String

  @Argument(parsing: .allUnrecognized, help: "Arguments, converted by the service's signature.")
  var arguments: [String] = []

  func run() throws {
    let result = try Booted.withKernel(options) { _, kernel -> String in
      do throws(ServiceError) {
        return try kernel.services.call(name, parsing: arguments).description
      } catch {
        fail(error.description)
      }
    }
    print(result)
  }
}
