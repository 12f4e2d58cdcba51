/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of node/log.c: the exact logfmt line for a fixed time, quoting and
 * escaping of values (so a hostile value cannot add a field or a line),
 * every supported conversion, truncation, the level filter and the stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parley/err.h"

#include "log.h"

/* 2026-11-27T09:30:00.123Z */
#define T_MS 1795771800123LL

static int reset(void **state)
{
	(void)state;
	node_log_init(NODE_LOG_INFO, NULL);
	node_log_set_stream(NULL);
	return 0;
}

static void test_exact_line(void **state)
{
	(void)state;
	node_log_init(NODE_LOG_INFO, "tehran-1");
	char buf[512];
	size_t n = node_log_format(buf, sizeof(buf), T_MS, NODE_LOG_INFO, "link up",
				   "peer=%s port=%u", "islamabad", 7443u);
	const char *want = "ts=2026-11-27T09:30:00.123Z level=info node=tehran-1 msg=\"link up\" "
			   "peer=islamabad port=7443\n";
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));

	/* no fields, no node name, other level, milliseconds padded */
	node_log_init(NODE_LOG_INFO, NULL);
	node_log_format(buf, sizeof(buf), T_MS - 120, NODE_LOG_WARN, "started", NULL);
	assert_string_equal(buf, "ts=2026-11-27T09:30:00.003Z level=warn msg=\"started\"\n");
	node_log_format(buf, sizeof(buf), 0, NODE_LOG_ERROR, "", "%s", "");
	assert_string_equal(buf, "ts=1970-01-01T00:00:00.000Z level=error msg=\"\" \"\"\n");
}

/* volatile: so that the compiler cannot see (and warn about) the NULL */
static const char *volatile null_str = NULL;

static void test_escaping(void **state)
{
	(void)state;
	char buf[512];
	/* a value trying to smuggle a field and a second line */
	node_log_format(buf, sizeof(buf), T_MS, NODE_LOG_INFO, "m", "reason=%s",
			"x level=error\nts=forged \"q\" \\ \t\x01\xc3\xa9");
	assert_string_equal(
	    buf, "ts=2026-11-27T09:30:00.123Z level=info msg=\"m\" "
		 "reason=\"x level=error\\nts=forged \\\"q\\\" \\\\ \\t\\x01\\xc3\\xa9\"\n");
	/* exactly one newline, at the end */
	assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);

	/* '=' alone forces quotes; empty and NULL strings are "" */
	node_log_format(buf, sizeof(buf), T_MS, NODE_LOG_INFO, "m", "a=%s b=%s c=%s", "k=v", "",
			null_str);
	assert_non_null(strstr(buf, " a=\"k=v\" b=\"\" c=\"\"\n"));
	/* the message is always quoted and escaped the same way */
	node_log_format(buf, sizeof(buf), T_MS, NODE_LOG_INFO, "say \"hi\"\n", NULL);
	assert_non_null(strstr(buf, " msg=\"say \\\"hi\\\"\\n\"\n"));
}

static void test_conversions(void **state)
{
	(void)state;
	char buf[512];
	node_log_format(buf, sizeof(buf), T_MS, NODE_LOG_DEBUG, "n",
			"d=%d i=%i u=%u x=%x X=%X c=%c hh=%hhd hu=%hu l=%ld lu=%lu ll=%lld "
			"llu=%llu z=%zu zd=%zd j=%jd ju=%ju t=%td pct=100%% s=%.*s",
			-7, 42, 4000000000u, 255u, 255u, 'q', (signed char)-100,
			(unsigned short)60000, -1234567890123L, 18446744073709551615UL,
			-9223372036854775807LL - 1, 18446744073709551615ULL, (size_t)12345,
			(ssize_t)-3, (intmax_t)-1, (uintmax_t)2, (ptrdiff_t)-8, 3, "abcdef");
	assert_string_equal(
	    buf, "ts=2026-11-27T09:30:00.123Z level=debug msg=\"n\" d=-7 i=42 u=4000000000 x=ff "
		 "X=FF c=q hh=-100 hu=60000 l=-1234567890123 lu=18446744073709551615 "
		 "ll=-9223372036854775808 llu=18446744073709551615 z=12345 zd=-3 j=-1 ju=2 "
		 "t=-8 pct=100% s=abc\n");
}

