// Versions the kernel reports.
import SkiffABI

public enum KernelVersion {
  /// The skiff.h ABI version this kernel speaks.
  public static let abi = SKIFF_ABI_VERSION
}
