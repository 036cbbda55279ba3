// A layer blob read front to back: inflated on the fly when it is gzip'd (by its magic bytes, not
// its media type, which docker-save archives do not carry), and hashed as it is read, so that the
// uncompressed content can be checked against the image config's diff_ids.
import CZlib
import FoundationEssentials
import Glibc

final class LayerStream {
  private let fd: Int32
  private let path: String
  private var stream = z_stream()
  private let gzipped: Bool
  private var finishedInflating = false
  private static let bufferSize = 256 * 1024
  /// Allocated, not arrays: zlib keeps pointers into them between calls.
  private let input: UnsafeMutablePointer<UInt8>
  private let chunk: UnsafeMutablePointer<UInt8>
  private var inflating = false
  private var inputEnd = false
  /// Uncompressed bytes read but not yet handed out.
  private var output: [UInt8] = []
  private var outputStart = 0
  private var hasher = SHA256()

  init(path: String) throws(ImageError) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ImageError("\(SystemError("opening layer \(path)"))") }
    var magic: [UInt8] = [0, 0]
    let count = pread(fd, &magic, 2, 0)
    self.fd = fd
    self.path = path
    gzipped = count == 2 && magic == [0x1f, 0x8b]
    input = .allocate(capacity: Self.bufferSize)
    chunk = .allocate(capacity: Self.bufferSize)
    if gzipped {
      guard skiff_inflate_init_gzip(&stream) == Z_OK else {
        throw ImageError("layer \(path): zlib could not start inflating")
      }
      inflating = true
    }
  }

  deinit {
    if inflating { inflateEnd(&stream) }
    close(fd)
    input.deallocate()
    chunk.deallocate()
  }

  /// sha256 of the uncompressed bytes handed out so far: the layer's diff ID once all is read.
  func uncompressedDigest() -> String {
    var copy = hasher
    return copy.finish()
  }

  /// Exactly `count` bytes, or fewer only at the end of the stream.
  func read(_ count: Int) throws(ImageError) -> [UInt8] {
    while output.count - outputStart < count {
      guard try fill() else { break }
    }
    let end = min(output.count, outputStart + count)
    let bytes = Array(output[outputStart..<end])
    outputStart = end
    if outputStart > 1 << 20 {
      output.removeFirst(outputStart)
      outputStart = 0
    }
    hasher.update(bytes)
    return bytes
  }

  /// Reads and hashes whatever remains (tar archives may carry padding after their end blocks).
  func drain() throws(ImageError) {
    while try !read(1 << 20).isEmpty {}
  }

  /// Appends more uncompressed bytes to `output`; false at the end of the stream.
  private func fill() throws(ImageError) -> Bool {
    if !gzipped {
      let count = readInput()
      guard count > 0 else { return false }
      output += UnsafeBufferPointer(start: input, count: count)
      return true
    }
    if finishedInflating { return false }
    if stream.avail_in == 0 {
      let count = readInput()
      if count == 0 { inputEnd = true }
      stream.next_in = input
      stream.avail_in = UInt32(count)
    }
    stream.next_out = chunk
    stream.avail_out = UInt32(Self.bufferSize)
    let result = inflate(&stream, Z_NO_FLUSH)
    let produced = Self.bufferSize - Int(stream.avail_out)
    output += UnsafeBufferPointer(start: chunk, count: produced)
    switch result {
    case Z_STREAM_END:
      finishedInflating = true
      return produced > 0
    case Z_OK:
      return true
    case Z_BUF_ERROR where inputEnd:
      throw ImageError("layer \(path): the gzip stream is truncated")
    case Z_BUF_ERROR:
      return true
    default:
      let why = stream.msg.map { String(cString: $0) } ?? "error \(result)"
      throw ImageError("layer \(path): not a valid gzip stream: \(why)")
    }
  }

  private func readInput() -> Int {
    while true {
      let count = Glibc.read(fd, input, Self.bufferSize)
      if count < 0 && errno == EINTR { continue }
      return max(count, 0)
    }
  }
}

/// A failure of the image store, worded for the user.
struct ImageError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
