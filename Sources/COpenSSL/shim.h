/* OpenSSL, for TLS to image registries. SSL_set_tlsext_host_name is a macro over SSL_ctrl,
 * which Swift cannot call, so this accessor does. */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static inline long skiff_ssl_set_server_name(SSL *ssl, const char *name) {
  return SSL_set_tlsext_host_name(ssl, name);
}
