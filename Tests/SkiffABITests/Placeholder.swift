import XCTest

final class SkiffABITestsPlaceholder: XCTestCase {}
