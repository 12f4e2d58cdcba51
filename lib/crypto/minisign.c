/* SPDX-License-Identifier: Apache-2.0 */
/*
 * minisign signatures and files (parley/minisign.h) on libsodium: BLAKE2b-512
 * prehashing, Ed25519, and the strict two- and four-line text formats.
 *
 * Written from the format as minisign documents and writes it; no code of
 * minisign's is used.  Nothing here reads or writes files.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/utf8.h"
#include "parley/err.h"
#include "parley/minisign.h"

#define PREHASH_BYTES 64 /* BLAKE2b-512 */

static const char alg_prehashed[2] = {'E', 'D'};
static const char alg_legacy[2] = {'E', 'd'}; /* also the public key's algorithm */
static const char untrusted_prefix[] = "untrusted comment: ";
static const char trusted_prefix[] = "trusted comment: ";

_Static_assert(PREHASH_BYTES == crypto_generichash_BYTES_MAX, "BLAKE2b-512");

void pl_minisign_pk_from_key(pl_minisign_pk *out, const uint8_t pk[PL_PK_BYTES])
{
	pl_key_id(out->keynum, pk);
	memcpy(out->pk, pk, PL_PK_BYTES);
}

void pl_minisign_keyid_hex(char out[PL_MINISIGN_KEYID_LEN],
			   const uint8_t keynum[PL_MINISIGN_KEYNUM_BYTES])
{
	static const char digits[] = "0123456789ABCDEF";
	for (size_t i = 0; i < PL_MINISIGN_KEYNUM_BYTES; i++) {
		uint8_t b = keynum[PL_MINISIGN_KEYNUM_BYTES - 1 - i];
		out[2 * i] = digits[b >> 4];
		out[2 * i + 1] = digits[b & 15];
	}
	out[2 * PL_MINISIGN_KEYNUM_BYTES] = '\0';
}

/* A comment: at most max bytes of UTF-8 without control characters but TAB. */
static int check_comment(const char *s, size_t n, size_t max, const char *what)
{
	if (n > max)
		return pl_err_fail(PL_ERR_LIMIT, "%s: %zu bytes, at most %zu", what, n, max);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return pl_err_fail(PL_ERR_MALFORMED,
					   "%s: control character 0x%02x at byte %zu", what, c, i);
	}
	if (!pl_utf8_is_valid((const uint8_t *)s, n))
		return pl_err_fail(PL_ERR_MALFORMED, "%s: not valid UTF-8", what);
	return 0;
}

static int prehash(uint8_t out[PREHASH_BYTES], const uint8_t *msg, size_t len)
{
	if (crypto_generichash(out, PREHASH_BYTES, msg, len, NULL, 0) != 0)
		return pl_err_fail(PL_ERR_CRYPTO, "BLAKE2b failed");
	return 0;
}

/* ------------------------------------------------------------ sign, verify */

int pl_minisign_sign(uint8_t blob[PL_MINISIGN_SIG_BLOB_BYTES], uint8_t gsig[PL_SIG_BYTES],
		     const uint8_t *msg, size_t len, const char *tc, const pl_keypair *kp)
{
	memset(blob, 0, PL_MINISIGN_SIG_BLOB_BYTES);
	memset(gsig, 0, PL_SIG_BYTES);
	if (!tc || (!msg && len))
		return pl_err_fail(PL_ERR_INVALID, "minisign: no message or trusted comment");
	size_t tlen = strlen(tc);
	int rc = check_comment(tc, tlen, PL_MINISIGN_TC_MAX, "trusted comment");
	if (rc)
		return rc == PL_ERR_LIMIT ? rc : PL_ERR_INVALID;
	rc = pl_crypto_init();
	if (rc)
		return rc;
	uint8_t h[PREHASH_BYTES];
	rc = prehash(h, msg, len);
	if (rc)
		return rc;
	uint8_t *sig = blob + 2 + PL_MINISIGN_KEYNUM_BYTES;
	memcpy(blob, alg_prehashed, 2);
	pl_key_id(blob + 2, kp->pk);
	uint8_t *gmsg = malloc(PL_SIG_BYTES + tlen);
	if (!gmsg) {
		memset(blob, 0, PL_MINISIGN_SIG_BLOB_BYTES);
		return PL_ERR_NOMEM;
	}
	if (crypto_sign_detached(sig, NULL, h, sizeof(h), kp->sk) != 0) {
		rc = pl_err_fail(PL_ERR_CRYPTO, "minisign: signing failed");
	} else {
		memcpy(gmsg, sig, PL_SIG_BYTES);
		memcpy(gmsg + PL_SIG_BYTES, tc, tlen);
		if (crypto_sign_detached(gsig, NULL, gmsg, PL_SIG_BYTES + tlen, kp->sk) != 0)
			rc = pl_err_fail(PL_ERR_CRYPTO, "minisign: signing failed");
	}
	free(gmsg);
	if (rc) {
		memset(blob, 0, PL_MINISIGN_SIG_BLOB_BYTES);
		memset(gsig, 0, PL_SIG_BYTES);
	}
	return rc;
}

