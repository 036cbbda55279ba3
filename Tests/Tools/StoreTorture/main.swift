// store-torture DBPATH: creates /torture/key-N (value "N") from several threads until killed,
// printing each key once its write is acknowledged. The crash test kills it and checks that every
// printed key survived. Numbering continues after the highest key already in the database.
import Foundation
import Kernel
import Store
import Synchronization

let writers = 8
/// Writes each thread keeps in flight, so that batches form as they would under a busy API server.
let window = 16

guard CommandLine.arguments.count == 2 else {
  FileHandle.standardError.write(Data("usage: store-torture DBPATH\n".utf8))
  exit(2)
}

let loop = EventLoop()
loop.runInBackground()
let store: SQLiteStore
do {
  store = try SQLiteStore(path: CommandLine.arguments[1], loop: loop)
} catch {
  FileHandle.standardError.write(Data("store-torture: \(error)\n".utf8))
  exit(1)
}

let highest = store.list(prefix: "/torture/key-").items.compactMap { Int($0.key.dropFirst("/torture/key-".count)) }.max()
let next = Atomic<Int>((highest ?? 0) + 1)

for _ in 0..<writers {
  let thread = Thread {
    let slots = DispatchSemaphore(value: window)
    while true {
      slots.wait()
      let number = next.add(1, ordering: .relaxed).oldValue
      store.create("/torture/key-\(number)", value: Array("\(number)".utf8)) { result in
        switch result {
        case .success(let kv):
          // One write(2) per line, unbuffered: a printed line is an acknowledged write.
          let line = Array("\(kv.key)\n".utf8)
          _ = line.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        case .failure(let error):
          FileHandle.standardError.write(Data("store-torture: key-\(number): \(error)\n".utf8))
          exit(1)
        }
        slots.signal()
      }
    }
  }
  thread.start()
}

while true { sleep(60) }
