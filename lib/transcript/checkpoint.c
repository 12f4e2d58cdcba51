/* SPDX-License-Identifier: Apache-2.0 */
/*
 * C2SP tlog-checkpoint texts and tlog-cosignature v1 (Ed25519) lines.
 *
 * A checkpoint is formatted and parsed as plain text; signing and opening
 * it is note.c's business (pl_checkpoint_open merely chains the two).  A
 * cosignature is a signed-note line of type 0x04 whose signature covers
 * "cosignature/v1\ntime <t>\n" plus the checkpoint text.  Whether a
 * cosigner may sign a given checkpoint (consistency with what it saw
 * before) is decided by its caller, not here; times are passed in.
 */
#include <string.h>

#include "parley/crypto.h"
#include "parley/err.h"
#include "parley/transcript.h"
#include "transcript/text.h"

/* base64 of 32 bytes: 44 characters, one '=' */
#define ROOT_B64_LEN 44

/* ======================================== checkpoints */

/* ext (n bytes) is a run of non-empty, clean lines each ending in '\n'. */
static bool ext_is_valid(const uint8_t *ext, size_t n, size_t *bad)
{
	if (n == 0)
		return true;
	if (!ext || ext[n - 1] != '\n' || ext[0] == '\n') {
		*bad = 0;
		return false;
	}
	for (size_t i = 1; i < n; i++)
		if (ext[i] == '\n' && ext[i - 1] == '\n') {
			*bad = i;
			return false;
		}
	return pl_tx_text_is_clean(ext, n, bad);
}

int pl_checkpoint_format(const pl_checkpoint *cp, pl_buf *out)
{
	size_t olen = strnlen(cp->origin, sizeof(cp->origin));
	if (olen == sizeof(cp->origin) || !pl_tx_name_is_valid((const uint8_t *)cp->origin, olen))
		return pl_err_fail(PL_ERR_INVALID,
				   "checkpoint: origin must be a key name (no spaces, no '+')");
	size_t bad;
	if (!ext_is_valid(cp->ext, cp->ext_len, &bad))
		return pl_err_fail(PL_ERR_INVALID, "checkpoint: bad extension lines (byte %zu)",
				   bad);
	char root[ROOT_B64_LEN + 1];
	pl_b64_encode(root, cp->root, PL_HASH_BYTES);
	size_t start = out->len;
	int rc =
	    pl_buf_printf(out, "%s\n%llu\n%s\n", cp->origin, (unsigned long long)cp->size, root);
	if (!rc)
		rc = pl_buf_append(out, cp->ext, cp->ext_len);
	if (rc)
		out->len = start;
	return rc;
}

/* Next line of text[*pos..n): sets *line and *llen (without '\n'); false when no
 * complete line is left. */
static bool next_line(const uint8_t *text, size_t n, size_t *pos, const uint8_t **line,
		      size_t *llen)
{
	if (*pos >= n)
		return false;
	const uint8_t *nl = memchr(text + *pos, '\n', n - *pos);
	if (!nl)
		return false;
	*line = text + *pos;
	*llen = (size_t)(nl - *line);
	*pos += *llen + 1;
	return true;
}

