/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Structured logfmt lines on stderr (see log.h).  A line is built in a
 * bounded buffer, values escaped as they are appended, then written with
 * one fwrite so concurrent writers do not interleave.  This file reads the
 * wall clock for the ts field; nothing else.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "parley/err.h"

#include "log.h"

/* Longest value taken from one conversion; longer ones end in "...". */
#define VALUE_MAX 1024

static node_log_level g_level = NODE_LOG_INFO;
static char g_node[64];
static FILE *g_stream;

void node_log_init(node_log_level level, const char *node_name)
{
	g_level = level;
	g_node[0] = '\0';
	if (node_name) {
		size_t n = strnlen(node_name, sizeof(g_node) - 1);
		memcpy(g_node, node_name, n);
		g_node[n] = '\0';
	}
}

void node_log_set_level(node_log_level level)
{
	g_level = level;
}

void node_log_set_stream(FILE *f)
{
	g_stream = f;
}

bool node_log_enabled(node_log_level level)
{
	return level <= g_level;
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

const char *node_log_level_name(node_log_level level)
{
	if ((unsigned)level < sizeof(level_names) / sizeof(level_names[0]))
		return level_names[level];
	return "unknown";
}

int node_log_level_parse(const char *s, node_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (s && strcmp(s, level_names[i]) == 0) {
			*out = (node_log_level)i;
			return 0;
		}
	}
	return pl_err_fail(PL_ERR_MALFORMED, "unknown log level '%s'", s ? s : "");
}

/* ------------------------------------------------------------ line builder */

/* Room kept at the end for " truncated=true\n" and the NUL. */
static const char trunc_mark[] = " truncated=true";

typedef struct line {
	char *buf;
	size_t cap; /* usable bytes before the reserve */
	size_t len;
	bool cut;
} line;

static void put_bytes(line *l, const char *p, size_t n)
{
	if (l->cut)
		return;
	if (n > l->cap - l->len) {
		memcpy(l->buf + l->len, p, l->cap - l->len);
		l->len = l->cap;
		l->cut = true;
		return;
	}
	memcpy(l->buf + l->len, p, n);
	l->len += n;
}

static void put_str(line *l, const char *s)
{
	put_bytes(l, s, strlen(s));
}

static bool needs_quotes(const char *v, size_t n)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c <= ' ' || c >= 0x7f || c == '=' || c == '"' || c == '\\')
			return true;
	}
	return false;
}

/* Append v (n bytes) as a logfmt value; always quoted when force is set. */
static void put_value(line *l, const char *v, size_t n, bool force, bool more)
{
	if (!force && !more && !needs_quotes(v, n)) {
		put_bytes(l, v, n);
		return;
	}
	put_bytes(l, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		char esc[5];
		switch (c) {
		case '"':
			put_bytes(l, "\\\"", 2);
			break;
		case '\\':
			put_bytes(l, "\\\\", 2);
			break;
		case '\n':
			put_bytes(l, "\\n", 2);
			break;
		case '\r':
			put_bytes(l, "\\r", 2);
			break;
		case '\t':
			put_bytes(l, "\\t", 2);
			break;
		default:
			if (c < 0x20 || c >= 0x7f) {
				snprintf(esc, sizeof(esc), "\\x%02x", c);
				put_bytes(l, esc, 4);
			} else {
				put_bytes(l, (const char *)&c, 1);
			}
		}
	}
	if (more)
		put_bytes(l, "...", 3);
	put_bytes(l, "\"", 1);
}

/* Read one integer argument of the given length modifier and conversion
 * and print it (no format string built at run time). */
static int format_number(char *out, size_t cap, const char *mods, char conv, va_list *ap)
{
	if (conv == 'c')
		return snprintf(out, cap, "%c", (char)va_arg(*ap, int));
	if (conv == 'd' || conv == 'i') {
		intmax_t v;
		if (strcmp(mods, "l") == 0)
			v = va_arg(*ap, long);
		else if (strcmp(mods, "ll") == 0)
			v = va_arg(*ap, long long);
		else if (strcmp(mods, "z") == 0)
			v = va_arg(*ap, ssize_t);
		else if (strcmp(mods, "j") == 0)
			v = va_arg(*ap, intmax_t);
		else if (strcmp(mods, "t") == 0)
			v = va_arg(*ap, ptrdiff_t);
		else if (strcmp(mods, "hh") == 0)
			v = (signed char)va_arg(*ap, int);
		else if (strcmp(mods, "h") == 0)
			v = (short)va_arg(*ap, int);
		else
			v = va_arg(*ap, int);
		return snprintf(out, cap, "%jd", v);
	}
	uintmax_t u;
	if (strcmp(mods, "l") == 0)
		u = va_arg(*ap, unsigned long);
	else if (strcmp(mods, "ll") == 0)
		u = va_arg(*ap, unsigned long long);
	else if (strcmp(mods, "z") == 0)
		u = va_arg(*ap, size_t);
	else if (strcmp(mods, "j") == 0)
		u = va_arg(*ap, uintmax_t);
	else if (strcmp(mods, "t") == 0)
		u = (uintmax_t)va_arg(*ap, ptrdiff_t);
	else if (strcmp(mods, "hh") == 0)
		u = (unsigned char)va_arg(*ap, unsigned);
	else if (strcmp(mods, "h") == 0)
		u = (unsigned short)va_arg(*ap, unsigned);
	else
		u = va_arg(*ap, unsigned);
	if (conv == 'x')
		return snprintf(out, cap, "%jx", u);
	if (conv == 'X')
		return snprintf(out, cap, "%jX", u);
	return snprintf(out, cap, "%ju", u);
}