int pl_minisign_verify(const pl_minisign_pk *pk, const uint8_t *msg, size_t len,
		       const uint8_t blob[PL_MINISIGN_SIG_BLOB_BYTES], const char *tc,
		       const uint8_t gsig[PL_SIG_BYTES])
{
	if (!pk || !blob || !tc || !gsig || (!msg && len))
		return pl_err_fail(PL_ERR_INVALID, "minisign: missing argument");
	if (memcmp(blob, alg_legacy, 2) == 0)
		return pl_err_fail(PL_ERR_VERSION,
				   "minisign: legacy (not prehashed) signature \"Ed\" refused; "
				   "sign without -l");
	if (memcmp(blob, alg_prehashed, 2) != 0)
		return pl_err_fail(PL_ERR_VERSION, "minisign: unknown signature algorithm");
	if (memcmp(blob + 2, pk->keynum, PL_MINISIGN_KEYNUM_BYTES) != 0) {
		char want[PL_MINISIGN_KEYID_LEN], got[PL_MINISIGN_KEYID_LEN];
		pl_minisign_keyid_hex(want, pk->keynum);
		pl_minisign_keyid_hex(got, blob + 2);
		return pl_err_fail(PL_ERR_BAD_SIGNATURE,
				   "minisign: signed by key %s, not by the public key's %s", got,
				   want);
	}
	size_t tlen = strlen(tc);
	int rc = check_comment(tc, tlen, PL_MINISIGN_TC_MAX, "trusted comment");
	if (rc)
		return PL_ERR_INVALID;
	rc = pl_crypto_init();
	if (rc)
		return rc;
	uint8_t h[PREHASH_BYTES];
	rc = prehash(h, msg, len);
	if (rc)
		return rc;
	const uint8_t *sig = blob + 2 + PL_MINISIGN_KEYNUM_BYTES;
	if (crypto_sign_verify_detached(sig, h, sizeof(h), pk->pk) != 0)
		return pl_err_fail(PL_ERR_BAD_SIGNATURE,
				   "minisign: the signature does not verify over the file");
	uint8_t *gmsg = malloc(PL_SIG_BYTES + tlen);
	if (!gmsg)
		return PL_ERR_NOMEM;
	memcpy(gmsg, sig, PL_SIG_BYTES);
	memcpy(gmsg + PL_SIG_BYTES, tc, tlen);
	if (crypto_sign_verify_detached(gsig, gmsg, PL_SIG_BYTES + tlen, pk->pk) != 0)
		rc = pl_err_fail(PL_ERR_BAD_SIGNATURE,
				 "minisign: the global signature does not verify (trusted "
				 "comment changed?)");
	free(gmsg);
	return rc;
}

int pl_minisign_verify_sig(const pl_minisign_pk *pk, const uint8_t *msg, size_t len,
			   const pl_minisign_sig *sig)
{
	return pl_minisign_verify(pk, msg, len, sig->blob, sig->trusted, sig->gsig);
}

