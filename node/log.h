/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's structured log: one logfmt line per event on stderr,
 *
 *   ts=2026-11-27T09:30:00.123Z level=info node=tehran-1 msg="link up" peer=islamabad
 *
 * Callers give a level, a fixed message and a printf-like format of
 * key=value pairs, e.g. node_log(NODE_LOG_INFO, "link up", "peer=%s port=%u",
 * name, port).  Each value produced by a conversion is quoted and escaped
 * when it needs to be (spaces, '=', quotes, control and non-ASCII bytes), so
 * a peer-supplied string cannot forge a field or a line.  Only the
 * conversions %d %i %u %x %X %c %s %.*s %% with the length modifiers hh h l
 * ll z j t are supported (the compiler checks types; anything else ends the
 * line with log_error="bad format").
 *
 * This module does not rotate, buffer, or send logs anywhere but one stream.
 * It never sees secrets because callers must never pass key material,
 * passphrases or API tokens: log identifiers (names, hashes), not contents.
 *
 * The level and node name are process-wide settings made at start-up,
 * before any thread is started; node_log itself may be called from any
 * thread (one fwrite per line).
 */
#ifndef PARLEY_NODE_LOG_H
#define PARLEY_NODE_LOG_H

#include <stdbool.h>
#include <stdio.h>

typedef enum node_log_level {
	NODE_LOG_ERROR = 0,
	NODE_LOG_WARN = 1,
	NODE_LOG_INFO = 2,
	NODE_LOG_DEBUG = 3,
} node_log_level;

/* Longest line written, newline included; longer lines are cut, ending in
 * truncated=true. */
#define NODE_LOG_LINE_MAX 4096

/* Set the level filter (lines above it are dropped) and the node name shown
 * in every line (copied, truncated to 63 bytes; NULL or "" omits node=). */
void node_log_init(node_log_level level, const char *node_name);
/* Change the level filter only. */
void node_log_set_level(node_log_level level);
/* Write to f instead of stderr (borrowed until replaced; NULL: stderr). */
void node_log_set_stream(FILE *f);
/* Would a line at level be written? (to skip costly argument preparation) */
bool node_log_enabled(node_log_level level);

/* "error", "warn", "info", "debug". */
const char *node_log_level_name(node_log_level level);
/* Parse one of those names: 0, or PL_ERR_MALFORMED (out unchanged). */
int node_log_level_parse(const char *s, node_log_level *out);

#if defined(__GNUC__)
#define NODE_LOG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define NODE_LOG_PRINTF(f, a)
#endif

/* Log msg (a fixed text, always quoted) with the fields of kvfmt, a
 * space-separated list of key=%conv items (see above); kvfmt may be NULL
 * for no fields. */
void node_log(node_log_level level, const char *msg, const char *kvfmt, ...) NODE_LOG_PRINTF(3, 4);
/* Log msg with no further fields. */
void node_log_msg(node_log_level level, const char *msg);

/*
 * Format one line into out (cap bytes, NUL-terminated, ending in '\n'),
 * with ts taken from t_ms (Unix milliseconds) — the pure core of node_log,
 * for tests.  Returns the line's length.
 */
size_t node_log_format(char *out, size_t cap, long long t_ms, node_log_level level, const char *msg,
		       const char *kvfmt, ...) NODE_LOG_PRINTF(6, 7);

#endif /* PARLEY_NODE_LOG_H */
