// Plain HTTP requests for tests that talk to the API server without kubectl.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

public struct HTTPReply: @unchecked Sendable {
  public let status: Int
  public let body: Data
  public let headers: [AnyHashable: Any]

  public var text: String { String(decoding: body, as: UTF8.self) }
  public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
}

public enum HTTPClient {
  /// Sends one request and waits for the whole reply.
  public static func send(_ method: String, _ url: String, body: Data? = nil,
                          contentType: String = "application/json", accept: String? = nil,
                          headers: [String: String] = [:]) throws -> HTTPReply {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    request.httpBody = body
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    if body != nil { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
    if let accept { request.setValue(accept, forHTTPHeaderField: "Accept") }
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var outcome: Result<HTTPReply, any Error>?
    URLSession.shared.dataTask(with: request) { data, response, error in
      if let error {
        outcome = .failure(error)
      } else {
        let http = response as! HTTPURLResponse
        outcome = .success(HTTPReply(status: http.statusCode, body: data ?? Data(), headers: http.allHeaderFields))
      }
      done.signal()
    }.resume()
    done.wait()
    return try outcome!.get()
  }

  public static func send(_ method: String, _ url: String, json: String) throws -> HTTPReply {
    try send(method, url, body: Data(json.utf8))
  }
}
