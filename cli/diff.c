/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Line diff (diff.h): split both texts into lines, number the distinct
 * lines, mark the lines of a shortest edit script with Myers' linear-space
 * "middle snake" recursion (E. Myers, An O(ND) Difference Algorithm and
 * Its Variations, 1986, section 4b), then print every line or hunks.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "parley/err.h"

typedef struct line {
	const char *p;
	size_t n; /* including the newline, if any */
} line;

typedef struct dctx {
	const unsigned *a, *b; /* line numbers by content */
	bool *da, *db;         /* marked: deleted from a, inserted in b */
	long *vf, *vb;         /* furthest x per diagonal, forward and backward */
	long off;              /* index of diagonal 0 in vf, vb */
} dctx;

/* Split t into lines (at most CLI_DIFF_MAX_LINES). */
static int split(const char *t, size_t len, const char *which, line **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t count = 0;
	for (size_t i = 0; i < len; i++)
		count += t[i] == '\n';
	if (len && t[len - 1] != '\n')
		count++;
	if (count > CLI_DIFF_MAX_LINES)
		return pl_err_fail(PL_ERR_LIMIT, "the %s text has %zu lines; diff takes at most %d",
				   which, count, CLI_DIFF_MAX_LINES);
	line *l = calloc(count ? count : 1, sizeof(*l));
	if (!l)
		return PL_ERR_NOMEM;
	size_t k = 0, start = 0;
	for (size_t i = 0; i < len; i++) {
		if (t[i] == '\n') {
			l[k].p = t + start;
			l[k++].n = i + 1 - start;
			start = i + 1;
		}
	}
	if (start < len) {
		l[k].p = t + start;
		l[k++].n = len - start;
	}
	*out = l;
	*n = k;
	return 0;
}

static uint64_t line_hash(const line *l)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (size_t i = 0; i < l->n; i++) {
		h ^= (unsigned char)l->p[i];
		h *= 1099511628211u;
	}
	return h;
}

/* Give equal lines of la and lb equal numbers in ia and ib. */
static int number_lines(const line *la, size_t na, const line *lb, size_t nb, unsigned *ia,
			unsigned *ib)
{
	size_t cap = 16;
	while (cap < 2 * (na + nb))
		cap *= 2;
	const line **slot = calloc(cap, sizeof(*slot));
	unsigned *num = calloc(cap, sizeof(*num));
	if (!slot || !num) {
		free(slot);
		free(num);
		return PL_ERR_NOMEM;
	}
	unsigned next = 0;
	for (size_t i = 0; i < na + nb; i++) {
		const line *l = i < na ? &la[i] : &lb[i - na];
		size_t h = (size_t)line_hash(l) & (cap - 1);
		while (slot[h] && (slot[h]->n != l->n || memcmp(slot[h]->p, l->p, l->n) != 0))
			h = (h + 1) & (cap - 1);
		if (!slot[h]) {
			slot[h] = l;
			num[h] = next++;
		}
		if (i < na)
			ia[i] = num[h];
		else
			ib[i - na] = num[h];
	}
	free(slot);
	free(num);
	return 0;
}

/*
 * The middle snake of a[a0..a1) and b[b0..b1) (both non-empty): the
 * diagonal run that the middle of some shortest edit script crosses, from
 * (*xs, *ys) to (*xe, *ye), relative to (a0, b0).
 */
static void middle_snake(const dctx *c, long a0, long a1, long b0, long b1, long *xs, long *ys,
			 long *xe, long *ye)
{
	const unsigned *A = c->a, *B = c->b;
	long N = a1 - a0, M = b1 - b0, delta = N - M, maxd = (N + M + 1) / 2;
	bool odd = (delta % 2) != 0;
	long *vf = c->vf + c->off, *vb = c->vb + c->off;
	vf[1] = 0;
	vb[1] = 0;
	for (long d = 0; d <= maxd; d++) {
		for (long k = -d; k <= d; k += 2) {
			long x = (k == -d || (k != d && vf[k - 1] < vf[k + 1])) ? vf[k + 1]
										: vf[k - 1] + 1;
			long y = x - k, x0 = x, y0 = y;
			while (x < N && y < M && A[a0 + x] == B[b0 + y]) {
				x++;
				y++;
			}
			vf[k] = x;
			if (odd && delta - k >= -(d - 1) && delta - k <= d - 1 &&
			    vf[k] + vb[delta - k] >= N) {
				*xs = x0;
				*ys = y0;
				*xe = x;
				*ye = y;
				return;
			}
		}
		for (long k = -d; k <= d; k += 2) {
			long x = (k == -d || (k != d && vb[k - 1] < vb[k + 1])) ? vb[k + 1]
										: vb[k - 1] + 1;
			long y = x - k, x0 = x, y0 = y;
			while (x < N && y < M && A[a1 - 1 - x] == B[b1 - 1 - y]) {
				x++;
				y++;
			}
			vb[k] = x;
			if (!odd && delta - k >= -d && delta - k <= d &&
			    vb[k] + vf[delta - k] >= N) {
				*xs = N - x;
				*ys = M - y;
				*xe = N - x0;
				*ye = M - y0;
				return;
			}
		}
	}
	/* Not reached for non-empty inputs: a snake always meets by maxd. */
	*xs = *xe = N;
	*ys = *ye = M;
}

