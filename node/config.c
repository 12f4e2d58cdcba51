/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading node.ini (see config.h and docs/config.md).
 *
 * libinih splits "key = value" lines; everything around it is ours: a line
 * reader that counts lines, drops comments and blank lines, handles
 * section headers itself (so that empty sections and long peer names are
 * seen, which the handler interface cannot report), and refuses lines that
 * are neither.  Because every reader call is one line of the file, the
 * line number at the time of a handler call is exact.  The first problem
 * found is reported; the rest of the file is still read but not reported.
 *
 * Divisions: addresses; key tables; the line reader; the key handler;
 * final checks and defaults; the public entry points.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "parley/err.h"
#include "parley/identity.h"

#include "config.h"

/* A configuration file is small; refuse anything larger than this. */
#define CONFIG_FILE_MAX (1024 * 1024)

/* ------------------------------------------------------------ addresses */

static bool host_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.';
}

int node_addr_split(const char *s, char *host, size_t hostcap, uint16_t *port, bool allow_port0)
{
	if (!s || !*s)
		return pl_err_fail(PL_ERR_MALFORMED, "empty address (expected host:port)");
	size_t len = strnlen(s, NODE_ADDR_MAX + 1);
	if (len > NODE_ADDR_MAX)
		return pl_err_fail(PL_ERR_MALFORMED, "address longer than %d characters",
				   NODE_ADDR_MAX);
	const char *h, *colon;
	size_t hn;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return pl_err_fail(PL_ERR_MALFORMED,
					   "expected [IPv6 address]:port, e.g. [::1]:7000");
		h = s + 1;
		hn = (size_t)(close - h);
		colon = close + 1;
		char tmp[64];
		unsigned char bin[16];
		if (hn == 0 || hn >= sizeof(tmp))
			return pl_err_fail(PL_ERR_MALFORMED, "bad IPv6 address in brackets");
		memcpy(tmp, h, hn);
		tmp[hn] = '\0';
		if (inet_pton(AF_INET6, tmp, bin) != 1)
			return pl_err_fail(PL_ERR_MALFORMED, "bad IPv6 address '%s'", tmp);
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return pl_err_fail(PL_ERR_MALFORMED,
					   "missing ':port' (expected host:port)");
		h = s;
		hn = (size_t)(colon - s);
		if (memchr(h, ':', hn))
			return pl_err_fail(PL_ERR_MALFORMED,
					   "IPv6 addresses go in brackets, e.g. [::1]:7000");
		if (hn == 0)
			return pl_err_fail(PL_ERR_MALFORMED, "missing host before ':port'");
		if (hn > 253)
			return pl_err_fail(PL_ERR_MALFORMED,
					   "host name longer than 253 characters");
		for (size_t i = 0; i < hn; i++)
			if (!host_char_ok(h[i]))
				return pl_err_fail(PL_ERR_MALFORMED,
						   "bad character '%c' in host name", h[i]);
	}
	const char *pp = colon + 1;
	size_t pn = strlen(pp);
	if (pn == 0 || pn > 5)
		return pl_err_fail(PL_ERR_MALFORMED, "port must be a number from %d to 65535",
				   allow_port0 ? 0 : 1);
	unsigned long v = 0;
	for (size_t i = 0; i < pn; i++) {
		if (pp[i] < '0' || pp[i] > '9')
			return pl_err_fail(PL_ERR_MALFORMED,
					   "port must be a number from %d to 65535",
					   allow_port0 ? 0 : 1);
		v = v * 10 + (unsigned long)(pp[i] - '0');
	}
	if (v > 65535 || (v == 0 && !allow_port0))
		return pl_err_fail(PL_ERR_MALFORMED, "port must be a number from %d to 65535",
				   allow_port0 ? 0 : 1);
	if (hn + 1 > hostcap)
		return pl_err_fail(PL_ERR_LIMIT, "host name too long");
	memcpy(host, h, hn);
	host[hn] = '\0';
	*port = (uint16_t)v;
	return 0;
}