/* ------------------------------------------------------------ files */

/* Append the base64 of p[0..n) and a newline at buf + pos; the new end. */
static size_t b64_line(char *buf, size_t pos, const uint8_t *p, size_t n)
{
	pl_b64_encode(buf + pos, p, n);
	pos += strlen(buf + pos);
	buf[pos++] = '\n';
	return pos;
}

int pl_minisign_pk_format(const pl_minisign_pk *pk, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	char id[PL_MINISIGN_KEYID_LEN];
	pl_minisign_keyid_hex(id, pk->keynum);
	uint8_t blob[PL_MINISIGN_PK_BLOB_BYTES];
	memcpy(blob, alg_legacy, 2);
	memcpy(blob + 2, pk->keynum, PL_MINISIGN_KEYNUM_BYTES);
	memcpy(blob + 2 + PL_MINISIGN_KEYNUM_BYTES, pk->pk, PL_PK_BYTES);
	size_t cap =
	    sizeof(untrusted_prefix) + 32 + PL_MINISIGN_KEYID_LEN + pl_b64_len(sizeof(blob)) + 2;
	char *buf = malloc(cap);
	if (!buf)
		return PL_ERR_NOMEM;
	int n = snprintf(buf, cap, "%sminisign public key %s\n", untrusted_prefix, id);
	size_t pos = (size_t)n;
	pos = b64_line(buf, pos, blob, sizeof(blob));
	buf[pos] = '\0';
	*out = buf;
	*len = pos;
	return 0;
}

int pl_minisign_sig_format(const pl_minisign_sig *sig, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	size_t ul = strnlen(sig->untrusted, sizeof(sig->untrusted)),
	       tl = strnlen(sig->trusted, sizeof(sig->trusted));
	int rc = check_comment(sig->untrusted, ul, PL_MINISIGN_COMMENT_MAX, "untrusted comment");
	if (!rc)
		rc = check_comment(sig->trusted, tl, PL_MINISIGN_TC_MAX, "trusted comment");
	if (rc)
		return PL_ERR_INVALID;
	size_t cap = sizeof(untrusted_prefix) + ul + sizeof(trusted_prefix) + tl +
		     pl_b64_len(PL_MINISIGN_SIG_BLOB_BYTES) + pl_b64_len(PL_SIG_BYTES) + 8;
	char *buf = malloc(cap);
	if (!buf)
		return PL_ERR_NOMEM;
	size_t pos = (size_t)snprintf(buf, cap, "%s%s\n", untrusted_prefix, sig->untrusted);
	pos = b64_line(buf, pos, sig->blob, PL_MINISIGN_SIG_BLOB_BYTES);
	pos += (size_t)snprintf(buf + pos, cap - pos, "%s%s\n", trusted_prefix, sig->trusted);
	pos = b64_line(buf, pos, sig->gsig, PL_SIG_BYTES);
	buf[pos] = '\0';
	*out = buf;
	*len = pos;
	return 0;
}

/* The next line of text[0..len) from *pos: it must end in "\n" and hold no
 * CR or NUL.  *line and *n receive it without the newline. */
static int next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *n,
		     const char *file, int lineno)
{
	if (*pos >= len)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: line %d is missing", file, lineno);
	const char *p = text + *pos;
	const char *nl = memchr(p, '\n', len - *pos);
	if (!nl)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: line %d does not end with a newline",
				   file, lineno);
	size_t k = (size_t)(nl - p);
	if (memchr(p, '\r', k))
		return pl_err_fail(PL_ERR_MALFORMED,
				   "%s: line %d has a carriage return (CRLF line ends are not "
				   "accepted)",
				   file, lineno);
	if (memchr(p, '\0', k))
		return pl_err_fail(PL_ERR_MALFORMED, "%s: line %d has a NUL byte", file, lineno);
	*line = p;
	*n = k;
	*pos += k + 1;
	return 0;
}

