// The devices this node has, their health, and who is watching it. Any thread may read it or
// change health; watchers always hear about changes on the loop, one full list per change.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI
import SystemKit

final class DeviceInventory: @unchecked Sendable {
  private struct Watcher {
    let changed: skiff_bytes_cb
    let arg: UnsafeMutableRawPointer?
  }

  // Everything below is guarded by `lock`.
  private let lock = Lock()
  private var devices: [GPUDevice] = []
  private var watchers: [UInt: Watcher] = [:]
  private var lastWatcher: UInt = 0
  /// False outside start…stop: the kernel context is gone then, so nothing may be posted to it.
  private var running = false

  /// Called from `start`: the backend's devices, no watchers yet.
  func open(_ discovered: [GPUDevice]) {
    lock.withLock {
      devices = discovered
      watchers.removeAll()
      running = true
    }
  }

  /// Called from `stop`: forgets watchers and stops announcing.
  func close() {
    lock.withLock {
      watchers.removeAll()
      running = false
    }
  }

  var snapshot: [GPUDevice] { lock.withLock { devices } }

  var listJSON: String { snapshot.listJSON }

  /// Sets devices' health; unknown ids are ignored. Announces to watchers when anything changed
  /// and returns the ids that changed.
  @discardableResult
  func setHealth(_ health: [String: Bool]) -> [String] {
    lock.withLock {
      var changed: [String] = []
      for index in devices.indices {
        if let healthy = health[devices[index].id], healthy != devices[index].healthy {
          devices[index].healthy = healthy
          changed.append(devices[index].id)
        }
      }
      if !changed.isEmpty && running { announce() }
      return changed
    }
  }

  func contains(_ id: String) -> Bool { lock.withLock { devices.contains { $0.id == id } } }

  /// Registers a watcher; the returned id is its handle (never 0).
  func watch(_ changed: @escaping skiff_bytes_cb, _ arg: UnsafeMutableRawPointer?) -> UInt {
    lock.withLock {
      lastWatcher += 1
      watchers[lastWatcher] = Watcher(changed: changed, arg: arg)
      return lastWatcher
    }
  }

  func unwatch(_ id: UInt) {
    _ = lock.withLock { watchers.removeValue(forKey: id) }
  }

  /// Delivery goes through the loop so that watchers see changes in order, and the list they get
  /// is read at delivery time: a burst of flips ends with the true state, never a stale one.
  /// Caller holds `lock` (host->post only queues, it never calls back).
  private func announce() {
    let box = Unmanaged.passRetained(self).toOpaque()
    let status = PluginHost.table.pointee.post!(PluginHost.context, { box in
      let inventory = Unmanaged<DeviceInventory>.fromOpaque(box!).takeRetainedValue()
      let (watchers, list) = inventory.lock.withLock {
        (Array(inventory.watchers.values), inventory.devices.listJSON)
      }
      for watcher in watchers { send(list, to: watcher.changed, watcher.arg) }
    }, box)
    if status != SKIFF_OK { Unmanaged<DeviceInventory>.fromOpaque(box).release() }
  }
}
