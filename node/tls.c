/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS 1.3 contexts from the node's Ed25519 key (see tls.h): the key as an
 * EVP_PKEY, a self-signed certificate made in memory, server and client
 * SSL_CTX with mutual authentication and a verify callback that admits
 * exactly one self-signed Ed25519 leaf.  Pinning is the application's job.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "parley/crypto.h"
#include "parley/err.h"
#include "parley/identity.h"

#include "tls.h"

struct node_tls {
	EVP_PKEY *key;
	X509 *cert;
	SSL_CTX *server;
	SSL_CTX *client;
	uint8_t pk[PL_PK_BYTES];
};

/* Certificate validity around "now"; the dates carry no meaning for Parley
 * (keys are pinned through node records) but must look sane to OpenSSL. */
#define CERT_BACKDATE_SECS 3600L
#define CERT_LIFETIME_SECS (365L * 24 * 3600)

/* Describe the OpenSSL error queue into the pl_err detail and return code. */
static int ossl_fail(int code, const char *what)
{
	char buf[256] = "";
	tls_error_text(NULL, buf, sizeof(buf));
	return pl_err_fail(code, "%s: %s", what, buf[0] ? buf : "OpenSSL failed");
}

/* ------------------------------------------------------------ verification */

/*
 * Accept the peer's chain when it is a single certificate with an Ed25519
 * key, whatever else OpenSSL thinks of it (self-signed, no CA, dates):
 * the key is what the application pins.  Any certificate above depth 0
 * means the peer sent a chain we do not use, and is refused.
 */