/* Expand kvfmt into l.  Returns false on an unsupported conversion (the
 * remaining arguments are then not consumed). */
static bool put_fields(line *l, const char *f, va_list *ap)
{
	while (*f) {
		if (*f != '%') {
			const char *pct = strchr(f, '%');
			size_t n = pct ? (size_t)(pct - f) : strlen(f);
			put_bytes(l, f, n);
			f += n;
			continue;
		}
		f++;
		if (*f == '%') {
			put_bytes(l, "%", 1);
			f++;
			continue;
		}
		int prec = -1;
		if (f[0] == '.' && f[1] == '*') {
			prec = va_arg(*ap, int);
			f += 2;
		}
		char mods[3] = "";
		size_t nm = 0;
		while (nm < 2 && (*f == 'h' || *f == 'l' || *f == 'z' || *f == 'j' || *f == 't'))
			mods[nm++] = *f++;
		mods[nm] = '\0';
		char conv = *f;
		if (conv == '\0')
			return false;
		f++;
		if (conv == 's') {
			if (nm)
				return false;
			const char *s = va_arg(*ap, const char *);
			if (!s)
				s = "";
			size_t lim = prec >= 0 && prec < VALUE_MAX ? (size_t)prec : VALUE_MAX;
			size_t n = strnlen(s, lim);
			bool more =
			    n == VALUE_MAX && (prec < 0 || prec > VALUE_MAX) && s[n] != '\0';
			put_value(l, s, n, false, more);
			continue;
		}
		if (prec >= 0 || !strchr("diuxXc", conv) || (conv == 'c' && nm) ||
		    (nm == 2 && strcmp(mods, "hh") != 0 && strcmp(mods, "ll") != 0))
			return false;
		char num[64];
		int n = format_number(num, sizeof(num), mods, conv, ap);
		if (n < 0)
			return false;
		put_value(l, num, strnlen(num, sizeof(num)), false, false);
	}
	return true;
}

static size_t format_line(char *out, size_t cap, long long t_ms, node_log_level level,
			  const char *msg, const char *kvfmt, va_list *ap)
{
	if (cap < sizeof(trunc_mark) + 2) {
		if (cap)
			out[0] = '\0';
		return 0;
	}
	line l = {.buf = out, .cap = cap - sizeof(trunc_mark) - 1, .len = 0, .cut = false};

	char ts[40];
	time_t secs = (time_t)(t_ms >= 0 ? t_ms / 1000 : (t_ms - 999) / 1000);
	int ms = (int)(t_ms - (long long)secs * 1000);
	struct tm tm;
	if (gmtime_r(&secs, &tm) && strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm) > 0) {
		size_t n = strlen(ts);
		snprintf(ts + n, sizeof(ts) - n, ".%03dZ", ms);
	} else {
		snprintf(ts, sizeof(ts), "%lld", t_ms);
	}
	put_str(&l, "ts=");
	put_str(&l, ts);
	put_str(&l, " level=");
	put_str(&l, node_log_level_name(level));
	if (g_node[0]) {
		put_str(&l, " node=");
		put_value(&l, g_node, strlen(g_node), false, false);
	}
	put_str(&l, " msg=");
	put_value(&l, msg ? msg : "", msg ? strlen(msg) : 0, true, false);
	if (kvfmt && *kvfmt) {
		put_str(&l, " ");
		if (!put_fields(&l, kvfmt, ap))
			put_str(&l, " log_error=\"bad format\"");
	}
	if (l.cut) {
		memcpy(l.buf + l.len, trunc_mark, sizeof(trunc_mark) - 1);
		l.len += sizeof(trunc_mark) - 1;
	}
	l.buf[l.len++] = '\n';
	l.buf[l.len] = '\0';
	return l.len;
}

size_t node_log_format(char *out, size_t cap, long long t_ms, node_log_level level, const char *msg,
		       const char *kvfmt, ...)
{
	va_list ap;
	va_start(ap, kvfmt);
	size_t n = format_line(out, cap, t_ms, level, msg, kvfmt, &ap);
	va_end(ap);
	return n;
}

static long long now_ms(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void emit(node_log_level level, const char *msg, const char *kvfmt, va_list *ap)
{
	char buf[NODE_LOG_LINE_MAX];
	size_t n = format_line(buf, sizeof(buf), now_ms(), level, msg, kvfmt, ap);
	FILE *f = g_stream ? g_stream : stderr;
	fwrite(buf, 1, n, f);
	fflush(f);
}

void node_log(node_log_level level, const char *msg, const char *kvfmt, ...)
{
	if (!node_log_enabled(level))
		return;
	va_list ap;
	va_start(ap, kvfmt);
	emit(level, msg, kvfmt, &ap);
	va_end(ap);
}

/* A va_list wrapper so node_log_msg shares emit(). */
static void emit_plain(node_log_level level, const char *msg, ...)
{
	va_list ap;
	va_start(ap, msg);
	emit(level, msg, NULL, &ap);
	va_end(ap);
}

void node_log_msg(node_log_level level, const char *msg)
{
	if (!node_log_enabled(level))
		return;
	emit_plain(level, msg);
}
