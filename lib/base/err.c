/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error codes: their sentences and names, and the per-thread detail string
 * that tells a user which field or limit a failure was about.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "parley/err.h"

static _Thread_local char err_detail[256];

static const struct {
	int code;
	const char *name;
	const char *text;
} err_table[] = {
	{PL_OK, "ok", "success"},
	{PL_ERR_NOMEM, "no-memory", "out of memory"},
	{PL_ERR_INVALID, "invalid-argument", "invalid argument"},
	{PL_ERR_IO, "io", "input/output error"},
	{PL_ERR_NOT_FOUND, "not-found", "not found"},
	{PL_ERR_EXISTS, "exists", "already exists"},
	{PL_ERR_LIMIT, "limit", "size or count limit exceeded"},
	{PL_ERR_INTERNAL, "internal", "internal error (a bug)"},
	{PL_ERR_MALFORMED, "malformed", "malformed input"},
	{PL_ERR_NONCANONICAL, "non-canonical", "input is not in canonical form"},
	{PL_ERR_TYPE, "wrong-type", "wrong object type"},
	{PL_ERR_VERSION, "unknown-version", "unknown format version"},
	{PL_ERR_BAD_SIGNATURE, "bad-signature", "signature does not verify"},
	{PL_ERR_PASSPHRASE, "bad-passphrase", "wrong passphrase or damaged key file"},
	{PL_ERR_CRYPTO, "crypto", "cryptographic library failure"},
	{PL_ERR_FINGERPRINT, "fingerprint-mismatch", "fingerprint does not match the key"},
	{PL_ERR_UNKNOWN_ROOT, "unknown-root", "signer is not a pinned state root"},
	{PL_ERR_NOT_YET_VALID, "not-yet-valid", "not yet valid"},
	{PL_ERR_EXPIRED, "expired", "expired"},
	{PL_ERR_SUSPENDED, "suspended", "credential is suspended"},
	{PL_ERR_RECALLED, "recalled", "credential is recalled"},
	{PL_ERR_REVOKED, "revoked", "credential is revoked"},
	{PL_ERR_STALE, "stale", "older than the version already held"},
	{PL_ERR_CONFLICT, "conflict", "conflicts with what is already held"},
	{PL_ERR_TRANSITION, "bad-transition", "status change not allowed"},
	{PL_ERR_WRONG_STATE, "wrong-state", "belongs to another state"},
	{PL_ERR_STORE, "store", "storage failure"},
	{PL_ERR_SCHEMA, "schema", "store schema is newer than this program or damaged"},
	{PL_ERR_BUSY, "busy", "store is locked by another process"},
	{PL_ERR_CORRUPT, "corrupt", "store is damaged"},
	{PL_ERR_UNKNOWN_CHANNEL, "unknown-channel", "no signed charter for that channel"},
	{PL_ERR_NOT_MEMBER, "not-member", "author is not a member of the channel"},
	{PL_ERR_KIND_NOT_ALLOWED, "kind-not-allowed", "the channel does not allow this kind"},
	{PL_ERR_LANE_NOT_ALLOWED, "precedence-not-allowed", "the channel does not allow this precedence"},
	{PL_ERR_REPLAY, "replay", "sequence number already used (replay)"},
	{PL_ERR_SEQUENCE, "sequence", "sequence gap or wrong previous envelope"},
	{PL_ERR_CLOCK, "clock", "created time too far from this node's clock"},
	{PL_ERR_UNSIGNED, "charter-incomplete", "charter not yet signed by every state"},
	{PL_ERR_PROTOCOL, "protocol", "peer broke the link protocol"},
	{PL_ERR_AUTH, "unauthorized", "missing, invalid or expired credentials for the API"},
};

static size_t err_find(int code)
{
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == code)
			return i;
	return SIZE_MAX;
}

const char *pl_strerror(int code)
{
	size_t i = err_find(code);
	return i == SIZE_MAX ? "unknown error" : err_table[i].text;
}

const char *pl_err_name(int code)
{
	size_t i = err_find(code);
	return i == SIZE_MAX ? "unknown" : err_table[i].name;
}

const char *pl_err_detail(void)
{
	return err_detail;
}

/* Formats through a copy, so a detail may quote the previous detail. */
PL_PRINTF(1, 0) static void err_vset(const char *fmt, va_list ap)
{
	char tmp[sizeof(err_detail)];
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	memcpy(err_detail, tmp, sizeof(tmp));
}

void pl_err_set_detail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(fmt, ap);
	va_end(ap);
}

void pl_err_clear_detail(void)
{
	err_detail[0] = '\0';
}

int pl_err_fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(fmt, ap);
	va_end(ap);
	return code;
}