bool node_addr_is_loopback(const char *host)
{
	unsigned char b[16];
	if (inet_pton(AF_INET, host, b) == 1)
		return b[0] == 127;
	if (inet_pton(AF_INET6, host, b) == 1) {
		static const unsigned char one[16] = {[15] = 1};
		static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
		if (memcmp(b, one, 16) == 0)
			return true;
		return memcmp(b, mapped, 12) == 0 && b[12] == 127;
	}
	return false;
}

/* ------------------------------------------------------------ key tables */

typedef enum key_type {
	K_NAME,        /* a Parley name into char[PL_NAME_MAX + 1] */
	K_PATH,        /* a path into char *, resolved against the config folder */
	K_ADDR_LOCAL,  /* host:port, port 0 allowed, into char[NODE_ADDR_MAX + 1] */
	K_ADDR_REMOTE, /* host:port, port 1..65535 */
	K_BOOL,        /* true | false */
	K_U32,         /* whole number within [min, max] */
	K_LEVEL,       /* error | warn | info | debug */
	K_CHECK,       /* off | quick | full, into node_check_level */
} key_type;

typedef struct key_spec {
	const char *name;
	key_type type;
	size_t off; /* into node_config, or node_peer_conf for [peer] */
	uint32_t min, max;
	bool required;
} key_spec;

#define CFG(f) offsetof(node_config, f)
static const key_spec node_keys[] = {
    {"name", K_NAME, CFG(name), 0, 0, true},
    {"home", K_PATH, CFG(home), 0, 0, true},
    {"data", K_PATH, CFG(data), 0, 0, false},
    {"listen", K_ADDR_LOCAL, CFG(listen), 0, 0, true},
    {"api", K_ADDR_LOCAL, CFG(api), 0, 0, false},
    {"api_public", K_BOOL, CFG(api_public), 0, 0, false},
    {"api_max_connections", K_U32, CFG(api_max_connections), 4, 65536, false},
    {"log_level", K_LEVEL, CFG(log_level), 0, 0, false},
    {"checkpoint_interval", K_U32, CFG(checkpoint_interval), 10, 86400, false},
    {"checkpoint_entries", K_U32, CFG(checkpoint_entries), 1, 100000000, false},
    {"commit_batch", K_U32, CFG(commit_batch), 1, 65536, false},
    {"max_envelope", K_U32, CFG(max_envelope), 1024, 64 * 1024 * 1024, false},
    {"store_check", K_CHECK, CFG(store_check), 0, 0, false},
    {"sync_each_commit", K_BOOL, CFG(sync_each_commit), 0, 0, false},
    {"verify_thread", K_BOOL, CFG(verify_thread), 0, 0, false},
    {"escalate_command", K_PATH, CFG(escalate_command), 0, 0, false},
    {"feed", K_ADDR_LOCAL, CFG(feed), 0, 0, false},
};
static const key_spec link_keys[] = {
    {"ping_interval", K_U32, CFG(link.ping_interval_ms), 100, 600000, false},
    {"dead_after", K_U32, CFG(link.dead_after_ms), 300, 3600000, false},
    {"backoff_min", K_U32, CFG(link.backoff_min_ms), 10, 3600000, false},
    {"backoff_max", K_U32, CFG(link.backoff_max_ms), 10, 86400000, false},
    {"socket_buffer", K_U32, CFG(link.socket_buffer), 0, 16 * 1024 * 1024, false},
    {"window", K_U32, CFG(link.window), 0, 1000000, false},
    {"gather_us", K_U32, CFG(link.gather_us), 0, 100000, false},
    {"urgent_connection", K_BOOL, CFG(link.urgent_connection), 0, 0, false},
};
#undef CFG
static const key_spec peer_keys[] = {
    {"address", K_ADDR_REMOTE, offsetof(node_peer_conf, address), 0, 0, true},
    {"node", K_NAME, offsetof(node_peer_conf, node), 0, 0, false},
};

