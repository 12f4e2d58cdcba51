/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS material for peer links (OpenSSL 3): the node's Ed25519 key as an
 * EVP_PKEY, a self-signed certificate made for it in memory (CN = node
 * name), and one SSL_CTX for each direction, both TLS 1.3 only with mutual
 * authentication.
 *
 * There is no certificate authority and nothing on disk.  The verify
 * callback accepts any self-signed leaf whose key is Ed25519 and nothing
 * else; whether that key is acceptable is the application's decision: it
 * reads the key with tls_peer_pubkey() and compares it with the peer's
 * node record after HELLO.  The TLS handshake itself proves that the peer
 * holds the private key of the certificate it presented.
 *
 * This module does not do I/O (node/net.c does) and keeps no state beyond
 * the tls object.
 */
#ifndef PARLEY_NODE_TLS_H
#define PARLEY_NODE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "parley/crypto.h"

typedef struct node_tls node_tls;

/*
 * Build the TLS material for node node_name from its key pair (copied; the
 * caller still wipes kp).  The public key derived by OpenSSL from the seed
 * must equal kp->pk.  Returns 0 and *out, or PL_ERR_INVALID (bad name),
 * PL_ERR_CRYPTO (OpenSSL failed, or kp is inconsistent; detail says which),
 * PL_ERR_NOMEM.
 */
int tls_new(node_tls **out, const pl_keypair *kp, const char *node_name);

/* Read the node's unsealed key file (pl_keyfile_read with no passphrase),
 * then as tls_new.  Errors: as pl_keyfile_read, then as tls_new. */
int tls_load(node_tls **out, const char *key_file, const char *node_name);

/* Free t (NULL-safe). SSL objects made from it keep their own references. */
void tls_free(node_tls *t);

/* The node's public key (borrowed, valid until tls_free). */
const uint8_t *tls_public_key(const node_tls *t);

/* The certificate (borrowed, valid until tls_free), e.g. for tests. */
X509 *tls_certificate(const node_tls *t);

/* A new SSL for one connection, accepting (server) or connecting; the
 * caller owns it (SSL_free).  NULL on failure. */
SSL *tls_ssl_new(node_tls *t, bool server);

/* The peer's Ed25519 public key after a completed handshake: 0, or
 * PL_ERR_CRYPTO when there is no peer certificate or its key is not
 * Ed25519. */
int tls_peer_pubkey(SSL *ssl, uint8_t pk[PL_PK_BYTES]);

/*
 * Describe why TLS failed on ssl (which may be NULL): the OpenSSL error
 * queue (drained) and, when certificate verification failed, the verify
 * result.  Writes a NUL-terminated text to buf and returns buf.
 */
const char *tls_error_text(SSL *ssl, char *buf, size_t cap);

/* Append the reason string of OpenSSL error code e to buf (for codes
 * reported by bufferevent_get_openssl_error); small non-library codes are
 * ignored.  buf must hold a NUL-terminated string. */
void tls_error_append(char *buf, size_t cap, unsigned long e);

#endif /* PARLEY_NODE_TLS_H */
