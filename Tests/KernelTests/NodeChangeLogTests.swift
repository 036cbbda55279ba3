// The framework's log of changed node positions behind host->cycle_changed_nodes: what a mark
// reads, and when the log must answer "cannot tell" instead.
import Kernel
import XCTest

final class NodeChangeLogTests: XCTestCase {
  func testAMarkReadsThePositionsRecordedAfterIt() throws {
    let log = NodeChangeLog()
    XCTAssertNil(log.changes(after: 0), "a first reader cannot be told what changed")
    log.record(3)
    let mark = log.end
    XCTAssertEqual(log.changes(after: mark).map(Array.init), [])
    log.record(7)
    log.record(3)
    XCTAssertEqual(log.changes(after: mark).map(Array.init), [7, 3])
    XCTAssertEqual(log.changes(after: log.end).map(Array.init), [])
  }

  func testAResetOrAnotherLogsMarkCannotBeRead() throws {
    let log = NodeChangeLog(), other = NodeChangeLog()
    log.record(1)
    let mark = log.end
    XCTAssertNil(other.changes(after: mark), "another log's mark")
    XCTAssertNil(log.changes(after: other.end), "another log's mark")
    log.reset()
    XCTAssertNil(log.changes(after: mark), "positions moved since")
    log.record(2)
    XCTAssertNil(log.changes(after: mark))
  }

  func testMarksOlderThanWhatIsKeptCannotBeRead() throws {
    let log = NodeChangeLog()
    let first = log.end
    for position in 0..<(NodeChangeLog.keptAtMost + 10) { log.record(position) }
    XCTAssertNil(log.changes(after: first), "the oldest changes were dropped")
    let recent = log.end - 5
    XCTAssertEqual(log.changes(after: recent).map(Array.init),
                   Array(UInt32(NodeChangeLog.keptAtMost + 5)..<UInt32(NodeChangeLog.keptAtMost + 10)))
  }
}