static int verify_cb(int preverify_ok, X509_STORE_CTX *x)
{
	(void)preverify_ok;
	int depth = X509_STORE_CTX_get_error_depth(x);
	X509 *cert = X509_STORE_CTX_get_current_cert(x);
	EVP_PKEY *key = cert ? X509_get0_pubkey(cert) : NULL;
	if (depth != 0 || !key || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
		X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	X509_STORE_CTX_set_error(x, X509_V_OK);
	return 1;
}

int tls_peer_pubkey(SSL *ssl, uint8_t pk[PL_PK_BYTES])
{
	X509 *cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	if (!cert)
		return pl_err_fail(PL_ERR_CRYPTO, "the peer presented no certificate");
	EVP_PKEY *key = X509_get0_pubkey(cert);
	if (!key || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519)
		return pl_err_fail(PL_ERR_CRYPTO, "the peer's certificate key is not Ed25519");
	size_t len = PL_PK_BYTES;
	if (EVP_PKEY_get_raw_public_key(key, pk, &len) != 1 || len != PL_PK_BYTES)
		return ossl_fail(PL_ERR_CRYPTO, "reading the peer's public key");
	return 0;
}

/* ------------------------------------------------------------ error text */

static void append(char *buf, size_t cap, const char *s)
{
	size_t n = strnlen(buf, cap);
	if (n + 1 >= cap)
		return;
	/* Cutting a long error text short is fine: it is a log line. */
	if (snprintf(buf + n, cap - n, "%s%s", n ? "; " : "", s) < 0)
		buf[n] = '\0';
}

void tls_error_append(char *buf, size_t cap, unsigned long e)
{
	if (ERR_GET_LIB(e) == 0)
		return; /* an SSL_get_error() value, not a library error */
	const char *r = ERR_reason_error_string(e);
	char tmp[256];
	if (!r) {
		ERR_error_string_n(e, tmp, sizeof(tmp));
		r = tmp;
	}
	append(buf, cap, r);
}

const char *tls_error_text(SSL *ssl, char *buf, size_t cap)
{
	if (!cap)
		return buf;
	buf[0] = '\0';
	unsigned long e;
	while ((e = ERR_get_error()) != 0)
		tls_error_append(buf, cap, e);
	if (ssl) {
		long v = SSL_get_verify_result(ssl);
		if (v == X509_V_ERR_APPLICATION_VERIFICATION)
			append(buf, cap,
			       "peer certificate refused: not a single certificate with an Ed25519 "
			       "key");
		else if (v != X509_V_OK)
			append(buf, cap, X509_verify_cert_error_string(v));
	}
	return buf;
}

/* ------------------------------------------------------------ construction */

static X509 *make_cert(EVP_PKEY *key, const char *cn)
{
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	if (!x)
		return NULL;
	uint8_t serial[16];
	pl_random(serial, sizeof(serial));
	serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40); /* positive, 16 bytes long */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	X509_NAME *name = X509_get_subject_name(x);
	bool ok = bn && X509_set_version(x, X509_VERSION_3) == 1 &&
		  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
		  X509_gmtime_adj(X509_getm_notBefore(x), -CERT_BACKDATE_SECS) &&
		  X509_gmtime_adj(X509_getm_notAfter(x), CERT_LIFETIME_SECS) && name &&
		  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
					     -1, -1, 0) == 1 &&
		  X509_set_issuer_name(x, name) == 1 && X509_set_pubkey(x, key) == 1 &&
		  X509_sign(x, key, NULL) > 0;
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static SSL_CTX *make_ctx(node_tls *t, bool server)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx)
		return NULL;
	bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1 &&
		  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 &&
		  SSL_CTX_use_certificate(ctx, t->cert) == 1 &&
		  SSL_CTX_use_PrivateKey(ctx, t->key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
	if (!ok) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
	/* Every connection is a full handshake: no tickets, no session cache,
	 * so the peer's certificate (and key) is always presented afresh. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (server)
		SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return ctx;
}

int tls_new(node_tls **out, const pl_keypair *kp, const char *node_name)
{
	*out = NULL;
	if (!kp || !node_name || !pl_name_is_valid(node_name))
		return pl_err_fail(PL_ERR_INVALID, "bad node name for the TLS certificate");
	node_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return PL_ERR_NOMEM;
	int rc;
	ERR_clear_error();
	t->key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, kp->sk, PL_SEED_BYTES);
	if (!t->key) {
		rc = ossl_fail(PL_ERR_CRYPTO, "loading the node key into OpenSSL");
		goto fail;
	}
	size_t len = sizeof(t->pk);
	if (EVP_PKEY_get_raw_public_key(t->key, t->pk, &len) != 1 || len != PL_PK_BYTES) {
		rc = ossl_fail(PL_ERR_CRYPTO, "deriving the node's public key");
		goto fail;
	}
	if (memcmp(t->pk, kp->pk, PL_PK_BYTES) != 0) {
		rc = pl_err_fail(PL_ERR_CRYPTO,
				 "the node key's public half does not match its seed");
		goto fail;
	}
	t->cert = make_cert(t->key, node_name);
	if (!t->cert) {
		rc = ossl_fail(PL_ERR_CRYPTO, "making the node's certificate");
		goto fail;
	}
	t->server = make_ctx(t, true);
	t->client = make_ctx(t, false);
	if (!t->server || !t->client) {
		rc = ossl_fail(PL_ERR_CRYPTO, "setting up TLS contexts");
		goto fail;
	}
	*out = t;
	return 0;
fail:
	tls_free(t);
	return rc;
}

int tls_load(node_tls **out, const char *key_file, const char *node_name)
{
	*out = NULL;
	pl_keypair kp;
	int rc = pl_keyfile_read(key_file, NULL, &kp, NULL, 0);
	if (rc != 0)
		return rc;
	rc = tls_new(out, &kp, node_name);
	pl_key_wipe(&kp);
	return rc;
}

void tls_free(node_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->server);
	SSL_CTX_free(t->client);
	X509_free(t->cert);
	EVP_PKEY_free(t->key);
	free(t);
}

const uint8_t *tls_public_key(const node_tls *t)
{
	return t->pk;
}

X509 *tls_certificate(const node_tls *t)
{
	return t->cert;
}

SSL *tls_ssl_new(node_tls *t, bool server)
{
	return SSL_new(server ? t->server : t->client);
}
