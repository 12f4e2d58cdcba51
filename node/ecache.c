/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The envelopes a node indexed last (ecache.h).
 *
 * A ring of entries in the order they were put, numbered by a counter:
 * entry number q lives in slot q % cap; the ring holds numbers head..tail-1
 * and those below mark are committed.  A table of buckets (twice the
 * ring's size, a power of two) chains the slots by id.
 */
#include <stdlib.h>
#include <string.h>

#include "ecache.h"
#include "parley/crypto.h"

#define ECACHE_MAX_ENTRIES 1048576u
#define NONE               UINT32_MAX

typedef struct ent {
	uint8_t id[PL_HASH_BYTES];
	uint8_t *buf;
	size_t len;
	nstore_meta meta;
	uint32_t next; /* next slot in the bucket's chain, NONE at its end */
} ent;

struct ecache {
	ent *ring;
	uint32_t cap;
	uint32_t *bucket; /* first slot of each chain, NONE if empty */
	unsigned bits;    /* log2 of the number of buckets */
	uint64_t key;     /* odd, random: the multiply-shift hash's */
	uint64_t head, tail, mark;
	size_t bytes, max_bytes;
	uint64_t hits, misses;
};

static uint32_t bucket_of(const ecache *c, const uint8_t id[PL_HASH_BYTES])
{
	uint64_t x;
	memcpy(&x, id, sizeof(x));
	return (uint32_t)((x * c->key) >> (64 - c->bits));
}

ecache *ecache_new(size_t max_entries, size_t max_bytes)
{
	if (max_entries < 1 || max_entries > ECACHE_MAX_ENTRIES || max_bytes < 1)
		return NULL;
	ecache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cap = (uint32_t)max_entries;
	c->max_bytes = max_bytes;
	c->bits = 1;
	while ((1u << c->bits) < 2 * c->cap)
		c->bits++;
	c->ring = calloc(c->cap, sizeof(*c->ring));
	c->bucket = malloc(((size_t)1 << c->bits) * sizeof(*c->bucket));
	if (!c->ring || !c->bucket) {
		ecache_free(c);
		return NULL;
	}
	memset(c->bucket, 0xff, ((size_t)1 << c->bits) * sizeof(*c->bucket));
	pl_random(&c->key, sizeof(c->key));
	c->key |= 1;
	return c;
}

/* The slot holding id, or NONE. */
static uint32_t find(const ecache *c, const uint8_t id[PL_HASH_BYTES])
{
	for (uint32_t i = c->bucket[bucket_of(c, id)]; i != NONE; i = c->ring[i].next)
		if (memcmp(c->ring[i].id, id, PL_HASH_BYTES) == 0)
			return i;
	return NONE;
}

/* Drop entry number q (the head or the tail). */
static void drop(ecache *c, uint64_t q)
{
	uint32_t slot = (uint32_t)(q % c->cap);
	ent *e = &c->ring[slot];
	uint32_t *link = &c->bucket[bucket_of(c, e->id)];
	while (*link != slot)
		link = &c->ring[*link].next;
	*link = e->next;
	c->bytes -= e->len;
	free(e->buf);
	memset(e, 0, sizeof(*e));
}

void ecache_free(ecache *c)
{
	if (!c)
		return;
	if (c->ring && c->bucket)
		while (c->head < c->tail)
			drop(c, c->head++);
	free(c->ring);
	free(c->bucket);
	free(c);
}

void ecache_put(ecache *c, const uint8_t id[PL_HASH_BYTES], const uint8_t *buf, size_t len,
		const nstore_meta *meta)
{
	if (len > c->max_bytes / 4 || find(c, id) != NONE)
		return;
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return;
	if (len)
		memcpy(copy, buf, len);
	while (c->tail - c->head == c->cap || c->bytes + len > c->max_bytes)
		drop(c, c->head++);
	if (c->mark < c->head)
		c->mark = c->head;
	uint32_t slot = (uint32_t)(c->tail % c->cap);
	ent *e = &c->ring[slot];
	memcpy(e->id, id, PL_HASH_BYTES);
	e->buf = copy;
	e->len = len;
	e->meta = *meta;
	uint32_t *b = &c->bucket[bucket_of(c, id)];
	e->next = *b;
	*b = slot;
	c->bytes += len;
	c->tail++;
}

bool ecache_get(ecache *c, const uint8_t id[PL_HASH_BYTES], uint8_t **buf, size_t *len,
		nstore_meta *meta)
{
	uint32_t i = find(c, id);
	if (i == NONE) {
		c->misses++;
		return false;
	}
	const ent *e = &c->ring[i];
	if (buf) {
		uint8_t *copy = malloc(e->len ? e->len : 1);
		if (!copy)
			return false;
		if (e->len)
			memcpy(copy, e->buf, e->len);
		*buf = copy;
		if (len)
			*len = e->len;
	}
	if (meta)
		*meta = e->meta;
	c->hits++;
	return true;
}

void ecache_commit(ecache *c)
{
	c->mark = c->tail;
}

void ecache_rollback(ecache *c)
{
	while (c->tail > c->mark && c->tail > c->head)
		drop(c, --c->tail);
	c->mark = c->tail;
}

void ecache_get_stats(const ecache *c, ecache_stats *out)
{
	out->hits = c->hits;
	out->misses = c->misses;
	out->entries = (size_t)(c->tail - c->head);
	out->bytes = c->bytes;
}