#define N_NODE_KEYS (sizeof(node_keys) / sizeof(node_keys[0]))
#define N_LINK_KEYS (sizeof(link_keys) / sizeof(link_keys[0]))
#define N_PEER_KEYS (sizeof(peer_keys) / sizeof(peer_keys[0]))

enum { K_NODE_API = 4, K_LINK_PING = 0, K_LINK_DEAD = 1, K_LINK_BMIN = 2, K_LINK_BMAX = 3 };

/* ------------------------------------------------------------ parser state */

typedef enum sect_kind { S_NONE, S_NODE, S_LINK, S_PEER, S_BAD } sect_kind;

typedef struct peer_seen {
	int line[N_PEER_KEYS];
} peer_seen;

typedef struct parser {
	const char *path; /* as given, for messages */
	const char *text;
	size_t len, pos;
	int line; /* number of the line last handed to inih */
	node_config *cfg;
	char *dir; /* absolute folder of the config file */

	sect_kind sect;
	size_t peer; /* current [peer] index when sect == S_PEER */
	int node_line, link_line;
	int node_seen[N_NODE_KEYS];
	int link_seen[N_LINK_KEYS];
	peer_seen *pseen;
	size_t peer_cap;

	int err_code;
	int err_line; /* 0: no line applies */
	char err[512];
} parser;

/* Record the first problem (later ones are dropped).  Returns 1 so that
 * inih keeps reading; the result is decided by err_code at the end. */
static int fail_at(parser *p, int line, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(parser *p, int line, int code, const char *fmt, ...)
{
	if (p->err_code)
		return 1;
	p->err_code = code;
	p->err_line = line;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	return 1;
}

/* Levenshtein distance of two short strings (capped inputs). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 40 || lb > 40)
		return 99;
	size_t row[41];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The candidate closest to s (distance at most 2), or NULL. */
static const char *suggest(const char *s, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t bd = 3;
	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(s, cands[i]);
		if (d < bd) {
			bd = d;
			best = cands[i];
		}
	}
	return best;
}

/* ------------------------------------------------------------ sections */

static const char *sect_label(const parser *p, char *buf, size_t cap)
{
	switch (p->sect) {
	case S_NODE:
		return "[node]";
	case S_LINK:
		return "[link]";
	case S_PEER:
		snprintf(buf, cap, "[peer %s]", p->cfg->peers[p->peer].name);
		return buf;
	default:
		return "this section";
	}
}

static int add_peer(parser *p, const char *name, int line)
{
	node_config *c = p->cfg;
	for (size_t i = 0; i < c->npeers; i++)
		if (strcmp(c->peers[i].name, name) == 0)
			return fail_at(p, line, PL_ERR_MALFORMED,
				       "duplicate section [peer %s] (first on line %d)", name,
				       c->peers[i].line);
	if (c->npeers == p->peer_cap) {
		size_t ncap = p->peer_cap ? 2 * p->peer_cap : 4;
		node_peer_conf *np = realloc(c->peers, ncap * sizeof(*np));
		if (!np)
			return fail_at(p, line, PL_ERR_NOMEM, "out of memory");
		c->peers = np;
		peer_seen *ns = realloc(p->pseen, ncap * sizeof(*ns));
		if (!ns)
			return fail_at(p, line, PL_ERR_NOMEM, "out of memory");
		p->pseen = ns;
		p->peer_cap = ncap;
	}
	node_peer_conf *pc = &c->peers[c->npeers];
	memset(pc, 0, sizeof(*pc));
	memset(&p->pseen[c->npeers], 0, sizeof(p->pseen[0]));
	memcpy(pc->name, name, strlen(name) + 1);
	pc->line = line;
	p->peer = c->npeers++;
	p->sect = S_PEER;
	return 1;
}

