// Giving freed heap back: start-up on a large data directory parses every stored object once,
// and glibc keeps the freed pages (below the top of each arena) unless asked to release them.
#if canImport(Glibc)
import Glibc

private typealias MallocTrim = @convention(c) (Int) -> Int32
/// malloc_trim is a GNU extension that Swift's Glibc module leaves out: looked up by name.
private let mallocTrim: MallocTrim? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim")
  .map { unsafeBitCast($0, to: MallocTrim.self) }

/// Returns the free pages of every malloc arena to the system (malloc_trim(0)). For the end of a
/// phase that freed much, such as start-up; not for hot paths (it walks the arenas).
public func releaseFreedHeap() { _ = mallocTrim?(0) }
#else
public func releaseFreedHeap() {}
#endif
