// `skiff server`: the all-in-one server. The kernel with a profile's plugins, the revisioned
// store in the data directory, and the Kubernetes API on --listen, until SIGINT or SIGTERM.
import APIServer
import ArgumentParser
import FoundationEssentials
import Glibc
import Kernel
import NodeAgent
import Scheduling
import Store
import SystemKit

struct Server: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run Skiff: the Kubernetes API and a profile's plugins, until interrupted.")

  @OptionGroup var options: ProfileOption

  @Option(help: "Where the API listens, host:port.")
  var listen: String = "127.0.0.1:6443"

  @Option(help: "Seconds between compactions of the store's history (as kube-apiserver's --etcd-compaction-interval).")
  var compactionInterval: Int = 300

  @Option(help: "Revisions of history kept at each compaction; watches from older revisions get 410 Gone.")
  var compactionRetain: Int64 = 100_000

  func run() throws {
    let dataDir = URL(fileURLWithPath: options.dataDir ?? "skiff-data").standardizedFileURL.path
    guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
      fail("--listen must be host:port, not \(listen)")
    }
    let host = String(listen[..<colon]).trimming(while: { $0 == "[" || $0 == "]" })
    let loop = EventLoop()
    let (profile, kernel) = Booted.load(options, dataDir: dataDir, loop: loop)
    // Where start-up time goes (--log-level debug): each phase's milliseconds since the last.
    var phaseStart = monotonicNanoseconds()
    func phaseDone(_ phase: String) {
      let now = monotonicNanoseconds()
      kernel.log.write(.debug, "server", "start-up: \(phase) in "
                       + String(cFormat: "%.1f ms", Double(now - phaseStart) / 1e6))
      phaseStart = now
    }
    let store: SQLiteStore
    do {
      store = try SQLiteStore(path: dataDir + "/store.db", loop: loop)
    } catch {
      fail("cannot open the store in \(dataDir): \(error)")
    }
    phaseDone("store loaded at revision \(store.currentRevision)")
    let api = APIServer(loop: loop, store: store, log: kernel.log)
    // Plugins' counters and gauges (host->counter_add / gauge_set) on the API's /metrics.
    api.metricsSources.append { kernel.metrics.exposition() }
    let outcomes = SchedulingThroughAPI(api)
    var scheduler: Scheduler?
    var agent: NodeAgent?
    loop.execute {
      do throws(PluginLoadError) {
        try kernel.start()
      } catch {
        fail(error.description)
      }
      store.autoCompact(every: .seconds(compactionInterval), retain: compactionRetain)
      // Before anything can print "ready": a signal right after it must find the handlers.
      kernel.stopOnSignals {
        scheduler?.stop()
        agent?.stop()
        api.stop()
        store.close()
      }
      phaseDone("kernel started")
      api.start(host: host, port: port) { result in
        switch result {
        case .failure(let error):
          fail("cannot serve the API on \(listen): \(error)")
        case .success(let bound):
          phaseDone("API server indexed the store and listens")
          // Pods are scheduled when the profile loads scheduler plugins.
          if !kernel.extensions.schedulers.isEmpty {
            do {
              scheduler = try Scheduler(kernel: kernel, store: store, outcomes: outcomes,
                                        config: kernel.plugins.first { $0.name == "scheduler" }?.config)
              try scheduler?.start()
              api.metricsSources.append { scheduler?.metricsText() ?? "" }
              api.schedulerExplanation = { scheduler?.explanation(namespace: $0, name: $1) }
            } catch {
              fail("cannot start the scheduler: \(error)")
            }
            phaseDone("scheduler loaded nodes and pods")
          }
          // The all-in-one server is also a node when its profile says how the agent runs.
          if let section = profile.agent {
            do {
              let settings = try AgentSettings(section, dataDir: dataDir)
              agent = try NodeAgent(settings: settings, kernel: kernel,
                                    server: APIAddress("http://\(host == "0.0.0.0" ? "127.0.0.1" : host):\(bound)"))
              try agent?.start()
            } catch {
              fail("cannot start the node agent: \(error)")
            }
          }
          let kubeconfig = dataDir + "/kubeconfig"
          let url = "http://\(api.address)"
          do {
            try Kubeconfig.text(server: url).write(toFile: kubeconfig, atomically: true, encoding: .utf8)
          } catch {
            fail("cannot write \(kubeconfig): \(describeError(error))")
          }
          // Unbuffered, so that whoever started the server sees it the moment it is ready.
          let ready = "skiff: ready: API on \(url) (port \(bound)), profile \(profile.name), "
            + "\(kernel.plugins.count) plugins, data in \(dataDir)\n"
            + "skiff: export KUBECONFIG=\(kubeconfig); kubectl get namespaces\n"
          writeStandardOutput(ready)
          // Loading parsed every stored object; what that freed goes back now, not at exit.
          releaseFreedHeap()
          phaseDone("kubeconfig and ready line written, freed heap returned")
        }
      }
    }
    loop.run()
  }
}

enum Kubeconfig {
  static func text(server: String) -> String {
    """
    apiVersion: v1
    kind: Config
    clusters:
    - name: skiff
      cluster:
        server: \(server)
    contexts:
    - name: skiff
      context:
        cluster: skiff
        user: skiff
        namespace: default
    current-context: skiff
    users:
    - name: skiff
      user: {}

    """
  }
}