/* A "[...]" line (s, n bytes, stripped of blanks and comments). */
static void begin_section(parser *p, const char *s, size_t n)
{
	int line = p->line;
	p->sect = S_BAD; /* until proven otherwise: keys below are not reported */
	const char *close = memchr(s, ']', n);
	if (!close) {
		fail_at(p, line, PL_ERR_MALFORMED, "section header without a closing ']'");
		return;
	}
	if ((size_t)(close - s) != n - 1) {
		fail_at(p, line, PL_ERR_MALFORMED, "unexpected text after ']'");
		return;
	}
	const char *a = s + 1;
	const char *b = close;
	while (a < b && (*a == ' ' || *a == '\t'))
		a++;
	while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
		b--;
	char name[128];
	size_t nn = (size_t)(b - a);
	if (nn >= sizeof(name)) {
		fail_at(p, line, PL_ERR_MALFORMED, "section name too long");
		return;
	}
	memcpy(name, a, nn);
	name[nn] = '\0';

	if (strcmp(name, "node") == 0 || strcmp(name, "link") == 0) {
		bool is_node = name[0] == 'n';
		int *first = is_node ? &p->node_line : &p->link_line;
		if (*first) {
			fail_at(p, line, PL_ERR_MALFORMED,
				"duplicate section [%s] (first on line %d)", name, *first);
			return;
		}
		*first = line;
		p->sect = is_node ? S_NODE : S_LINK;
		return;
	}
	if (strncmp(name, "peer", 4) == 0 && (name[4] == ' ' || name[4] == '\t')) {
		const char *pn = name + 5;
		while (*pn == ' ' || *pn == '\t')
			pn++;
		if (!pl_name_is_valid(pn)) {
			fail_at(p, line, PL_ERR_MALFORMED,
				"bad peer name '%s' in [peer NAME]: a name is 1-63 characters of "
				"a-z 0-9 . _ -, starting with a letter or digit",
				pn);
			return;
		}
		add_peer(p, pn, line);
		return;
	}
	if (strcmp(name, "peer") == 0) {
		fail_at(p, line, PL_ERR_MALFORMED,
			"[peer] needs the peer state's name, e.g. [peer islamabad]");
		return;
	}
	static const char *const known[] = {"node", "link", "peer"};
	const char *sug = suggest(name, known, 3);
	if (sug)
		fail_at(p, line, PL_ERR_MALFORMED, "unknown section [%s] (did you mean [%s]?)",
			name, sug);
	else
		fail_at(p, line, PL_ERR_MALFORMED,
			"unknown section [%s] (known: [node], [link], [peer NAME])", name);
}

/* ------------------------------------------------------------ the line reader */

static char *empty_line(char *str)
{
	str[0] = '\n';
	str[1] = '\0';
	return str;
}

/*
 * inih's fgets-like reader: returns exactly one line of the file per call.
 * Blank lines, comments and section headers are handled here and passed to
 * inih as empty lines; "key = value" lines are passed on, trimmed.
 */
static char *read_line(char *str, int num, void *stream)
{
	parser *p = stream;
	if (p->pos >= p->len || num < 4)
		return NULL;
	const char *s = p->text + p->pos;
	const char *nl = memchr(s, '\n', p->len - p->pos);
	size_t n = nl ? (size_t)(nl - s) : p->len - p->pos;
	p->pos += n + (nl ? 1 : 0);
	p->line++;

	if (n && s[n - 1] == '\r')
		n--;
	if (memchr(s, '\0', n)) {
		fail_at(p, p->line, PL_ERR_MALFORMED, "NUL byte in line");
		return empty_line(str);
	}
	if (p->line == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
		s += 3;
		n -= 3;
	}
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	if (n == 0 || *s == ';' || *s == '#')
		return empty_line(str);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] == ';' || s[i] == '#') && (s[i - 1] == ' ' || s[i - 1] == '\t')) {
			n = i;
			break;
		}
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (*s == '[') {
		begin_section(p, s, n);
		return empty_line(str);
	}
	if (n + 2 > (size_t)num) {
		fail_at(p, p->line, PL_ERR_MALFORMED, "line longer than %d characters", num - 2);
		return empty_line(str);
	}
	if (!memchr(s, '=', n) && !memchr(s, ':', n)) {
		fail_at(p, p->line, PL_ERR_MALFORMED,
			"expected 'key = value', a [section] or a comment");
		return empty_line(str);
	}
	memcpy(str, s, n);
	str[n] = '\n';
	str[n + 1] = '\0';
	return str;
}

