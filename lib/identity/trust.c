/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The set of pinned state roots.  Small (a handful of peers), so a plain
 * array searched linearly.
 */
#include <stdlib.h>
#include <string.h>

#include "parley/err.h"
#include "parley/identity.h"

#define TRUST_MAX 256

struct pl_trust {
	struct {
		char state[PL_NAME_MAX + 1];
		uint8_t pk[PL_PK_BYTES];
	} *e;
	size_t n, cap;
};

pl_trust *pl_trust_new(void)
{
	return calloc(1, sizeof(pl_trust));
}

void pl_trust_free_(pl_trust *t)
{
	if (!t)
		return;
	free(t->e);
	free(t);
}

const uint8_t *pl_trust_find(const pl_trust *t, const char *state)
{
	if (!t || !state)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->e[i].state, state) == 0)
			return t->e[i].pk;
	return NULL;
}

int pl_trust_add(pl_trust *t, const char *state, const uint8_t pk[PL_PK_BYTES])
{
	if (!pl_name_is_valid(state))
		return pl_err_fail(PL_ERR_INVALID, "'%s' is not a valid state name", state);
	const uint8_t *have = pl_trust_find(t, state);
	if (have)
		return pl_ct_equal(have, pk, PL_PK_BYTES)
			       ? 0
			       : pl_err_fail(PL_ERR_CONFLICT,
					     "state '%s' is already pinned with another key", state);
	if (t->n == TRUST_MAX)
		return pl_err_fail(PL_ERR_LIMIT, "at most %d pinned states", TRUST_MAX);
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4;
		void *p = realloc(t->e, cap * sizeof(*t->e));
		if (!p)
			return PL_ERR_NOMEM;
		t->e = p;
		t->cap = cap;
	}
	memcpy(t->e[t->n].state, state, strlen(state) + 1);
	memcpy(t->e[t->n].pk, pk, PL_PK_BYTES);
	t->n++;
	return 0;
}
