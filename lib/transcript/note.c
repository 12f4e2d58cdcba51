/* SPDX-License-Identifier: Apache-2.0 */
/*
 * C2SP signed notes: text rules, key names and IDs, verifier keys, signing
 * and opening (parsing plus signature checks).
 *
 * A note is opened in one pass over bytes handed in: nothing is kept, no
 * clock is read.  Ed25519 signatures (type 0x01) cover the text; timestamped
 * cosignatures (type 0x04, tlog-cosignature) cover the cosignature/v1
 * message, which is built here so that one verifier list can hold both.
 * Checkpoint syntax lives in checkpoint.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parley/crypto.h"
#include "parley/err.h"
#include "parley/transcript.h"
#include "transcript/text.h"

/* U+2014 EM DASH and a space open every signature line. */
static const uint8_t sig_prefix[] = {0xE2, 0x80, 0x94, 0x20};
#define SIG_PREFIX_LEN sizeof(sig_prefix)

/* ======================================== text rules */

/*
 * Decode one UTF-8 sequence at p (n > 0 bytes available): returns its length
 * and stores the code point, or 0 when the bytes are not valid UTF-8.
 */
static size_t utf8_decode(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint8_t b = p[0];
	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	size_t len;
	uint32_t c, min;
	if (b >= 0xC2 && b <= 0xDF) {
		len = 2;
		c = b & 0x1F;
		min = 0x80;
	} else if (b >= 0xE0 && b <= 0xEF) {
		len = 3;
		c = b & 0x0F;
		min = 0x800;
	} else if (b >= 0xF0 && b <= 0xF4) {
		len = 4;
		c = b & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

bool pl_tx_text_is_clean(const uint8_t *p, size_t n, size_t *bad)
{
	size_t i = 0;
	while (i < n) {
		uint32_t c;
		size_t k = utf8_decode(p + i, n - i, &c);
		if (k == 0 || (c < 0x20 && c != '\n')) {
			if (bad)
				*bad = i;
			return false;
		}
		i += k;
	}
	return true;
}

/* Unicode White_Space (what Go's unicode.IsSpace accepts), beyond ASCII controls. */
static bool is_unicode_space(uint32_t c)
{
	return c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool pl_tx_name_is_valid(const uint8_t *p, size_t n)
{
	if (n == 0 || n > PL_NOTE_NAME_MAX)
		return false;
	size_t i = 0;
	while (i < n) {
		uint32_t c;
		size_t k = utf8_decode(p + i, n - i, &c);
		if (k == 0 || c < 0x20 || c == '+' || is_unicode_space(c))
			return false;
		i += k;
	}
	return true;
}

bool pl_tx_is_b64_alphabet(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || c == '='))
			return false;
	}
	return true;
}

size_t pl_tx_cosig_header(char out[PL_TX_COSIG_HDR_MAX + 1], int64_t t)
{
	int k = snprintf(out, PL_TX_COSIG_HDR_MAX + 1, "cosignature/v1\ntime %lld\n", (long long)t);
	return k < 0 ? 0 : (size_t)k;
}

bool pl_note_name_is_valid(const char *name)
{
	return name &&
	       pl_tx_name_is_valid((const uint8_t *)name, strnlen(name, PL_NOTE_NAME_MAX + 1));
}

/* ======================================== keys */

static bool type_is_known(uint8_t type)
{
	return type == PL_NOTE_TYPE_ED25519 || type == PL_NOTE_TYPE_COSIG_V1;
}

void pl_note_key_id(uint8_t out[PL_NOTE_KEYID_BYTES], const char *name, uint8_t type,
		    const uint8_t pk[PL_PK_BYTES])
{
	static const uint8_t nl = '\n';
	uint8_t h[PL_HASH_BYTES];
	pl_sha256_ctx c;
	pl_sha256_init(&c);
	pl_sha256_update(&c, (const uint8_t *)name, strlen(name));
	pl_sha256_update(&c, &nl, 1);
	pl_sha256_update(&c, &type, 1);
	pl_sha256_update(&c, pk, PL_PK_BYTES);
	pl_sha256_final(&c, h);
	memcpy(out, h, PL_NOTE_KEYID_BYTES);
}

int pl_note_verifier_init(pl_note_verifier *v, const char *name, uint8_t type,
			  const uint8_t pk[PL_PK_BYTES])
{
	if (!pl_note_name_is_valid(name))
		return pl_err_fail(PL_ERR_INVALID, "note: invalid key name");
	if (!type_is_known(type))
		return pl_err_fail(PL_ERR_INVALID, "note: unknown signature type 0x%02x", type);
	pl_note_verifier t;
	memset(&t, 0, sizeof(t));
	memcpy(t.name, name, strlen(name) + 1);
	t.type = type;
	memcpy(t.pk, pk, PL_PK_BYTES);
	pl_note_key_id(t.key_id, t.name, type, pk);
	*v = t;
	return 0;
}

