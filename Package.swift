// swift-tools-version:6.0
// Skiff: a Kubernetes-compatible orchestrator built as a microkernel with C-ABI plugins.
import PackageDescription

/// A subsystem's plugin library: a target under Plugins/ (explicit path, since SwiftPM would treat
/// a folder named Plugins as package plugins) shipped as a dynamic library the kernel dlopen()s.
/// It depends on the ABI and the Swift helper only, never on the kernel.
func pluginLibrary(_ target: String, product: String, path: String,
                   uses: [Target.Dependency] = []) -> (Product, Target) {
  (.library(name: product, type: .dynamic, targets: [target]),
    .target(name: target, dependencies: ["SkiffABI", "PluginKit", "SystemKit"] + uses, path: path))
}

let plugins = [
  pluginLibrary("SkiffScheduler", product: "skiff_scheduler", path: "Plugins/Scheduler"),
  // zlib: the image store inflates gzip'd layers; OpenSSL: it pulls from HTTPS registries.
  pluginLibrary("SkiffRuntime", product: "skiff_runtime", path: "Plugins/Runtime", uses: ["CZlib", "COpenSSL"]),
  pluginLibrary("SkiffNetwork", product: "skiff_network", path: "Plugins/Network"),
  pluginLibrary("SkiffStorage", product: "skiff_storage", path: "Plugins/Storage"),
  pluginLibrary("SkiffGPU", product: "skiff_gpu", path: "Plugins/GPU"),
  pluginLibrary("SkiffAutoscale", product: "skiff_autoscale", path: "Plugins/Autoscale"),
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
    .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                   providers: [.apt(["libsqlite3-dev"])]),
    .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                   providers: [.apt(["zlib1g-dev"])]),
    .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl",
                   providers: [.apt(["libssl-dev"])]),
    // No pkg-config file ships with http-parser: the module map links it by name.
    .systemLibrary(name: "CHTTPParser", path: "Sources/CHTTPParser",
                   providers: [.apt(["libhttp-parser-dev"])]),
    // The microkernel: loop, loader, profiles, host table, services.
    .target(name: "Kernel", dependencies: ["SkiffABI", "CLibUV", "CLibYAML", "CFFI", "SystemKit"]),
    // Threads, locks and text helpers over POSIX, so that nothing shipped needs full Foundation.
    .target(name: "SystemKit"),
    // Swift conveniences over skiff.h for plugin authors; linked into each plugin.
    .target(name: "PluginKit", dependencies: ["SkiffABI", "SystemKit"]),
    // HTTP/1.1 server on the kernel's loop, for the Kubernetes API server.
    .target(name: "HTTP", dependencies: ["Kernel", "CLibUV", "CHTTPParser", "CZlib"]),
    // Kubernetes objects as JSON documents, and the three patch formats; no Foundation, no deps.
    .target(name: "ObjectModel"),
    // The scheduling framework: queue, snapshot of C structs, cycle, binding; policy in plugins.
    .target(name: "Scheduling", dependencies: ["Kernel", "Store", "ObjectModel", "SkiffABI", "SystemKit"]),
    // The Kubernetes API: REST on the HTTP server, objects in the store.
    .target(name: "APIServer", dependencies: ["Kernel", "HTTP", "Store", "ObjectModel", "SystemKit"]),
    // The node agent (kubelet's role): runs the pods bound to its node through a runtime plugin.
    .target(name: "NodeAgent", dependencies: ["Kernel", "HTTP", "ObjectModel", "SkiffABI", "SystemKit"]),
    .executableTarget(name: "skiff", dependencies: [
      "Kernel", "APIServer", "HTTP", "Scheduling", "Store", "ObjectModel", "NodeAgent", "SystemKit",
      .product(name: "ArgumentParser", package: "swift-argument-parser"),
    ]),
    // The revisioned key-value store behind the API (etcd's shape, SQLite underneath).
    .target(name: "Store", dependencies: ["CSQLite", "Kernel", "SystemKit"]),
    .target(name: "SwiftTestPlugin", dependencies: ["SkiffABI", "PluginKit"],
            path: "Tests/Fixtures/SwiftTestPlugin"),

    // What tests share: C plugins built with cc, a kernel on a background loop, log capture.
    .target(name: "SkiffTestSupport", dependencies: ["Kernel"], path: "Tests/Support"),
    .testTarget(name: "SkiffABITests", dependencies: ["SkiffABI", "SkiffTestSupport"], exclude: ["Layouts"]),
    .testTarget(name: "KernelTests", dependencies: ["Kernel", "SkiffTestSupport"]),
    .testTarget(name: "SkiffCLITests", dependencies: ["SkiffTestSupport"]),
    .testTarget(name: "SkiffRuntimeTests", dependencies: ["Kernel", "SkiffTestSupport"]),
    .testTarget(name: "SkiffNetworkTests", dependencies: ["Kernel", "SkiffTestSupport"]),
    .testTarget(name: "SkiffStorageTests", dependencies: ["Kernel", "SkiffTestSupport"]),
    .testTarget(name: "StoreTests", dependencies: ["Store", "SkiffTestSupport"]),
    // Writes to a store until killed; the crash test runs it and checks what survived.
    .executableTarget(name: "store-torture", dependencies: ["Store", "Kernel"],
                      path: "Tests/Tools/StoreTorture"),
    .testTarget(name: "NodeAgentTests", dependencies: ["SkiffTestSupport"]),
    .testTarget(name: "SkiffSchedulerTests", dependencies: ["Kernel", "SkiffTestSupport"]),
    .testTarget(name: "SkiffGPUTests", dependencies: ["Kernel", "SkiffTestSupport"]),
    .testTarget(name: "SkiffAutoscaleTests", dependencies: ["Kernel", "SkiffTestSupport"]),
    .testTarget(name: "HTTPTests", dependencies: ["HTTP", "SkiffTestSupport"]),
    .testTarget(name: "ObjectModelTests", dependencies: ["ObjectModel"]),
    .testTarget(name: "SchedulingTests", dependencies: ["Scheduling", "SkiffTestSupport"]),
    .testTarget(name: "APIServerTests", dependencies: ["APIServer", "ObjectModel", "SkiffTestSupport"],
                exclude: ["Clients", "Fixtures"]),
  ] + plugins.map(\.1)
)
