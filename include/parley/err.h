/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one error enum of libparley.
 *
 * Every fallible function returns int: 0 on success or a negative pl_err
 * value.  pl_strerror() gives a fixed English sentence for each code; a
 * function that fails on external input may also leave a one-line detail
 * (which field, which limit) retrievable with pl_err_detail() on the same
 * thread until the next failing call.  Values are stable: new codes are
 * appended, never renumbered.
 */
#ifndef PARLEY_ERR_H
#define PARLEY_ERR_H

#include "parley/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pl_err {
	PL_OK = 0,
	/* generic */
	PL_ERR_NOMEM = -1,        /* allocation failed */
	PL_ERR_INVALID = -2,      /* bad argument from the caller (a bug) */
	PL_ERR_IO = -3,           /* a system call failed; errno-derived detail */
	PL_ERR_NOT_FOUND = -4,    /* no such object */
	PL_ERR_EXISTS = -5,       /* object already exists (and no --force) */
	PL_ERR_LIMIT = -6,        /* a size, depth or count limit was exceeded */
	PL_ERR_INTERNAL = -7,     /* an invariant broke: always a bug */
	/* decoding */
	PL_ERR_MALFORMED = -10,   /* input is not well-formed (truncated, bad syntax) */
	PL_ERR_NONCANONICAL = -11,/* well-formed but not in canonical form */
	PL_ERR_TYPE = -12,        /* wrong object type tag */
	PL_ERR_VERSION = -13,     /* unknown format version */
	/* cryptography */
	PL_ERR_BAD_SIGNATURE = -20, /* a signature did not verify */
	PL_ERR_PASSPHRASE = -21,    /* wrong passphrase (or corrupted key file) */
	PL_ERR_CRYPTO = -22,        /* the crypto library failed */
	PL_ERR_FINGERPRINT = -23,   /* typed fingerprint does not match the key */
	/* identity */
	PL_ERR_UNKNOWN_ROOT = -30,   /* signer is not a pinned root */
	PL_ERR_NOT_YET_VALID = -31,  /* before the object's validity period */
	PL_ERR_EXPIRED = -32,        /* after the object's validity period */
	PL_ERR_SUSPENDED = -33,      /* credential suspended at that time */
	PL_ERR_RECALLED = -34,       /* credential recalled at that time */
	PL_ERR_REVOKED = -35,        /* credential revoked at that time */
	PL_ERR_STALE = -36,          /* an older version than one already held */
	PL_ERR_CONFLICT = -37,       /* same version, different content; or history rewritten */
	PL_ERR_TRANSITION = -38,     /* status change not allowed from the current status */
	PL_ERR_WRONG_STATE = -39,    /* object belongs to another state than expected */
	/* store */
	PL_ERR_STORE = -50,          /* the storage backend failed */
	PL_ERR_SCHEMA = -51,         /* store schema newer than this program, or broken */
	PL_ERR_BUSY = -52,           /* store locked by another process */
	PL_ERR_CORRUPT = -53,        /* store damaged: structure or content fails its check */
	/* channels, envelopes, links */
	PL_ERR_UNKNOWN_CHANNEL = -60,   /* no (complete) charter for that channel */
	PL_ERR_NOT_MEMBER = -61,        /* author is not a member of the channel */
	PL_ERR_KIND_NOT_ALLOWED = -62,  /* the charter does not allow this kind */
	PL_ERR_LANE_NOT_ALLOWED = -63,  /* the charter does not allow this precedence */
	PL_ERR_REPLAY = -64,            /* sequence already used by another envelope */
	PL_ERR_SEQUENCE = -65,          /* sequence gap or wrong previous-envelope hash */
	PL_ERR_CLOCK = -66,             /* created time too far from the receiver's clock */
	PL_ERR_UNSIGNED = -67,          /* charter not yet signed by every state */
	PL_ERR_PROTOCOL = -68,          /* peer broke the link protocol */
	PL_ERR_AUTH = -69,              /* missing, bad or expired API token or challenge */
} pl_err;

/* A fixed, human-readable sentence for code (never NULL). */
PL_EXPORT const char *pl_strerror(int code);

/* A stable short identifier for code, e.g. "bad-signature" (never NULL). */
PL_EXPORT const char *pl_err_name(int code);

/*
 * The detail left by the last failing call on this thread, or "" when none.
 * The string is owned by the library and valid until the next call that
 * sets or clears the detail.
 */
PL_EXPORT const char *pl_err_detail(void);

/* Record a detail for the caller (library-internal use, exported for node/ and cli/). */
PL_EXPORT void pl_err_set_detail(const char *fmt, ...) PL_PRINTF(1, 2);
PL_EXPORT void pl_err_clear_detail(void);

/* Set the detail and return code: `return pl_err_fail(PL_ERR_LIMIT, "body over %zu", n);` */
PL_EXPORT int pl_err_fail(int code, const char *fmt, ...) PL_PRINTF(2, 3);

#ifdef __cplusplus
}
#endif
#endif /* PARLEY_ERR_H */
