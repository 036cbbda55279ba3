// The `skiff_host` table handed to every plugin: C entry points that find the calling plugin's
// context and forward to the kernel. Built once; its address never changes.
import FoundationEssentials
import Glibc
import SkiffABI

enum HostTable {
  nonisolated(unsafe) static let shared: UnsafePointer<skiff_host> = {
    let table = UnsafeMutablePointer<skiff_host>.allocate(capacity: 1)
    table.initialize(to: make())
    return UnsafePointer(table)
  }()

  // swiftlint:disable:next function_body_length
  private static func make() -> skiff_host {
    var host = skiff_host()
    host.abi_version = SKIFF_ABI_VERSION
    host.struct_size = UInt32(MemoryLayout<skiff_host>.size)

    host.log = { ctx, level, message in
      let text = text(message) ?? ""
      let level = LogLevel(rawValue: Int(level.rawValue)) ?? .info
      guard let context = PluginContext.from(ctx) else {
        // Only skiff_plugin_init logs without a context.
        KernelLogRouter.current?.write(level, "plugin", text)
        return
      }
      if level >= .warn { context.lastProblem = text }
      context.kernel.log.write(level, context.name, text)
    }
    host.counter_add = { ctx, name, delta in
      withContext(ctx, ()) { $0.kernel.metrics.add("\($0.name)_\(text(name) ?? "")", delta) }
    }
    host.gauge_set = { ctx, name, value in
      withContext(ctx, ()) { $0.kernel.metrics.set("\($0.name)_\(text(name) ?? "")", value) }
    }

    host.timer_start = { ctx, delay, repeating, callback, arg in
      withContext(ctx, nil) { context in
        guard let callback, context.kernel.loop.inEventLoop else { return nil }
        let id = HandleID.next()
        let handle = OpaquePointer(bitPattern: id)
        let argument = Pointer(raw: arg)
        let timer = context.kernel.loop.scheduleTimer(after: delay, repeating: repeating) { timer in
          if repeating == 0 { context.timers[id] = nil }
          callback(handle, argument.raw)
        }
        context.timers[id] = timer
        return handle
      }
    }
    host.timer_stop = { ctx, timer in
      withContext(ctx, ()) { context in
        guard let timer else { return }
        context.timers.removeValue(forKey: UInt(bitPattern: timer))?.close()
      }
    }

    host.queue_work = { ctx, work, after, arg in
      withContext(ctx, SKIFF_INVALID) { context in
        guard let work else { return SKIFF_INVALID }
        let argument = Pointer(raw: arg)
        context.kernel.loop.queueWork({ work(argument.raw) }, then: { after?(argument.raw) })
        return SKIFF_OK
      }
    }
    host.post = { ctx, callback, arg in
      withContext(ctx, SKIFF_INVALID) { context in
        guard let callback else { return SKIFF_INVALID }
        let argument = Pointer(raw: arg)
        context.kernel.loop.execute { callback(argument.raw) }
        return SKIFF_OK
      }
    }
    host.on_loop = { ctx in
      withContext(ctx, 0) { $0.kernel.loop.inEventLoop ? 1 : 0 }
    }

    host.object_get = { ctx, resource, namespace, name, out, arg in
      withContext(ctx, SKIFF_INVALID) { context in
        guard let resource = text(resource), let name = text(name) else { return SKIFF_INVALID }
        guard let object = context.kernel.objects.get(resource, namespace: text(namespace) ?? "",
                                                      name: name)
        else { return SKIFF_NOT_FOUND }
        send(object.json, to: out, arg)
        return SKIFF_OK
      }
    }
    host.object_put = { ctx, resource, namespace, name, json, length, expected, revision in
      withContext(ctx, SKIFF_INVALID) { context in
        guard let resource = text(resource), let name = text(name), let json else {
          return SKIFF_INVALID
        }
        let document = text(json, length)
        switch context.kernel.objects.put(resource, namespace: text(namespace) ?? "", name: name,
                                          json: document, expectedRevision: expected) {
        case .success(let stored):
          revision?.pointee = stored
          return SKIFF_OK
        case .failure(.notFound): return SKIFF_NOT_FOUND
        case .failure(.conflict): return SKIFF_CONFLICT
        }
      }
    }
    host.object_delete = { ctx, resource, namespace, name in
      withContext(ctx, SKIFF_INVALID) { context in
        guard let resource = text(resource), let name = text(name) else { return SKIFF_INVALID }
        switch context.kernel.objects.delete(resource, namespace: text(namespace) ?? "", name: name) {
        case .success: return SKIFF_OK
        case .failure(.notFound): return SKIFF_NOT_FOUND
        case .failure(.conflict): return SKIFF_CONFLICT
        }
      }
    }
    host.object_list = { ctx, resource, namespace, out, arg in
      withContext(ctx, SKIFF_INVALID) { context in
        guard let resource = text(resource) else { return SKIFF_INVALID }
        for object in context.kernel.objects.list(resource, namespace: text(namespace)) {
          send(object.json, to: out, arg)
        }
        return SKIFF_OK
      }
    }
    host.object_watch = { ctx, resource, callback, arg, watch in
      withContext(ctx, SKIFF_INVALID) { context in
        guard let resource = text(resource), let callback else { return SKIFF_INVALID }
        let argument = Pointer(raw: arg)
        let objects = context.kernel.objects
        let token = objects.watch(resource) { change, object in
          deliver(change.rawValue, object.json, to: callback, argument)
        }
        watch?.pointee = context.keep { objects.cancelWatch(token) }
        return SKIFF_OK
      }
    }
    host.unwatch = { ctx, watch in
      withContext(ctx, ()) { context in
        guard let watch else { return }
        context.watches.removeValue(forKey: UInt(bitPattern: watch))?()
      }
    }

    host.event_publish = { ctx, topic, json, length in
      withContext(ctx, SKIFF_INVALID) { context in
        guard let topic = text(topic), let json else { return SKIFF_INVALID }
        context.kernel.events.publish(topic, text(json, length))
        return SKIFF_OK
      }
    }
    host.event_subscribe = { ctx, topic, callback, arg, subscription in
      withContext(ctx, SKIFF_INVALID) { context in
        guard let topic = text(topic), let callback else { return SKIFF_INVALID }
        let argument = Pointer(raw: arg)
        let events = context.kernel.events
        let token = events.subscribe(topic) { topic, payload in
          deliver(topic, payload, to: callback, argument)
        }
        subscription?.pointee = context.keep { events.unsubscribe(token) }
        return SKIFF_OK
      }
    }

    host.config = { ctx, length in
      withContext(ctx, nil) { context in
        length?.pointee = context.configLength
        return UnsafePointer(context.config)
      }
    }

    host.service_register = { ctx, name, signature, function in
      withContext(ctx, SKIFF_INVALID) { context in
        guard context.registering, let name = text(name), let signature = text(signature),
              let function else { return SKIFF_INVALID }
        do throws(ServiceError) {
          try context.kernel.services.register(name: name, signature: signature, function: function,
                                               owner: context.name)
          return SKIFF_OK
        } catch {
          context.kernel.log.write(.error, context.name, error.description)
          return skiff_status(rawValue: UInt32(error.status.rawValue))
        }
      }
    }
    host.service_call = { ctx, name, result, arguments in
      withContext(ctx, SKIFF_INVALID) { context in
        guard let name = text(name) else { return SKIFF_INVALID }
        let status = context.kernel.services.call(name, result: result, arguments: arguments)
        return skiff_status(rawValue: UInt32(status.rawValue))
      }
    }
    host.service_lookup = { ctx, name, signature, function in
      withContext(ctx, SKIFF_INVALID) { context in
        guard let name = text(name) else { return SKIFF_INVALID }
        guard let service = context.kernel.services.lookup(name) else { return SKIFF_NOT_FOUND }
        signature?.pointee = service.signatureCString
        function?.pointee = service.function
        return SKIFF_OK
      }
    }

    host.intern = { ctx, text in
      withContext(ctx, 0) { context in
        guard let text else { return 0 }
        return context.kernel.strings.intern(String(cString: text))
      }
    }
    host.string = { ctx, id in
      withContext(ctx, nil) { $0.kernel.strings.cString(id) }
    }

    host.register_scheduler = { ctx, vtable in registration(ctx, vtable, \.schedulers) }
    host.register_runtime = { ctx, vtable in registration(ctx, vtable, \.runtimes) }
    host.register_network = { ctx, vtable in registration(ctx, vtable, \.networks) }
    host.register_storage = { ctx, vtable in registration(ctx, vtable, \.storages) }
    host.register_device = { ctx, vtable in registration(ctx, vtable, \.devices) }
    host.register_autoscaler = { ctx, vtable in registration(ctx, vtable, \.autoscalers) }

    host.set_reason = { cycle, reason in
      SchedulingCycle.from(cycle)?.addReason(reason)
    }
    host.cycle_set = { cycle, data, release in
      SchedulingCycle.from(cycle)?.setState(data, release: release)
    }
    host.cycle_get = { cycle in
      SchedulingCycle.from(cycle)?.getState()
    }
    host.cycle_nodes = { cycle, nodes, count in
      guard let cycle = SchedulingCycle.from(cycle) else { return SKIFF_INVALID }
      nodes?.pointee = cycle.nodes
      count?.pointee = cycle.nodeCount
      return SKIFF_OK
    }
    host.cycle_changed_nodes = { cycle, since, positions, count in
      guard let cycle = SchedulingCycle.from(cycle), let since else { return SKIFF_INVALID }
      let changes = cycle.nodeChanges?.changes(after: since.pointee)
      since.pointee = cycle.nodeChanges?.end ?? 0
      positions?.pointee = changes?.baseAddress
      count?.pointee = UInt32(changes?.count ?? 0)
      return changes == nil ? SKIFF_SKIP : SKIFF_OK
    }
    host.cycle_reject_nodes = { cycle, positions, count, status, reason in
      guard let cycle = SchedulingCycle.from(cycle), status != SKIFF_OK else { return SKIFF_INVALID }
      let listed = Array(UnsafeBufferPointer(start: positions, count: positions == nil ? 0 : Int(count)))
      cycle.preRejections.append((cycle.currentPlugin, status, text(reason) ?? "", listed))
      return SKIFF_OK
    }
    host.cycle_filter_without = { cycle, pod, node, without, count in
      guard let cycle = SchedulingCycle.from(cycle), let check = cycle.filterWithout, let pod, let node else {
        return SKIFF_INVALID
      }
      return check(pod, node, Array(UnsafeBufferPointer(start: without, count: Int(count))))
    }
    host.cycle_preempt = { cycle, victims, count in
      guard let cycle = SchedulingCycle.from(cycle), let preempt = cycle.preempt else { return SKIFF_INVALID }
      return preempt(Array(UnsafeBufferPointer(start: victims, count: Int(count))))
    }
    host.cycle_disruption_budgets = { cycle, budgets, count in
      guard let cycle = SchedulingCycle.from(cycle) else { return SKIFF_INVALID }
      budgets?.pointee = cycle.disruptionBudgets.baseAddress
      count?.pointee = UInt32(cycle.disruptionBudgets.count)
      return SKIFF_OK
    }
    host.cycle_bind = { cycle, pod, node in
      guard let cycle = SchedulingCycle.from(cycle), let bind = cycle.bind, let pod, let node else { return SKIFF_INVALID }
      return bind(pod, node)
    }
    host.permit_allow = { ctx, pod, plugin in
      withContext(ctx, SKIFF_INVALID) { context in
        let name = text(plugin) ?? context.name
        return onLoop(context) { context.kernel.permits?.allow(pod: pod, plugin: name) ?? SKIFF_NOT_FOUND }
      }
    }
    host.permit_reject = { ctx, pod, reason in
      withContext(ctx, SKIFF_INVALID) { context in
        let why = text(reason) ?? "rejected by \(context.name)"
        return onLoop(context) { context.kernel.permits?.reject(pod: pod, reason: why) ?? SKIFF_NOT_FOUND }
      }
    }
    return host
  }
}

