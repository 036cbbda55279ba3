// swift-tools-version:6.0
// Skiff: a Kubernetes-compatible orchestrator built as a microkernel with C-ABI plugins.
import PackageDescription

/// A subsystem's plugin library: a target under Plugins/ (explicit path, since SwiftPM would treat
/// a folder named Plugins as package plugins) shipped as a dynamic library the kernel dlopen()s.
/// It depends on the ABI and the Swift helper only, never on the kernel.
func pluginLibrary(_ target: String, product: String, path: String) -> (Product, Target) {
  (.library(name: product, type: .dynamic, targets: [target]),
   .target(name: target, dependencies: ["SkiffABI", "PluginKit"], path: path))
}

let plugins = [
  pluginLibrary("SkiffScheduler", product: "skiff_scheduler", path: "Plugins/Scheduler"),
  pluginLibrary("SkiffRuntime", product: "skiff_runtime", path: "Plugins/Runtime"),
]

let package = Package(
  name: "skiff",
  products: [
    .executable(name: "skiff", targets: ["skiff"]),
    // A plugin written in Swift that the kernel tests load (services of every type, a filter).
    .library(name: "skiff_swifttest", type: .dynamic, targets: ["SwiftTestPlugin"]),
  ] + plugins.map(\.0),
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
  ],
  targets: [
    // The plugin ABI: include/skiff.h and nothing else.
    .target(name: "SkiffABI", path: "Sources/SkiffABI"),
    // System libraries, found by pkg-config.
    .systemLibrary(name: "CLibUV", path: "Sources/CLibUV", pkgConfig: "libuv",
                   providers: [.apt(["libuv1-dev"])]),
    .systemLibrary(name: "CLibYAML", path: "Sources/CLibYAML", pkgConfig: "yaml-0.1",
                   providers: [.apt(["libyaml-dev"])]),
    .systemLibrary(name: "CFFI", path: "Sources/CFFI", pkgConfig: "libffi",
                   providers: [.apt(["libffi-dev"])]),
    // The microkernel: loop, loader, profiles, host table, services.
    .target(name: "Kernel", dependencies: ["SkiffABI", "CLibUV", "CLibYAML", "CFFI"]),
    // Swift conveniences over skiff.h for plugin authors; linked into each plugin.
    .target(name: "PluginKit", dependencies: ["SkiffABI"]),
    .executableTarget(name: "skiff", dependencies: [
      "Kernel", .product(name: "ArgumentParser", package: "swift-argument-parser"),
    ]),
    .target(name: "SwiftTestPlugin", dependencies: ["SkiffABI", "PluginKit"],
            path: "Tests/Fixtures/SwiftTestPlugin"),

    // What tests share: C plugins built with cc, a kernel on a background loop, log capture.
    .target(name: "SkiffTestSupport", dependencies: ["Kernel"], path: "Tests/Support"),
    .testTarget(name: "SkiffABITests", dependencies: ["SkiffABI"], exclude: ["Layouts"]),
    .testTarget(name: "KernelTests", dependencies: ["Kernel", "SkiffTestSupport"]),
    .testTarget(name: "SkiffCLITests", dependencies: []),
    .testTarget(name: "SkiffRuntimeTests", dependencies: ["Kernel", "SkiffTestSupport"]),
  ] + plugins.map(\.1)
)
