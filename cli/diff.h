/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A line diff for `parley statement diff V1 V2`: the shortest edit script
 * (Myers' O(ND) algorithm in linear space) printed as unified-style lines,
 * " " for a line both texts have, "-" for one only the old text has, "+"
 * for one only the new text has.  Lines are compared byte for byte,
 * including their newline, so a last line without one differs from the
 * same line with one ("\ No newline at end of file" follows it, as diff(1)
 * writes).  Bounded: each text may have at most CLI_DIFF_MAX_LINES lines.
 * It does no I/O.
 */
#ifndef PARLEY_CLI_DIFF_H
#define PARLEY_CLI_DIFF_H

#include <stddef.h>

#include "parley/buf.h"

#define CLI_DIFF_MAX_LINES 20000

/*
 * Append the diff of old (a, alen bytes) and new (b, blen bytes) to out.
 * context < 0 prints every line; context >= 0 prints only hunks of changes
 * with that many unchanged lines around them, each under a header
 * "@@ -START,COUNT +START,COUNT @@" (1-based, as diff -u).  *changes (may
 * be NULL) receives the number of "-" and "+" lines: 0 when the texts are
 * equal.  The texts are borrowed.  Returns 0, PL_ERR_LIMIT (a text over
 * CLI_DIFF_MAX_LINES lines; detail says which) or PL_ERR_NOMEM; on failure
 * out holds what it held before.
 */
int cli_diff_lines(const char *a, size_t alen, const char *b, size_t blen, int context, pl_buf *out,
		   size_t *changes);

#endif /* PARLEY_CLI_DIFF_H */