/* ------------------------------------------------------------ values */

static char *resolve_path(const parser *p, const char *v)
{
	if (v[0] == '/')
		return strdup(v);
	size_t dl = strlen(p->dir), vl = strlen(v);
	bool slash = dl > 0 && p->dir[dl - 1] == '/';
	char *out = malloc(dl + vl + 2);
	if (!out)
		return NULL;
	memcpy(out, p->dir, dl);
	if (!slash)
		out[dl++] = '/';
	memcpy(out + dl, v, vl + 1);
	return out;
}

static int set_value(parser *p, const key_spec *k, char *base, const char *v)
{
	int line = p->line;
	switch (k->type) {
	case K_NAME:
		if (!pl_name_is_valid(v))
			return fail_at(p, line, PL_ERR_MALFORMED,
				       "bad value '%s' for '%s': a name is 1-63 characters of "
				       "a-z 0-9 . _ -, starting with a letter or digit",
				       v, k->name);
		memcpy(base + k->off, v, strlen(v) + 1);
		return 1;
	case K_PATH: {
		char **dst = (char **)(void *)(base + k->off);
		char *r = resolve_path(p, v);
		if (!r)
			return fail_at(p, line, PL_ERR_NOMEM, "out of memory");
		free(*dst);
		*dst = r;
		return 1;
	}
	case K_ADDR_LOCAL:
	case K_ADDR_REMOTE: {
		char host[256];
		uint16_t port;
		if (node_addr_split(v, host, sizeof(host), &port, k->type == K_ADDR_LOCAL) != 0)
			return fail_at(p, line, PL_ERR_MALFORMED, "bad value '%s' for '%s': %s", v,
				       k->name, pl_err_detail());
		unsigned char bin[16];
		if (k->type == K_ADDR_LOCAL && inet_pton(AF_INET, host, bin) != 1 &&
		    inet_pton(AF_INET6, host, bin) != 1)
			return fail_at(p, line, PL_ERR_MALFORMED,
				       "bad value '%s' for '%s': the host must be an IP address, "
				       "e.g. 127.0.0.1, 0.0.0.0 or [::]",
				       v, k->name);
		memcpy(base + k->off, v, strlen(v) + 1);
		return 1;
	}
	case K_BOOL: {
		bool *dst = (bool *)(void *)(base + k->off);
		if (strcmp(v, "true") == 0)
			*dst = true;
		else if (strcmp(v, "false") == 0)
			*dst = false;
		else
			return fail_at(p, line, PL_ERR_MALFORMED,
				       "bad value '%s' for '%s': expected true or false", v,
				       k->name);
		return 1;
	}
	case K_LEVEL: {
		node_log_level lv;
		if (node_log_level_parse(v, &lv) != 0)
			return fail_at(
			    p, line, PL_ERR_MALFORMED,
			    "bad value '%s' for '%s': expected error, warn, info or debug", v,
			    k->name);
		*(node_log_level *)(void *)(base + k->off) = lv;
		return 1;
	}
	case K_CHECK: {
		static const char *const names[] = {"off", "quick", "full"};
		for (int i = 0; i < 3; i++)
			if (strcmp(v, names[i]) == 0) {
				*(node_check_level *)(void *)(base + k->off) = (node_check_level)i;
				return 1;
			}
		return fail_at(p, line, PL_ERR_MALFORMED,
			       "bad value '%s' for '%s': expected off, quick or full", v, k->name);
	}
	case K_U32: {
		char *end;
		errno = 0;
		long long x = v[0] >= '0' && v[0] <= '9' ? strtoll(v, &end, 10) : 0;
		if (v[0] < '0' || v[0] > '9' || *end != '\0')
			return fail_at(p, line, PL_ERR_MALFORMED,
				       "bad value '%s' for '%s': expected a whole number from %u "
				       "to %u",
				       v, k->name, k->min, k->max);
		if (errno == ERANGE || x < (long long)k->min || x > (long long)k->max)
			return fail_at(p, line, PL_ERR_MALFORMED,
				       "value %s for '%s' is out of range (%u to %u)", v, k->name,
				       k->min, k->max);
		*(uint32_t *)(void *)(base + k->off) = (uint32_t)x;
		return 1;
	}
	}
	return fail_at(p, line, PL_ERR_INTERNAL, "unknown key type");
}

