// The kernel: one event loop, the plugins a profile names, and the services they publish.
import SkiffABI

public enum KernelInfo {
  public static let abiVersion = UInt32(SKIFF_ABI_VERSION)
}
