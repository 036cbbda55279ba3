/* libffi, for calling plugin services by signature. Swift 6 rejects imported mutable C globals
 * such as ffi_type_double, so the kernel reaches them through these accessors. */
#include <ffi.h>

static inline ffi_type *skiff_ffi_void(void) { return &ffi_type_void; }
static inline ffi_type *skiff_ffi_sint32(void) { return &ffi_type_sint32; }
static inline ffi_type *skiff_ffi_sint64(void) { return &ffi_type_sint64; }
static inline ffi_type *skiff_ffi_double(void) { return &ffi_type_double; }
static inline ffi_type *skiff_ffi_pointer(void) { return &ffi_type_pointer; }
static inline ffi_abi skiff_ffi_default_abi(void) { return FFI_DEFAULT_ABI; }