static void test_bad_format(void **state)
{
	(void)state;
	char buf[512];
	/* %f is valid printf (so the compiler accepts it) but not supported */
	node_log_format(buf, sizeof(buf), T_MS, NODE_LOG_INFO, "m", "a=%d b=%f c=%s", 1, 2.5, "x");
	assert_non_null(strstr(buf, " a=1 b= log_error=\"bad format\"\n"));
	node_log_format(buf, sizeof(buf), T_MS, NODE_LOG_INFO, "m", "w=%5d", 1);
	assert_non_null(strstr(buf, "log_error=\"bad format\""));
}

static void test_truncation(void **state)
{
	(void)state;
	/* one value over the per-value cap ends in "..." */
	char big[3000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	char buf[NODE_LOG_LINE_MAX];
	size_t n = node_log_format(buf, sizeof(buf), T_MS, NODE_LOG_INFO, "m", "v=%s", big);
	assert_int_equal(n, strlen(buf));
	assert_non_null(strstr(buf, "aaa...\"\n"));
	assert_true(n < 1200);

	/* a line over the buffer is cut and marked */
	char small[128];
	n = node_log_format(small, sizeof(small), T_MS, NODE_LOG_INFO, "m", "v=%s", big);
	assert_int_equal(n, strlen(small));
	assert_true(n < sizeof(small));
	const char *tail = " truncated=true\n";
	assert_string_equal(small + n - strlen(tail), tail);
}

static void test_levels_and_stream(void **state)
{
	(void)state;
	FILE *f = tmpfile();
	assert_non_null(f);
	node_log_set_stream(f);
	node_log_init(NODE_LOG_WARN, "islamabad-1");
	assert_true(node_log_enabled(NODE_LOG_ERROR));
	assert_true(node_log_enabled(NODE_LOG_WARN));
	assert_false(node_log_enabled(NODE_LOG_INFO));
	node_log(NODE_LOG_INFO, "dropped", "k=%d", 1);
	node_log(NODE_LOG_DEBUG, "dropped too", "k=%d", 2);
	node_log(NODE_LOG_WARN, "kept", "k=%d", 3);
	node_log_msg(NODE_LOG_ERROR, "kept too");
	node_log_set_level(NODE_LOG_DEBUG);
	node_log(NODE_LOG_DEBUG, "now kept", "k=%d", 4);

	char text[2048];
	rewind(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	node_log_set_stream(NULL);
	assert_null(strstr(text, "dropped"));
	const char *l1 = strstr(text, "level=warn node=islamabad-1 msg=\"kept\" k=3\n");
	const char *l2 = strstr(text, "level=error node=islamabad-1 msg=\"kept too\"\n");
	const char *l3 = strstr(text, "level=debug node=islamabad-1 msg=\"now kept\" k=4\n");
	assert_non_null(l1);
	assert_non_null(l2);
	assert_non_null(l3);
	assert_true(l1 < l2 && l2 < l3);
	/* three lines, each starting with a timestamp */
	int lines = 0;
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 3);
	assert_memory_equal(text, "ts=", 3);
}

static void test_level_names(void **state)
{
	(void)state;
	node_log_level lv = NODE_LOG_ERROR;
	assert_int_equal(node_log_level_parse("debug", &lv), 0);
	assert_int_equal(lv, NODE_LOG_DEBUG);
	assert_int_equal(node_log_level_parse("warn", &lv), 0);
	assert_int_equal(lv, NODE_LOG_WARN);
	assert_int_equal(node_log_level_parse("WARN", &lv), PL_ERR_MALFORMED);
	assert_int_equal(node_log_level_parse("warning", &lv), PL_ERR_MALFORMED);
	assert_int_equal(lv, NODE_LOG_WARN);
	assert_string_equal(node_log_level_name(NODE_LOG_INFO), "info");
	assert_string_equal(node_log_level_name((node_log_level)9), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_exact_line, reset),
	    cmocka_unit_test_setup(test_escaping, reset),
	    cmocka_unit_test_setup(test_conversions, reset),
	    cmocka_unit_test_setup(test_bad_format, reset),
	    cmocka_unit_test_setup(test_truncation, reset),
	    cmocka_unit_test_setup(test_levels_and_stream, reset),
	    cmocka_unit_test_setup(test_level_names, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