/* A "<prefix><comment>" line into out (cap max + 1). */
static int comment_line(const char *line, size_t n, const char *prefix, char *out, size_t max,
			const char *file, int lineno)
{
	size_t pl = strlen(prefix);
	if (n < pl || memcmp(line, prefix, pl) != 0)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: line %d does not start with \"%s\"", file,
				   lineno, prefix);
	char what[64];
	snprintf(what, sizeof(what), "%s: line %d", file, lineno);
	int rc = check_comment(line + pl, n - pl, max, what);
	if (rc)
		return rc;
	if (out) {
		memcpy(out, line + pl, n - pl);
		out[n - pl] = '\0';
	}
	return 0;
}

/* A base64 line of exactly want bytes. */
static int b64_field(const char *line, size_t n, uint8_t *out, size_t want, const char *file,
		     int lineno)
{
	size_t got = 0;
	if (n != pl_b64_len(want) - 1 || pl_b64_decode(out, want, &got, line, n) != 0 ||
	    got != want)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: line %d is not the base64 of %zu bytes",
				   file, lineno, want);
	return 0;
}

static int end_of_file(size_t pos, size_t len, const char *file)
{
	if (pos != len)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: text after the last line", file);
	return 0;
}

int pl_minisign_pk_parse(const char *text, size_t len, pl_minisign_pk *out)
{
	static const char file[] = "minisign public key";
	memset(out, 0, sizeof(*out));
	size_t pos = 0, n = 0;
	const char *line = NULL;
	uint8_t blob[PL_MINISIGN_PK_BLOB_BYTES];
	int rc = next_line(text, len, &pos, &line, &n, file, 1);
	if (!rc)
		rc =
		    comment_line(line, n, untrusted_prefix, NULL, PL_MINISIGN_COMMENT_MAX, file, 1);
	if (!rc)
		rc = next_line(text, len, &pos, &line, &n, file, 2);
	if (!rc)
		rc = b64_field(line, n, blob, sizeof(blob), file, 2);
	if (!rc)
		rc = end_of_file(pos, len, file);
	if (!rc && memcmp(blob, alg_legacy, 2) != 0)
		rc = pl_err_fail(PL_ERR_VERSION, "%s: not an Ed25519 key (\"Ed\")", file);
	if (rc)
		return rc;
	memcpy(out->keynum, blob + 2, PL_MINISIGN_KEYNUM_BYTES);
	memcpy(out->pk, blob + 2 + PL_MINISIGN_KEYNUM_BYTES, PL_PK_BYTES);
	return 0;
}

int pl_minisign_sig_parse(const char *text, size_t len, pl_minisign_sig *out)
{
	static const char file[] = "minisign signature";
	memset(out, 0, sizeof(*out));
	size_t pos = 0, n = 0;
	const char *line = NULL;
	int rc = next_line(text, len, &pos, &line, &n, file, 1);
	if (!rc)
		rc = comment_line(line, n, untrusted_prefix, out->untrusted,
				  PL_MINISIGN_COMMENT_MAX, file, 1);
	if (!rc)
		rc = next_line(text, len, &pos, &line, &n, file, 2);
	if (!rc)
		rc = b64_field(line, n, out->blob, sizeof(out->blob), file, 2);
	if (!rc && memcmp(out->blob, alg_legacy, 2) == 0)
		rc = pl_err_fail(PL_ERR_VERSION,
				 "%s: legacy (not prehashed) signature \"Ed\" refused; sign "
				 "without -l",
				 file);
	else if (!rc && memcmp(out->blob, alg_prehashed, 2) != 0)
		rc = pl_err_fail(PL_ERR_VERSION, "%s: unknown signature algorithm", file);
	if (!rc)
		rc = next_line(text, len, &pos, &line, &n, file, 3);
	if (!rc)
		rc = comment_line(line, n, trusted_prefix, out->trusted, PL_MINISIGN_TC_MAX, file,
				  3);
	if (!rc)
		rc = next_line(text, len, &pos, &line, &n, file, 4);
	if (!rc)
		rc = b64_field(line, n, out->gsig, sizeof(out->gsig), file, 4);
	if (!rc)
		rc = end_of_file(pos, len, file);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}