/// The log that context-free calls (a plugin logging from skiff_plugin_init) go to: the log of the
/// kernel currently loading plugins.
enum KernelLogRouter {
  nonisolated(unsafe) static var current: KernelLog?
}

/// Runs `body` with the caller's context, or answers `fallback` for a NULL or stale ctx.
fileprivate func withContext<T>(_ ctx: OpaquePointer?, _ fallback: T, _ body: (PluginContext) -> T) -> T {
  guard let context = PluginContext.from(ctx) else { return fallback }
  return body(context)
}

fileprivate func text(_ pointer: UnsafePointer<CChar>?) -> String? {
  pointer.map { String(cString: $0) }
}

/// Runs a scheduling-framework decision on the loop, which owns the framework: at once from the
/// loop (with its real status), else posted there (answering OK: the pod id is checked later).
fileprivate func onLoop(_ context: PluginContext, _ decide: @escaping () -> skiff_status) -> skiff_status {
  if context.kernel.loop.inEventLoop { return decide() }
  context.kernel.loop.execute { _ = decide() }
  return SKIFF_OK
}

/// A borrowed buffer of `length` UTF-8 bytes as a String.
fileprivate func text(_ bytes: UnsafePointer<CChar>, _ length: Int) -> String {
  String(decoding: UnsafeRawBufferPointer(start: bytes, count: length), as: UTF8.self)
}

