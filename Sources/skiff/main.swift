import Kernel
print("skiff ABI \(KernelInfo.abiVersion)")
