/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The public feed of adopted joint statements (docs/statements.md, "The
 * public feed"): a read-only HTTP server on its own address, separate
 * from the officials' API, serving exactly
 *
 *   GET /feed.atom                               an Atom 1.0 feed (RFC 4287)
 *   GET /statements/CH/STMT/statement.txt        the exact text
 *   GET /statements/CH/STMT/bundle.json          the bundle
 *   GET /statements/CH/STMT/S.minisig, S.pub     state S's minisign files
 *
 * (HEAD too), the same bytes `parley statement publish` writes.  Only
 * adopted statements are served; everything else is 404, any other
 * method 405.  It reads the node store through node/stmt.h and never
 * touches the file system, so there is nothing else to reach.  It needs
 * no token: what it serves is meant to be public.
 */
#ifndef PARLEY_NODE_FEED_H
#define PARLEY_NODE_FEED_H

#include <stddef.h>

#include "core.h"
#include "parley/buf.h"

struct event_base;
typedef struct feed feed;

#define FEED_ENTRIES_MAX 50 /* entries in /feed.atom: the newest adoptions */

/*
 * Listen on addr ("host:port", "[v6]:port"; port 0 picks a free one) on
 * base and serve the feed of n (borrowed; it must outlive the feed).
 * Returns the feed, or NULL with a one-line reason in err (errlen bytes).
 */
feed *feed_new(struct event_base *base, node_core *n, const char *addr, char *err, size_t errlen);
/* The bound port (for tests and logs), 0 for NULL. */
int feed_port(const feed *f);
/* Stop listening and free; NULL-safe.  Open connections are closed. */
void feed_free(feed *f);

/*
 * Append s (len bytes) to out as XML 1.0 character data, safe inside an
 * element or an attribute value: & < > " ' become entities and CR becomes
 * &#13; (so that parsers do not fold it).  Refuses (PL_ERR_INVALID, with
 * a detail, out unchanged) text XML cannot carry: invalid UTF-8, control
 * characters other than TAB, LF and CR, U+FFFE and U+FFFF.  PL_ERR_NOMEM.
 */
int feed_xml_escape(pl_buf *out, const char *s, size_t len);

#endif /* PARLEY_NODE_FEED_H */