/* ------------------------------------------------------------ the key handler */

static int set_key(parser *p, const key_spec *keys, size_t nkeys, int *seen, char *base,
		   const char *name, const char *value)
{
	char lbuf[PL_NAME_MAX + 16];
	const char *label = sect_label(p, lbuf, sizeof(lbuf));
	size_t i;
	for (i = 0; i < nkeys; i++)
		if (strcmp(keys[i].name, name) == 0)
			break;
	if (i == nkeys) {
		const char *cands[16];
		for (size_t j = 0; j < nkeys && j < 16; j++)
			cands[j] = keys[j].name;
		const char *sug = suggest(name, cands, nkeys < 16 ? nkeys : 16);
		if (sug)
			return fail_at(p, p->line, PL_ERR_MALFORMED,
				       "unknown key '%s' in %s (did you mean '%s'?)", name, label,
				       sug);
		return fail_at(p, p->line, PL_ERR_MALFORMED, "unknown key '%s' in %s", name, label);
	}
	if (seen[i])
		return fail_at(p, p->line, PL_ERR_MALFORMED,
			       "duplicate key '%s' in %s (first set on line %d)", name, label,
			       seen[i]);
	seen[i] = p->line;
	if (!*value)
		return fail_at(p, p->line, PL_ERR_MALFORMED, "empty value for '%s'", name);
	return set_value(p, &keys[i], base, value);
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	parser *p = user;
	(void)section; /* sections are tracked by read_line */
	switch (p->sect) {
	case S_NONE:
		return fail_at(p, p->line, PL_ERR_MALFORMED,
			       "key '%s' outside any section (start with [node])", name);
	case S_NODE:
		return set_key(p, node_keys, N_NODE_KEYS, p->node_seen, (char *)p->cfg, name,
			       value);
	case S_LINK:
		return set_key(p, link_keys, N_LINK_KEYS, p->link_seen, (char *)p->cfg, name,
			       value);
	case S_PEER:
		return set_key(p, peer_keys, N_PEER_KEYS, p->pseen[p->peer].line,
			       (char *)&p->cfg->peers[p->peer], name, value);
	case S_BAD:
		return 1;
	}
	return 1;
}

/* ------------------------------------------------------------ final checks */

static char *join3(const char *a, const char *b, const char *c, const char *d)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c), ld = strlen(d);
	char *out = malloc(la + lb + lc + ld + 1);
	if (!out)
		return NULL;
	memcpy(out, a, la);
	memcpy(out + la, b, lb);
	memcpy(out + la + lb, c, lc);
	memcpy(out + la + lb + lc, d, ld + 1);
	return out;
}

static int line_or(int a, int b)
{
	return a ? a : b;
}

