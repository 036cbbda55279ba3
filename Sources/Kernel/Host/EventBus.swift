// In-process publish/subscribe on named topics. Delivery happens on the loop, after the publisher
// returns, in publish order — so a subscriber that publishes never re-enters its publisher.

public final class EventBus: @unchecked Sendable {
  public typealias Handler = (_ topic: String, _ payload: String) -> Void

  public final class Subscription {
    let topic: String
    let handler: Handler
    fileprivate(set) var active = true
    init(topic: String, handler: @escaping Handler) {
      self.topic = topic
      self.handler = handler
    }
  }

  private let loop: EventLoop
  private var subscribers: [String: [Subscription]] = [:]

  public init(loop: EventLoop) { self.loop = loop }

  public func subscribe(_ topic: String, _ handler: @escaping Handler) -> Subscription {
    loop.preconditionInEventLoop()
    let subscription = Subscription(topic: topic, handler: handler)
    subscribers[topic, default: []].append(subscription)
    return subscription
  }

  public func unsubscribe(_ subscription: Subscription) {
    loop.preconditionInEventLoop()
    subscription.active = false
    subscribers[subscription.topic]?.removeAll { $0 === subscription }
  }

  public func publish(_ topic: String, _ payload: String) {
    loop.preconditionInEventLoop()
    let receivers = subscribers[topic] ?? []
    guard !receivers.isEmpty else { return }
    loop.execute {
      for receiver in receivers where receiver.active { receiver.handler(topic, payload) }
    }
  }
}