/// Calls a watch or event callback `(arg, label, bytes, length)` with both strings borrowed.
fileprivate func deliver(_ label: String, _ body: String,
                         to callback: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?,
                                                      UnsafePointer<CChar>?, Int) -> Void,
                         _ argument: Pointer) {
  label.withCString { label in
    var body = body
    body.withUTF8 { bytes in
      bytes.withMemoryRebound(to: CChar.self) { callback(argument.raw, label, $0.baseAddress, $0.count) }
    }
  }
}

fileprivate func send(_ text: String, to out: skiff_bytes_cb?, _ arg: UnsafeMutableRawPointer?) {
  var text = text
  text.withUTF8 { bytes in
    bytes.withMemoryRebound(to: CChar.self) { out?(arg, $0.baseAddress, $0.count) }
  }
}

/// Registration is open only while the calling plugin's `start` runs.
fileprivate func registration<VTable>(
  _ ctx: OpaquePointer?, _ vtable: UnsafePointer<VTable>?,
  _ table: ReferenceWritableKeyPath<ExtensionRegistry, [Extension<VTable>]>
) -> skiff_status {
  withContext(ctx, SKIFF_INVALID) { context in
    guard context.registering else { return SKIFF_INVALID }
    return context.kernel.extensions.register(vtable, owner: context.name, in: table)
  }
}

fileprivate struct Pointer: @unchecked Sendable { let raw: UnsafeMutableRawPointer? }