static void finish(parser *p)
{
	node_config *c = p->cfg;
	int eof = p->line > 0 ? p->line : 1;
	if (!p->node_line) {
		fail_at(p, eof, PL_ERR_MALFORMED, "missing section [node]");
		return;
	}
	for (size_t i = 0; i < N_NODE_KEYS; i++)
		if (node_keys[i].required && !p->node_seen[i])
			fail_at(p, p->node_line, PL_ERR_MALFORMED, "[node] has no '%s' (required)",
				node_keys[i].name);
	for (size_t j = 0; j < c->npeers; j++)
		for (size_t i = 0; i < N_PEER_KEYS; i++)
			if (peer_keys[i].required && !p->pseen[j].line[i])
				fail_at(p, c->peers[j].line, PL_ERR_MALFORMED,
					"[peer %s] has no '%s' (required)", c->peers[j].name,
					peer_keys[i].name);
	if (p->err_code)
		return;

	char host[256];
	uint16_t port;
	if (node_addr_split(c->api, host, sizeof(host), &port, true) == 0 && !c->api_public &&
	    !node_addr_is_loopback(host))
		fail_at(p, line_or(p->node_seen[K_NODE_API], p->node_line), PL_ERR_MALFORMED,
			"api address '%s' is not a loopback address (127.0.0.1 or [::1]); set "
			"api_public = true to expose the API on purpose",
			c->api);
	if (c->link.dead_after_ms <= c->link.ping_interval_ms)
		fail_at(p,
			line_or(p->link_seen[K_LINK_DEAD],
				line_or(p->link_seen[K_LINK_PING], p->link_line)),
			PL_ERR_MALFORMED,
			"dead_after (%u ms) must be greater than ping_interval (%u ms)",
			c->link.dead_after_ms, c->link.ping_interval_ms);
	if (c->link.backoff_min_ms > c->link.backoff_max_ms)
		fail_at(p,
			line_or(p->link_seen[K_LINK_BMAX],
				line_or(p->link_seen[K_LINK_BMIN], p->link_line)),
			PL_ERR_MALFORMED,
			"backoff_max (%u ms) must not be less than backoff_min (%u ms)",
			c->link.backoff_max_ms, c->link.backoff_min_ms);
	if (p->err_code)
		return;

	const char *h = c->home;
	if (!c->data)
		c->data = join3(h, "/node-", c->name, ".db");
	c->state_db = join3(h, "/state.db", "", "");
	c->key_file = join3(h, "/nodes/", c->name, ".key");
	c->rec_file = join3(h, "/nodes/", c->name, ".rec");
	if (!c->data || !c->state_db || !c->key_file || !c->rec_file)
		fail_at(p, 0, PL_ERR_NOMEM, "out of memory");
}

static void set_defaults(node_config *c)
{
	memcpy(c->api, NODE_DEFAULT_API, sizeof(NODE_DEFAULT_API));
	c->api_public = false;
	c->api_max_connections = NODE_DEFAULT_API_MAX_CONNECTIONS;
	c->log_level = NODE_LOG_INFO;
	c->checkpoint_interval = NODE_DEFAULT_CHECKPOINT_INTERVAL;
	c->checkpoint_entries = NODE_DEFAULT_CHECKPOINT_ENTRIES;
	c->commit_batch = NODE_DEFAULT_COMMIT_BATCH;
	c->verify_thread = true;
	c->store_check = NODE_STORE_CHECK_QUICK;
	c->max_envelope = NODE_DEFAULT_MAX_ENVELOPE;
	c->link.ping_interval_ms = NODE_DEFAULT_PING_INTERVAL_MS;
	c->link.dead_after_ms = NODE_DEFAULT_DEAD_AFTER_MS;
	c->link.backoff_min_ms = NODE_DEFAULT_BACKOFF_MIN_MS;
	c->link.backoff_max_ms = NODE_DEFAULT_BACKOFF_MAX_MS;
	c->link.socket_buffer = 64 * 1024;
	c->link.window = 0;
	c->link.gather_us = 0;
	c->link.urgent_connection = true;
}

/* ------------------------------------------------------------ entry points */

