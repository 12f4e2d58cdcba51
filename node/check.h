/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's start-up check of its own store (config key store_check).
 *
 * SQLite checks its pages and B-trees but not what they hold, so a bit
 * flipped inside a row, a key or a value goes unseen by it.  This check
 * holds the node data model to its invariants: every channel-log row names
 * an envelope whose transcript entry (its bytes: nstore.h) still hashes to
 * its id, and whose metadata agrees with the envelope's own fields and
 * with the row; there are exactly as many envelopes (metadata rows) as log
 * rows; the transcript has one entry per index below its size
 * and each leaf hash matches its entry (full: every stored interior hash
 * too).  It reads only, and stops at the first problem.
 */
#ifndef PARLEY_NODE_CHECK_H
#define PARLEY_NODE_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "nstore.h"

typedef struct node_check_stats {
	uint64_t envelopes; /* envelopes checked */
	uint64_t entries;   /* transcript entries checked */
} node_check_stats;

/*
 * Run the check.  0 when every invariant holds; PL_ERR_CORRUPT with a
 * detail "store is damaged: ..." naming the first broken one; another
 * error when the store could not be read.  st (may be NULL) gets counts.
 */
int node_store_check(nstore *s, bool full, node_check_stats *st);

#endif /* PARLEY_NODE_CHECK_H */
