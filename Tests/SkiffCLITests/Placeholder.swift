import XCTest

final class SkiffCLITestsPlaceholder: XCTestCase {}