static int parse_size(const uint8_t *s, size_t n, uint64_t *out)
{
	if (n == 0)
		return pl_err_fail(PL_ERR_MALFORMED, "checkpoint: empty tree size line");
	if (n > 1 && s[0] == '0')
		return pl_err_fail(PL_ERR_MALFORMED, "checkpoint: tree size has a leading zero");
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return pl_err_fail(PL_ERR_MALFORMED,
					   "checkpoint: tree size is not a decimal number");
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return pl_err_fail(PL_ERR_MALFORMED, "checkpoint: tree size over 2^64-1");
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int pl_checkpoint_parse(pl_checkpoint *cp, const uint8_t *text, size_t len)
{
	if (!text && len)
		return pl_err_fail(PL_ERR_INVALID, "checkpoint: NULL text");
	if (len > PL_NOTE_MAX_BYTES)
		return pl_err_fail(PL_ERR_LIMIT, "checkpoint: over %u bytes", PL_NOTE_MAX_BYTES);
	if (len == 0 || text[len - 1] != '\n')
		return pl_err_fail(PL_ERR_MALFORMED, "checkpoint: text does not end in a newline");
	size_t bad;
	if (!pl_tx_text_is_clean(text, len, &bad))
		return pl_err_fail(PL_ERR_MALFORMED,
				   "checkpoint: not UTF-8 or a control character at byte %zu", bad);

	pl_checkpoint t;
	memset(&t, 0, sizeof(t));
	size_t pos = 0;
	const uint8_t *line;
	size_t llen;

	if (!next_line(text, len, &pos, &line, &llen) || llen == 0)
		return pl_err_fail(PL_ERR_MALFORMED, "checkpoint: empty origin line");
	if (llen > PL_CHECKPOINT_ORIGIN_MAX)
		return pl_err_fail(PL_ERR_LIMIT, "checkpoint: origin over %d bytes",
				   PL_CHECKPOINT_ORIGIN_MAX);
	memcpy(t.origin, line, llen);

	if (!next_line(text, len, &pos, &line, &llen))
		return pl_err_fail(PL_ERR_MALFORMED, "checkpoint: no tree size line");
	int rc = parse_size(line, llen, &t.size);
	if (rc)
		return rc;

	if (!next_line(text, len, &pos, &line, &llen))
		return pl_err_fail(PL_ERR_MALFORMED, "checkpoint: no root hash line");
	size_t got;
	if (llen != ROOT_B64_LEN || !pl_tx_is_b64_alphabet((const char *)line, llen) ||
	    pl_b64_decode(t.root, sizeof(t.root), &got, (const char *)line, llen) != 0 ||
	    got != PL_HASH_BYTES)
		return pl_err_fail(PL_ERR_MALFORMED,
				   "checkpoint: root hash is not base64 of 32 bytes");

	if (pos < len) {
		if (!ext_is_valid(text + pos, len - pos, &bad))
			return pl_err_fail(PL_ERR_MALFORMED, "checkpoint: empty extension line");
		t.ext = text + pos;
		t.ext_len = len - pos;
	}
	*cp = t;
	return 0;
}

int pl_checkpoint_open(pl_checkpoint *cp, const uint8_t *note, size_t len,
		       const pl_note_verifier *vs, size_t nvs, pl_note_result *results)
{
	size_t tlen;
	int rc = pl_note_open(note, len, vs, nvs, &tlen, results);
	if (rc)
		return rc;
	return pl_checkpoint_parse(cp, note, tlen);
}

/* ======================================== cosignatures */

int pl_cosig_message(pl_buf *out, const uint8_t *cp_text, size_t len, int64_t time)
{
	if (time < 0)
		return pl_err_fail(PL_ERR_INVALID, "cosignature: negative time");
	if (!cp_text && len)
		return pl_err_fail(PL_ERR_INVALID, "cosignature: NULL checkpoint");
	char hdr[PL_TX_COSIG_HDR_MAX + 1];
	size_t hlen = pl_tx_cosig_header(hdr, time);
	size_t start = out->len;
	int rc = pl_buf_reserve(out, hlen + len);
	if (!rc)
		rc = pl_buf_append(out, hdr, hlen);
	if (!rc)
		rc = pl_buf_append(out, cp_text, len);
	if (rc)
		out->len = start;
	return rc;
}

int pl_cosig_sign(pl_buf *out, const uint8_t *cp_text, size_t len, const char *name,
		  const pl_keypair *kp, int64_t time)
{
	if (time < 0)
		return pl_err_fail(PL_ERR_INVALID, "cosignature: negative time");
	if (!pl_note_name_is_valid(name))
		return pl_err_fail(PL_ERR_INVALID, "cosignature: invalid cosigner name");
	pl_checkpoint cp;
	int rc = pl_checkpoint_parse(&cp, cp_text, len);
	if (rc)
		return rc;

	uint8_t raw[PL_NOTE_KEYID_BYTES + 8 + PL_SIG_BYTES];
	pl_note_key_id(raw, name, PL_NOTE_TYPE_COSIG_V1, kp->pk);
	for (int i = 0; i < 8; i++)
		raw[PL_NOTE_KEYID_BYTES + i] = (uint8_t)((uint64_t)time >> (56 - 8 * i));
	pl_buf msg = {0};
	rc = pl_cosig_message(&msg, cp_text, len, time);
	if (!rc)
		rc = pl_sign(raw + PL_NOTE_KEYID_BYTES + 8, msg.data, msg.len, kp);
	pl_buf_clear(&msg);
	if (rc)
		return rc;

	char b64[128];
	pl_b64_encode(b64, raw, sizeof(raw));
	static const uint8_t dash[] = {0xE2, 0x80, 0x94, 0x20};
	size_t start = out->len;
	rc = pl_buf_append(out, dash, sizeof(dash));
	if (!rc)
		rc = pl_buf_printf(out, "%s %s\n", name, b64);
	if (rc)
		out->len = start;
	return rc;
}

int pl_cosig_verify(const uint8_t *note, size_t len, const pl_note_verifier *v, int64_t *time,
		    pl_checkpoint *cp)
{
	if (v->type != PL_NOTE_TYPE_COSIG_V1)
		return pl_err_fail(PL_ERR_INVALID, "cosignature: verifier is not of type 0x04");
	pl_checkpoint t;
	pl_note_result res;
	int rc = pl_checkpoint_open(&t, note, len, v, 1, &res);
	if (rc)
		return rc;
	*time = res.time;
	if (cp)
		*cp = t;
	return 0;
}
