// One connection to a registry: a TCP socket, with TLS over it (OpenSSL) for https:// — the
// server's certificate checked against the system's CAs, plus the registry's own `ca` file when
// the profile names one, and against the host name or IP address that was asked for.
import COpenSSL
import FoundationEssentials
import Glibc

final class RegistryConnection {
  private let fd: Int32
  private let url: HTTPURL
  private var context: OpaquePointer?
  private var ssl: OpaquePointer?

  init(_ url: HTTPURL, ca: String?) throws(ImageError) {
    self.url = url
    fd = try Self.connect(url)
    guard url.secure else { return }
    do throws(ImageError) {
      try startTLS(ca: ca)
    } catch {
      close()
      throw error
    }
  }

  deinit { close() }

  private func close() {
    if let ssl { SSL_free(ssl) }
    if let context { SSL_CTX_free(context) }
    ssl = nil
    context = nil
    Glibc.close(fd)
  }

  func send(_ bytes: [UInt8]) throws(ImageError) {
    var sent = 0
    while sent < bytes.count {
      let count: Int = bytes[sent...].withUnsafeBytes { raw in
        if let ssl { return Int(SSL_write(ssl, raw.baseAddress, Int32(raw.count))) }
        return Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
      }
      if count < 0 && ssl == nil && errno == EINTR { continue }
      guard count > 0 else { throw ImageError("\(url): \(failure("sending the request"))") }
      sent += count
    }
  }

  /// Bytes read into `buffer`; 0 at the end of the stream.
  func receive(_ buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
    while true {
      if let ssl {
        let count = SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
        if count > 0 { return Int(count) }
        let code = SSL_get_error(ssl, count)
        // A peer that closes without close_notify ends the body as plain TCP would.
        if code == SSL_ERROR_ZERO_RETURN || code == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 { return 0 }
        throw ImageError("\(url): \(failure("reading the response"))")
      }
      let count = recv(fd, buffer.baseAddress, buffer.count, 0)
      if count < 0 && errno == EINTR { continue }
      guard count >= 0 else { throw ImageError("\(url): \(SystemError("reading the response"))") }
      return count
    }
  }

  private func startTLS(ca: String?) throws(ImageError) {
    guard let context = SSL_CTX_new(TLS_client_method()) else { throw ImageError("\(url): \(failure("starting TLS"))") }
    self.context = context
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
    SSL_CTX_set_default_verify_paths(context)
    if let ca, SSL_CTX_load_verify_locations(context, ca, nil) != 1 {
      throw ImageError("\(url): cannot read the CA certificates in \(ca): \(failure("loading"))")
    }
    guard let ssl = SSL_new(context) else { throw ImageError("\(url): \(failure("starting TLS"))") }
    self.ssl = ssl
    var address = in6_addr()
    let isAddress = inet_pton(AF_INET, url.host, &address) == 1 || inet_pton(AF_INET6, url.host, &address) == 1
    if isAddress {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host)
    } else {
      skiff_ssl_set_server_name(ssl, url.host)
      SSL_set1_host(ssl, url.host)
    }
    SSL_set_fd(ssl, fd)
    guard SSL_connect(ssl) == 1 else {
      let verify = SSL_get_verify_result(ssl)
      let why = verify != X509_V_OK
        ? "the certificate is not trusted: \(String(cString: X509_verify_cert_error_string(verify))) "
          + "(name the registry's CA under config.oci.registries.\"\(url.host):\(url.port)\".ca)"
        : failure("the TLS handshake")
      throw ImageError("\(url): \(why)")
    }
  }

  /// OpenSSL's queued error, or errno's, for `what`.
  private func failure(_ what: String) -> String {
    let code = ERR_get_error()
    guard code != 0 else { return "\(SystemError(what))" }
    var text = [UInt8](repeating: 0, count: 256)
    text.withUnsafeMutableBufferPointer { buffer in
      buffer.withMemoryRebound(to: CChar.self) { ERR_error_string_n(code, $0.baseAddress, $0.count) }
    }
    return "\(what): \(String(decoding: text.prefix { $0 != 0 }, as: UTF8.self))"
  }

  private static func connect(_ url: HTTPURL) throws(ImageError) -> Int32 {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var found: UnsafeMutablePointer<addrinfo>?
    let code = getaddrinfo(url.host, "\(url.port)", &hints, &found)
    guard code == 0, let first = found else {
      throw ImageError("\(url): cannot resolve \(url.host): \(String(cString: gai_strerror(code)))")
    }
    defer { freeaddrinfo(first) }
    var lastError: Int32 = 0
    var next: UnsafeMutablePointer<addrinfo>? = first
    while let address = next {
      next = address.pointee.ai_next
      let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue),
                      address.pointee.ai_protocol)
      guard fd >= 0 else { lastError = errno; continue }
      // A registry that stops answering must not hang a pull forever.
      var timeout = timeval(tv_sec: 60, tv_usec: 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
      if Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return fd }
      lastError = errno
      Glibc.close(fd)
    }
    throw ImageError("\(url): \(SystemError("connecting to \(url.host):\(url.port)", code: lastError))")
  }
}
