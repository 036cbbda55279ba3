/* zlib, for gzip'd image layers. inflateInit2 is a macro (it passes the library's version and
 * struct size), which Swift cannot call, so this accessor calls it. */
#include <zlib.h>

/* windowBits 15 + 32: accept a gzip or zlib header, detected from the stream. */
static inline int skiff_inflate_init_gzip(z_stream *stream) {
  return inflateInit2(stream, 15 + 32);
}

/* Plain zlib streams, for SPDY's compressed header blocks (each side's stream spans the whole
 * session and starts from SPDY's preset dictionary). */
static inline int skiff_inflate_init_zlib(z_stream *stream) {
  return inflateInit(stream);
}

static inline int skiff_deflate_init_zlib(z_stream *stream, int level) {
  return deflateInit(stream, level);
}
