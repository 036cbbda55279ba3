/* libuv, for the kernel's event loop. */
#include <uv.h>