/* Read the whole file (at most CONFIG_FILE_MAX bytes) into a malloc'd buffer. */
static int slurp(const char *path, char **out, size_t *len, char *why, size_t whycap)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		snprintf(why, whycap, "cannot open: %s", strerror(e));
		return e == ENOENT ? PL_ERR_NOT_FOUND : PL_ERR_IO;
	}
	char *buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		snprintf(why, whycap, "out of memory");
		return PL_ERR_NOMEM;
	}
	size_t n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
	int rerr = ferror(f);
	fclose(f);
	if (rerr) {
		free(buf);
		snprintf(why, whycap, "read error");
		return PL_ERR_IO;
	}
	if (n > CONFIG_FILE_MAX) {
		free(buf);
		snprintf(why, whycap, "larger than %d bytes", CONFIG_FILE_MAX);
		return PL_ERR_MALFORMED;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Absolute folder of path (malloc'd), or NULL with errno set. */
static char *config_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return realpath(".", NULL);
	if (slash == path)
		return strdup("/");
	size_t n = (size_t)(slash - path);
	char *d = malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, path, n);
	d[n] = '\0';
	char *r = realpath(d, NULL);
	free(d);
	return r;
}

int node_config_load(const char *path, node_config *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (!path)
		return pl_err_fail(PL_ERR_INVALID, "no configuration file given");

	parser p = {.path = path, .cfg = out};
	char why[160];
	char *text = NULL;
	int rc = slurp(path, &text, &p.len, why, sizeof(why));
	if (rc == 0) {
		p.text = text;
		p.dir = config_dir(path);
		if (!p.dir) {
			snprintf(why, sizeof(why), "cannot resolve its folder: %s",
				 strerror(errno));
			rc = PL_ERR_IO;
		}
	}
	if (rc == 0) {
		out->path = strdup(path);
		if (!out->path) {
			snprintf(why, sizeof(why), "out of memory");
			rc = PL_ERR_NOMEM;
		}
	}
	if (rc != 0) {
		free(text);
		free(p.dir);
		node_config_free(out);
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, why);
		return pl_err_fail(rc, "%s: %s", path, why);
	}

	set_defaults(out);
	int ir = ini_parse_stream(read_line, &p, on_key, &p);
	if (ir < 0)
		fail_at(&p, 0, PL_ERR_NOMEM, "out of memory");
	else if (ir > 0) /* read_line passes inih only well-formed lines: unexpected */
		fail_at(&p, ir, PL_ERR_MALFORMED, "syntax error");
	if (!p.err_code)
		finish(&p);

	free(text);
	free(p.dir);
	free(p.pseen);
	if (!p.err_code)
		return 0;

	char msg[768];
	if (p.err_line > 0)
		snprintf(msg, sizeof(msg), "%s:%d: %s", path, p.err_line, p.err);
	else
		snprintf(msg, sizeof(msg), "%s: %s", path, p.err);
	node_config_free(out);
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
	return pl_err_fail(p.err_code, "%s", msg);
}

void node_config_free(node_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->home);
	free(c->data);
	free(c->escalate_command);
	free(c->state_db);
	free(c->key_file);
	free(c->rec_file);
	free(c->peers);
	memset(c, 0, sizeof(*c));
}

const char *node_config_key_name(size_t i, const char **section)
{
	if (i < N_NODE_KEYS) {
		*section = "node";
		return node_keys[i].name;
	}
	i -= N_NODE_KEYS;
	if (i < N_LINK_KEYS) {
		*section = "link";
		return link_keys[i].name;
	}
	i -= N_LINK_KEYS;
	if (i < N_PEER_KEYS) {
		*section = "peer";
		return peer_keys[i].name;
	}
	return NULL;
}

const node_peer_conf *node_config_find_peer(const node_config *c, const char *name)
{
	for (size_t i = 0; i < c->npeers; i++)
		if (strcmp(c->peers[i].name, name) == 0)
			return &c->peers[i];
	return NULL;
}