int pl_note_verifier_parse(pl_note_verifier *v, const char *vkey, size_t len)
{
	if (!vkey && len)
		return pl_err_fail(PL_ERR_INVALID, "verifier key: NULL");
	const char *plus = vkey ? memchr(vkey, '+', len) : NULL;
	if (!plus)
		return pl_err_fail(PL_ERR_MALFORMED, "verifier key: expected name+keyid+key");
	size_t nlen = (size_t)(plus - vkey);
	if (!pl_tx_name_is_valid((const uint8_t *)vkey, nlen))
		return pl_err_fail(PL_ERR_MALFORMED, "verifier key: invalid key name");
	const char *hex = plus + 1;
	size_t rest = len - nlen - 1;
	if (rest < 9 || hex[8] != '+')
		return pl_err_fail(PL_ERR_MALFORMED, "verifier key: key ID must be 8 hex digits");
	for (int i = 0; i < 8; i++) {
		char c = hex[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return pl_err_fail(PL_ERR_MALFORMED,
					   "verifier key: key ID must be lower-case hex");
	}
	uint8_t id[PL_NOTE_KEYID_BYTES];
	size_t got;
	if (pl_hex_decode(id, sizeof(id), &got, hex, 8) != 0 || got != sizeof(id))
		return pl_err_fail(PL_ERR_MALFORMED, "verifier key: bad key ID");
	const char *b64 = hex + 9;
	size_t blen = rest - 9;
	uint8_t key[1 + PL_PK_BYTES];
	if (!pl_tx_is_b64_alphabet(b64, blen) ||
	    pl_b64_decode(key, sizeof(key), &got, b64, blen) != 0 || got == 0)
		return pl_err_fail(PL_ERR_MALFORMED, "verifier key: bad base64 key");
	if (!type_is_known(key[0]))
		return pl_err_fail(PL_ERR_TYPE, "verifier key: unknown signature type 0x%02x",
				   key[0]);
	if (got != sizeof(key))
		return pl_err_fail(PL_ERR_MALFORMED, "verifier key: key is %zu bytes, not %d",
				   got - 1, PL_PK_BYTES);
	pl_note_verifier t;
	memset(&t, 0, sizeof(t));
	memcpy(t.name, vkey, nlen);
	t.type = key[0];
	memcpy(t.pk, key + 1, PL_PK_BYTES);
	pl_note_key_id(t.key_id, t.name, t.type, t.pk);
	if (memcmp(t.key_id, id, sizeof(id)) != 0)
		return pl_err_fail(PL_ERR_MALFORMED,
				   "verifier key: key ID does not match the name and key");
	*v = t;
	return 0;
}

int pl_note_verifier_format(const pl_note_verifier *v, pl_buf *out)
{
	if (!pl_note_name_is_valid(v->name) || !type_is_known(v->type))
		return pl_err_fail(PL_ERR_INVALID, "verifier key: invalid name or type");
	uint8_t key[1 + PL_PK_BYTES];
	key[0] = v->type;
	memcpy(key + 1, v->pk, PL_PK_BYTES);
	char b64[64];
	char hex[2 * PL_NOTE_KEYID_BYTES + 1];
	pl_b64_encode(b64, key, sizeof(key));
	pl_hex_encode(hex, v->key_id, PL_NOTE_KEYID_BYTES);
	return pl_buf_printf(out, "%s+%s+%s", v->name, hex, b64);
}

/* ======================================== signing */

/* Check that text can be the text of a note of at most PL_NOTE_MAX_BYTES. */
static int check_text(const uint8_t *text, size_t len)
{
	size_t bad;
	if (!text || len == 0)
		return pl_err_fail(PL_ERR_MALFORMED, "note: empty text");
	if (len > PL_NOTE_MAX_BYTES)
		return pl_err_fail(PL_ERR_LIMIT, "note: text over %u bytes", PL_NOTE_MAX_BYTES);
	if (text[len - 1] != '\n')
		return pl_err_fail(PL_ERR_MALFORMED, "note: text does not end in a newline");
	if (!pl_tx_text_is_clean(text, len, &bad))
		return pl_err_fail(PL_ERR_MALFORMED,
				   "note: text is not UTF-8 or has a control character at byte %zu",
				   bad);
	return 0;
}

/* Append "— <name> <base64(raw)>\n". */
static int append_sig_line(pl_buf *out, const char *name, const uint8_t *raw, size_t rawlen)
{
	char b64[128];
	if (pl_b64_len(rawlen) > sizeof(b64))
		return pl_err_fail(PL_ERR_INTERNAL, "note: signature too long to encode");
	pl_b64_encode(b64, raw, rawlen);
	size_t start = out->len;
	int rc = pl_buf_append(out, sig_prefix, SIG_PREFIX_LEN);
	if (!rc)
		rc = pl_buf_printf(out, "%s %s\n", name, b64);
	if (rc)
		out->len = start;
	return rc;
}

int pl_note_sign(pl_buf *out, const uint8_t *text, size_t len, const char *name,
		 const pl_keypair *kp)
{
	int rc = check_text(text, len);
	if (rc)
		return rc;
	if (!pl_note_name_is_valid(name))
		return pl_err_fail(PL_ERR_INVALID, "note: invalid key name");
	/* What we sign must open: text, blank line, one line of prefix, name, space, 92, \n. */
	if (len + 1 + SIG_PREFIX_LEN + strlen(name) + 1 + 92 + 1 > PL_NOTE_MAX_BYTES)
		return pl_err_fail(PL_ERR_LIMIT, "note: signed note would exceed %u bytes",
				   PL_NOTE_MAX_BYTES);
	uint8_t raw[PL_NOTE_KEYID_BYTES + PL_SIG_BYTES];
	pl_note_key_id(raw, name, PL_NOTE_TYPE_ED25519, kp->pk);
	rc = pl_sign(raw + PL_NOTE_KEYID_BYTES, text, len, kp);
	if (rc)
		return rc;
	size_t start = out->len;
	rc = pl_buf_append(out, text, len);
	if (!rc)
		rc = pl_buf_append(out, "\n", 1);
	if (!rc)
		rc = append_sig_line(out, name, raw, sizeof(raw));
	if (rc)
		out->len = start;
	return rc;
}

/* ======================================== opening */

/* State shared by the checks of one note's signature lines. */
struct opening {
	const uint8_t *text;
	size_t tlen;
	uint8_t *cosig; /* header room + text, built on first use */
};

static int check_ed25519(struct opening *o, const pl_note_verifier *v, const uint8_t *sig,
			 size_t slen)
{
	if (slen != PL_SIG_BYTES)
		return PL_ERR_BAD_SIGNATURE;
	return pl_verify(sig, o->text, o->tlen, v->pk) ? PL_ERR_BAD_SIGNATURE : 0;
}

static int check_cosig(struct opening *o, const pl_note_verifier *v, const uint8_t *sig,
		       size_t slen, int64_t *time)
{
	if (slen != 8 + PL_SIG_BYTES)
		return PL_ERR_BAD_SIGNATURE;
	uint64_t t = 0;
	for (int i = 0; i < 8; i++)
		t = (t << 8) | sig[i];
	if (t > (uint64_t)INT64_MAX)
		return PL_ERR_BAD_SIGNATURE;
	if (!o->cosig) {
		/* The text is copied once, after room for the longest header. */
		o->cosig = malloc(PL_TX_COSIG_HDR_MAX + o->tlen);
		if (!o->cosig)
			return PL_ERR_NOMEM;
		memcpy(o->cosig + PL_TX_COSIG_HDR_MAX, o->text, o->tlen);
	}
	char hdr[PL_TX_COSIG_HDR_MAX + 1];
	size_t hlen = pl_tx_cosig_header(hdr, (int64_t)t);
	uint8_t *msg = o->cosig + PL_TX_COSIG_HDR_MAX - hlen;
	memcpy(msg, hdr, hlen);
	if (pl_verify(sig + 8, msg, hlen + o->tlen, v->pk))
		return PL_ERR_BAD_SIGNATURE;
	*time = (int64_t)t;
	return 0;
}

/* Offset of the last "\n\n" in p, or SIZE_MAX. */
static size_t last_blank_line(const uint8_t *p, size_t n)
{
	for (size_t i = n; i >= 2; i--)
		if (p[i - 2] == '\n' && p[i - 1] == '\n')
			return i - 2;
	return SIZE_MAX;
}

static int open_lines(struct opening *o, const uint8_t *sigs, size_t slen,
		      const pl_note_verifier *vs, size_t nvs, pl_note_result *results, bool *any)
{
	uint8_t raw[PL_NOTE_SIG_MAX];
	size_t nlines = 0;
	size_t pos = 0;
	while (pos < slen) {
		const uint8_t *line = sigs + pos;
		const uint8_t *nl = memchr(line, '\n', slen - pos);
		size_t llen = (size_t)(nl - line); /* sigs ends in '\n': nl is found */
		pos += llen + 1;
		if (++nlines > PL_NOTE_MAX_SIGS)
			return pl_err_fail(PL_ERR_LIMIT, "note: more than %d signature lines",
					   PL_NOTE_MAX_SIGS);
		if (llen < SIG_PREFIX_LEN || memcmp(line, sig_prefix, SIG_PREFIX_LEN) != 0)
			return pl_err_fail(
			    PL_ERR_MALFORMED,
			    "note: signature line %zu does not start with an em dash", nlines);
		const uint8_t *name = line + SIG_PREFIX_LEN;
		size_t rest = llen - SIG_PREFIX_LEN;
		const uint8_t *sp = memchr(name, ' ', rest);
		if (!sp)
			return pl_err_fail(PL_ERR_MALFORMED,
					   "note: signature line %zu has no signature", nlines);
		size_t nlen = (size_t)(sp - name);
		const char *b64 = (const char *)sp + 1;
		size_t blen = rest - nlen - 1;
		if (!pl_tx_name_is_valid(name, nlen))
			return pl_err_fail(PL_ERR_MALFORMED,
					   "note: signature line %zu has an invalid key name",
					   nlines);
		if (blen / 4 * 3 > sizeof(raw))
			return pl_err_fail(PL_ERR_LIMIT, "note: signature line %zu is too long",
					   nlines);
		size_t rawlen;
		if (blen == 0 || !pl_tx_is_b64_alphabet(b64, blen) ||
		    pl_b64_decode(raw, sizeof(raw), &rawlen, b64, blen) != 0 ||
		    rawlen <= PL_NOTE_KEYID_BYTES)
			return pl_err_fail(PL_ERR_MALFORMED,
					   "note: signature line %zu has a bad base64 signature",
					   nlines);
		for (size_t j = 0; j < nvs; j++) {
			const pl_note_verifier *v = &vs[j];
			if (strlen(v->name) != nlen || memcmp(v->name, name, nlen) != 0 ||
			    memcmp(v->key_id, raw, PL_NOTE_KEYID_BYTES) != 0)
				continue;
			const uint8_t *sig = raw + PL_NOTE_KEYID_BYTES;
			size_t siglen = rawlen - PL_NOTE_KEYID_BYTES;
			int64_t t = 0;
			int rc = v->type == PL_NOTE_TYPE_COSIG_V1
				     ? check_cosig(o, v, sig, siglen, &t)
				     : check_ed25519(o, v, sig, siglen);
			if (rc == PL_ERR_NOMEM)
				return rc;
			if (rc) {
				char hex[2 * PL_NOTE_KEYID_BYTES + 1];
				pl_hex_encode(hex, v->key_id, PL_NOTE_KEYID_BYTES);
				return pl_err_fail(
				    PL_ERR_BAD_SIGNATURE,
				    "note: signature by known key %s+%s does not verify", v->name,
				    hex);
			}
			*any = true;
			if (results) {
				results[j].verified = true;
				if (t > results[j].time)
					results[j].time = t;
			}
		}
	}
	return 0;
}

int pl_note_open(const uint8_t *note, size_t len, const pl_note_verifier *vs, size_t nvs,
		 size_t *text_len, pl_note_result *results)
{
	if ((!note && len) || (!vs && nvs) || !text_len)
		return pl_err_fail(PL_ERR_INVALID, "note: NULL argument");
	for (size_t j = 0; j < nvs; j++) {
		if (!type_is_known(vs[j].type) || !pl_note_name_is_valid(vs[j].name))
			return pl_err_fail(PL_ERR_INVALID, "note: verifier %zu is not initialised",
					   j);
		if (results)
			results[j] = (pl_note_result){false, 0};
	}
	if (len > PL_NOTE_MAX_BYTES)
		return pl_err_fail(PL_ERR_LIMIT, "note: over %u bytes", PL_NOTE_MAX_BYTES);
	size_t bad;
	if (!pl_tx_text_is_clean(note, len, &bad))
		return pl_err_fail(PL_ERR_MALFORMED,
				   "note: not UTF-8 or a control character at byte %zu", bad);
	size_t split = last_blank_line(note, len);
	if (split == SIZE_MAX)
		return pl_err_fail(PL_ERR_MALFORMED, "note: no blank line before the signatures");
	const uint8_t *sigs = note + split + 2;
	size_t slen = len - split - 2;
	if (slen == 0)
		return pl_err_fail(PL_ERR_MALFORMED, "note: no signature lines");
	if (sigs[slen - 1] != '\n')
		return pl_err_fail(PL_ERR_MALFORMED, "note: last line does not end in a newline");

	struct opening o = {.text = note, .tlen = split + 1, .cosig = NULL};
	bool any = false;
	int rc = open_lines(&o, sigs, slen, vs, nvs, results, &any);
	free(o.cosig);
	if (rc)
		return rc;
	if (!any)
		return pl_err_fail(PL_ERR_BAD_SIGNATURE, "note: no signature by a known key");
	*text_len = o.tlen;
	return 0;
}
