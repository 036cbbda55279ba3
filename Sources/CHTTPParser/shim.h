/* http-parser 2.9, for the API server's HTTP/1.1 framing. Debian ships no pkg-config file for it,
 * so the module map links http_parser directly. */
#include <http_parser.h>
