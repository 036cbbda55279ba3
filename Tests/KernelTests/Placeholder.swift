import XCTest

final class KernelTestsPlaceholder: XCTestCase {}