static void mark_all(bool *m, long from, long to)
{
	for (long i = from; i < to; i++)
		m[i] = true;
}

static void compare(dctx *c, long a0, long a1, long b0, long b1)
{
	while (a0 < a1 && b0 < b1 && c->a[a0] == c->b[b0]) {
		a0++;
		b0++;
	}
	while (a0 < a1 && b0 < b1 && c->a[a1 - 1] == c->b[b1 - 1]) {
		a1--;
		b1--;
	}
	if (a0 == a1 || b0 == b1) {
		mark_all(c->da, a0, a1);
		mark_all(c->db, b0, b1);
		return;
	}
	long xs, ys, xe, ye;
	middle_snake(c, a0, a1, b0, b1, &xs, &ys, &xe, &ye);
	bool whole_left = xs == a1 - a0 && ys == b1 - b0, whole_right = xe == 0 && ye == 0;
	if (whole_left || whole_right) { /* no progress: cannot happen; stay finite anyway */
		mark_all(c->da, a0, a1);
		mark_all(c->db, b0, b1);
		return;
	}
	compare(c, a0, a0 + xs, b0, b0 + ys);
	compare(c, a0 + xe, a1, b0 + ye, b1);
}

/*
 * Mark a shortest edit script of c->a[0..na) and c->b[0..nb).  A line that
 * the other text lacks altogether is in no common subsequence, so it is
 * marked at once and left out of the search (as diff(1) does): that keeps
 * texts that share few lines quick without losing minimality.
 */
static int compare_all(dctx *c, size_t na, size_t nb)
{
	size_t nums = na + nb + 1;
	bool *in_a = calloc(nums, sizeof(bool)), *in_b = calloc(nums, sizeof(bool));
	size_t *ka = calloc(na + 1, sizeof(size_t)), *kb = calloc(nb + 1, sizeof(size_t));
	unsigned *ca = calloc(na + 1, sizeof(unsigned)), *cb = calloc(nb + 1, sizeof(unsigned));
	bool *da = calloc(na + 1, sizeof(bool)), *db = calloc(nb + 1, sizeof(bool));
	int rc = 0;
	if (!in_a || !in_b || !ka || !kb || !ca || !cb || !da || !db) {
		rc = PL_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < na; i++)
		in_a[c->a[i]] = true;
	for (size_t j = 0; j < nb; j++)
		in_b[c->b[j]] = true;
	size_t nka = 0, nkb = 0;
	for (size_t i = 0; i < na; i++) {
		if (in_b[c->a[i]]) {
			ka[nka] = i;
			ca[nka++] = c->a[i];
		} else {
			c->da[i] = true;
		}
	}
	for (size_t j = 0; j < nb; j++) {
		if (in_a[c->b[j]]) {
			kb[nkb] = j;
			cb[nkb++] = c->b[j];
		} else {
			c->db[j] = true;
		}
	}
	dctx sub = {.a = ca, .b = cb, .da = da, .db = db, .vf = c->vf, .vb = c->vb, .off = c->off};
	compare(&sub, 0, (long)nka, 0, (long)nkb);
	for (size_t i = 0; i < nka; i++)
		c->da[ka[i]] = da[i];
	for (size_t j = 0; j < nkb; j++)
		c->db[kb[j]] = db[j];
out:
	free(in_a);
	free(in_b);
	free(ka);
	free(kb);
	free(ca);
	free(cb);
	free(da);
	free(db);
	return rc;
}

/* ------------------------------------------------------------ output */

typedef struct op {
	char kind;     /* ' ', '-', '+' */
	size_t ai, bi; /* line indices before this op */
} op;

