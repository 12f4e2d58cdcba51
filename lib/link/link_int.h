/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/link internals: the frame codec shared by the state machine.
 *
 * frame.c turns one frame's CBOR bytes into a link_frame (strictly: exact
 * field sets, canonical encoding, ranges) and a link_frame into its wire
 * bytes with the 4-byte length prefix.  It knows nothing of link state:
 * sequence, offset and receipt rules live in link.c.
 */
#ifndef PARLEY_LIB_LINK_INT_H
#define PARLEY_LIB_LINK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "parley/buf.h"
#include "parley/codec.h"
#include "parley/link.h"

/* Frame types, the value of key "t". */
enum {
	LINK_HELLO = 1,
	LINK_DATA = 2,
	LINK_RECEIPT = 3,
	LINK_PING = 4,
	LINK_PONG = 5,
	LINK_CLOSE = 6,
};

typedef struct link_frame {
	unsigned type;
	/* HELLO */
	uint64_t ver;
	pl_slice node;
	uint64_t next[PL_LINK_LANES];
	uint64_t lanes; /* PL_LINK_LANES_ALL when the key is absent */
	/* DATA, RECEIPT */
	unsigned lane;
	uint64_t lseq;
	uint32_t kind;
	uint64_t total, off;
	pl_slice data;
	uint64_t upto;
	/* PING, PONG */
	uint64_t n;
	/* CLOSE */
	pl_slice reason;
} link_frame;

/*
 * Parse the CBOR body of one frame (without its length prefix).  On success
 * *root owns the decoded tree and the slices in *f borrow from it (free it
 * with pl_cbor_free after use).  On failure *root is NULL and the error is
 * PL_ERR_VERSION for a HELLO of another version, else PL_ERR_PROTOCOL, with
 * a one-line detail (pl_err_detail) fit to be a CLOSE reason.
 */
int link_frame_parse(const uint8_t *p, size_t n, link_frame *f, pl_cbor **root);

/*
 * Append the length prefix and the canonical CBOR of f to out.  Fields not
 * used by f->type are ignored.  On failure (PL_ERR_NOMEM, or
 * PL_ERR_INTERNAL for a frame over PL_LINK_MAX_FRAME) out is unchanged.
 */
int link_frame_put(pl_buf *out, const link_frame *f);

/*
 * Copy s (n bytes, any content) into dst as valid UTF-8 without control
 * characters (each offending byte becomes '?'), cut at a character boundary
 * to at most PL_LINK_MAX_REASON bytes, NUL-terminated.
 */
void link_reason_copy(char dst[PL_LINK_MAX_REASON + 1], const char *s, size_t n);

#endif /* PARLEY_LIB_LINK_INT_H */