static int put_line(pl_buf *out, char kind, const line *l)
{
	bool nl = l->n && l->p[l->n - 1] == '\n';
	size_t n = nl ? l->n - 1 : l->n;
	int rc = pl_buf_append(out, &kind, 1);
	if (!rc)
		rc = pl_buf_append(out, l->p, n);
	if (!rc)
		rc = pl_buf_append(out, "\n", 1);
	if (!rc && !nl)
		rc = pl_buf_append_str(out, "\\ No newline at end of file\n");
	return rc;
}

static int put_op(pl_buf *out, const op *o, const line *la, const line *lb)
{
	return put_line(out, o->kind, o->kind == '+' ? &lb[o->bi] : &la[o->ai]);
}

/* Hunk header for ops[from..to). */
static int put_header(pl_buf *out, const op *ops, size_t from, size_t to)
{
	size_t na = 0, nb = 0;
	for (size_t i = from; i < to; i++) {
		na += ops[i].kind != '+';
		nb += ops[i].kind != '-';
	}
	size_t sa = ops[from].ai + (na ? 1 : 0), sb = ops[from].bi + (nb ? 1 : 0);
	return pl_buf_printf(out, "@@ -%zu,%zu +%zu,%zu @@\n", sa, na, sb, nb);
}

static int emit(pl_buf *out, const op *ops, size_t nops, int context, const line *la,
		const line *lb)
{
	int rc = 0;
	if (context < 0) {
		for (size_t i = 0; !rc && i < nops; i++)
			rc = put_op(out, &ops[i], la, lb);
		return rc;
	}
	size_t ctx = (size_t)context, i = 0;
	while (!rc && i < nops) {
		while (i < nops && ops[i].kind == ' ')
			i++;
		if (i == nops)
			break;
		size_t from = i > ctx ? i - ctx : 0, end = i;
		/* extend over changes separated by at most 2 * ctx unchanged lines */
		for (;;) {
			while (end < nops && ops[end].kind != ' ')
				end++;
			size_t run = end;
			while (run < nops && ops[run].kind == ' ')
				run++;
			if (run < nops && run - end <= 2 * ctx) {
				end = run;
				continue;
			}
			break;
		}
		size_t to = end + ctx < nops ? end + ctx : nops;
		rc = put_header(out, ops, from, to);
		for (size_t k = from; !rc && k < to; k++)
			rc = put_op(out, &ops[k], la, lb);
		i = to;
	}
	return rc;
}

int cli_diff_lines(const char *a, size_t alen, const char *b, size_t blen, int context, pl_buf *out,
		   size_t *changes)
{
	if (changes)
		*changes = 0;
	line *la = NULL, *lb = NULL;
	size_t na = 0, nb = 0, saved = out->len;
	int rc = split(a, alen, "old", &la, &na);
	if (!rc)
		rc = split(b, blen, "new", &lb, &nb);
	if (rc) {
		free(la);
		return rc;
	}
	size_t vlen = 2 * (na + nb) + 8;
	dctx c = {
	    .a = calloc(na + 1, sizeof(unsigned)),
	    .b = calloc(nb + 1, sizeof(unsigned)),
	    .da = calloc(na + 1, sizeof(bool)),
	    .db = calloc(nb + 1, sizeof(bool)),
	    .vf = calloc(vlen, sizeof(long)),
	    .vb = calloc(vlen, sizeof(long)),
	    .off = (long)(na + nb) + 3,
	};
	op *ops = calloc(na + nb + 1, sizeof(*ops));
	if (!c.a || !c.b || !c.da || !c.db || !c.vf || !c.vb || !ops) {
		rc = PL_ERR_NOMEM;
		goto out;
	}
	rc = number_lines(la, na, lb, nb, (unsigned *)c.a, (unsigned *)c.b);
	if (rc)
		goto out;
	rc = compare_all(&c, na, nb);
	if (rc)
		goto out;
	size_t i = 0, j = 0, n = 0, changed = 0;
	while (i < na || j < nb) {
		ops[n].ai = i;
		ops[n].bi = j;
		if (i < na && c.da[i]) {
			ops[n++].kind = '-';
			i++;
			changed++;
		} else if (j < nb && c.db[j]) {
			ops[n++].kind = '+';
			j++;
			changed++;
		} else {
			ops[n++].kind = ' ';
			i++;
			j++;
		}
	}
	rc = emit(out, ops, n, context, la, lb);
	if (!rc && changes)
		*changes = changed;
out:
	if (rc)
		out->len = saved;
	free((void *)c.a);
	free((void *)c.b);
	free(c.da);
	free(c.db);
	free(c.vf);
	free(c.vb);
	free(ops);
	free(la);
	free(lb);
	return rc;
}
