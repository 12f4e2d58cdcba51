/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of node/config.c: a full valid file, defaults, comments and
 * layout, path resolution, and every kind of refusal with its exact
 * FILE:LINE and reason; plus node_addr_split and node_addr_is_loopback.
 *
 * Files are written to a fresh folder under $PARLEY_TEST_TMP (or /tmp).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "parley/err.h"

#include "config.h"
#include "log.h"

/* ------------------------------------------------------------ helpers */

static char tmpdir[2048];

static int setup_dir(void **state)
{
	(void)state;
	const char *base = getenv("PARLEY_TEST_TMP");
	if (!base || !*base)
		base = "/tmp";
	mkdir(base, 0700);
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_config.XXXXXX", base);
	if (!mkdtemp(tmpdir))
		return -1;
	/* realpath: the loader resolves the config folder to an absolute path */
	char *r = realpath(tmpdir, NULL);
	if (!r)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "%s", r);
	free(r);
	return 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	char cmd[2200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write text to <tmpdir>/<name>; path receives the full path. */
static void write_conf(char *path, size_t cap, const char *name, const char *text, size_t len)
{
	snprintf(path, cap, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static const char minimal[] = "[node]\n"
			      "name = tehran-1\n"
			      "home = home\n"
			      "listen = 0.0.0.0:7000\n";

/* ------------------------------------------------------------ valid files */

static void test_full_file(void **state)
{
	(void)state;
	static const char text[] = "; Tehran's node\n"
				   "[node]\n"
				   "name = tehran-1\n"
				   "home = state/tehran\n"
				   "data = /var/lib/parley/tehran.db\n"
				   "listen = [::]:7443\n"
				   "api = 127.0.0.2:9000\n"
				   "api_public = false\n"
				   "api_max_connections = 32\n"
				   "log_level = debug\n"
				   "checkpoint_interval = 60\n"
				   "checkpoint_entries = 50\n"
				   "commit_batch = 32\n"
				   "max_envelope = 65536\n"
				   "store_check = full\n"
				   "verify_thread = false\n"
				   "\n"
				   "[link]\n"
				   "ping_interval = 1000\n"
				   "dead_after = 4000\n"
				   "backoff_min = 50\n"
				   "backoff_max = 5000\n"
				   "\n"
				   "[peer islamabad]\n"
				   "address = islamabad.example.org:7443\n"
				   "node = islamabad-1\n"
				   "\n"
				   "[peer kabul]\n"
				   "address = 192.0.2.7:7443\n";
	char path[2300], err[512];
	write_conf(path, sizeof(path), "full.ini", text, sizeof(text) - 1);
	node_config c;
	int rc = node_config_load(path, &c, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_string_equal(err, "");
	assert_string_equal(c.path, path);
	assert_string_equal(c.name, "tehran-1");

	char want[2400];
	snprintf(want, sizeof(want), "%s/state/tehran", tmpdir);
	assert_string_equal(c.home, want);
	assert_string_equal(c.data, "/var/lib/parley/tehran.db");
	snprintf(want, sizeof(want), "%s/state/tehran/state.db", tmpdir);
	assert_string_equal(c.state_db, want);
	snprintf(want, sizeof(want), "%s/state/tehran/nodes/tehran-1.key", tmpdir);
	assert_string_equal(c.key_file, want);
	snprintf(want, sizeof(want), "%s/state/tehran/nodes/tehran-1.rec", tmpdir);
	assert_string_equal(c.rec_file, want);

	assert_string_equal(c.listen, "[::]:7443");
	assert_string_equal(c.api, "127.0.0.2:9000");
	assert_false(c.api_public);
	assert_int_equal(c.api_max_connections, 32);
	assert_int_equal(c.log_level, NODE_LOG_DEBUG);
	assert_false(c.verify_thread);
	assert_int_equal(c.checkpoint_interval, 60);
	assert_int_equal(c.checkpoint_entries, 50);
	assert_int_equal(c.commit_batch, 32);
	assert_int_equal(c.store_check, NODE_STORE_CHECK_FULL);
	assert_int_equal(c.max_envelope, 65536);
	assert_int_equal(c.link.ping_interval_ms, 1000);
	assert_int_equal(c.link.dead_after_ms, 4000);
	assert_int_equal(c.link.backoff_min_ms, 50);
	assert_int_equal(c.link.backoff_max_ms, 5000);

	assert_int_equal(c.npeers, 2);
	assert_string_equal(c.peers[0].name, "islamabad");
	assert_string_equal(c.peers[0].address, "islamabad.example.org:7443");
	assert_string_equal(c.peers[0].node, "islamabad-1");
	assert_int_equal(c.peers[0].line, 24);
	assert_string_equal(c.peers[1].name, "kabul");
	assert_string_equal(c.peers[1].address, "192.0.2.7:7443");
	assert_string_equal(c.peers[1].node, "");
	assert_ptr_equal(node_config_find_peer(&c, "kabul"), &c.peers[1]);
	assert_null(node_config_find_peer(&c, "delhi"));

	node_config_free(&c);
	assert_null(c.home);
	assert_int_equal(c.npeers, 0);
	node_config_free(&c); /* idempotent */
	node_config_free(NULL);
}

static void test_defaults(void **state)
{
	(void)state;
	char path[2300], err[512];
	write_conf(path, sizeof(path), "min.ini", minimal, sizeof(minimal) - 1);
	node_config c;
	assert_int_equal(node_config_load(path, &c, err, sizeof(err)), 0);
	char want[2400];
	snprintf(want, sizeof(want), "%s/home/node-tehran-1.db", tmpdir);
	assert_string_equal(c.data, want);
	assert_string_equal(c.api, "127.0.0.1:8420");
	assert_false(c.api_public);
	assert_int_equal(c.api_max_connections, 256);
	assert_int_equal(c.log_level, NODE_LOG_INFO);
	assert_int_equal(c.checkpoint_interval, 300);
	assert_int_equal(c.checkpoint_entries, 1000);
	assert_int_equal(c.commit_batch, 256);
	assert_true(c.verify_thread);
	assert_int_equal(c.store_check, NODE_STORE_CHECK_QUICK);
	assert_int_equal(c.max_envelope, 1048576);
	assert_int_equal(c.link.ping_interval_ms, 5000);
	assert_int_equal(c.link.socket_buffer, 65536);
	assert_int_equal(c.link.dead_after_ms, 20000);
	assert_int_equal(c.link.backoff_min_ms, 200);
	assert_int_equal(c.link.backoff_max_ms, 60000);
	assert_int_equal(c.npeers, 0);
	assert_null(c.peers);
	node_config_free(&c);
}

/* Comments, blank lines, indentation, CRLF, a BOM, inline comments, an
 * empty [link] section, and a relative data path. */
static void test_layout(void **state)
{
	(void)state;
	static const char text[] = "\xEF\xBB\xBF# comment\r\n"
				   "   ; indented comment\r\n"
				   "[node]   ; the node\r\n"
				   "\tname=tehran-1\r\n"
				   "  home = /srv/parley   # absolute\r\n"
				   "data = db/node.db\r\n"
				   "listen = 127.0.0.1:0\r\n"
				   "api = 0.0.0.0:8420\r\n"
				   "api_public = true\r\n"
				   "\r\n"
				   "[ link ]\r\n";
	char path[2300], err[512];
	write_conf(path, sizeof(path), "layout.ini", text, sizeof(text) - 1);
	node_config c;
	int rc = node_config_load(path, &c, err, sizeof(err));
	if (rc)
		fail_msg("%s", err);
	assert_string_equal(c.name, "tehran-1");
	assert_string_equal(c.home, "/srv/parley");
	assert_string_equal(c.state_db, "/srv/parley/state.db");
	char want[2400];
	snprintf(want, sizeof(want), "%s/db/node.db", tmpdir);
	assert_string_equal(c.data, want);
	assert_string_equal(c.listen, "127.0.0.1:0");
	assert_string_equal(c.api, "0.0.0.0:8420");
	assert_true(c.api_public);
	node_config_free(&c);
}

/* A config path without a folder resolves against the current folder. */
static void test_relative_config_path(void **state)
{
	(void)state;
	char path[2300], err[512], old[2048];
	write_conf(path, sizeof(path), "rel.ini", minimal, sizeof(minimal) - 1);
	assert_non_null(getcwd(old, sizeof(old)));
	assert_int_equal(chdir(tmpdir), 0);
	node_config c;
	int rc = node_config_load("rel.ini", &c, err, sizeof(err));
	assert_int_equal(chdir(old), 0);
	assert_int_equal(rc, 0);
	char want[2400];
	snprintf(want, sizeof(want), "%s/home", tmpdir);
	assert_string_equal(c.home, want);
	assert_string_equal(c.path, "rel.ini");
	node_config_free(&c);
}

/* ------------------------------------------------------------ refusals */

typedef struct bad_case {
	const char *text;
	int line; /* 0: no line in the message */
	const char *reason;
} bad_case;

#define NODE3 "[node]\nname = tehran-1\nhome = h\nlisten = 127.0.0.1:7000\n" /* lines 1-4 */

static const bad_case bad_cases[] = {
    /* unknown names, with and without a suggestion */
    {NODE3 "lisen = 1.2.3.4:5\n", 5, "unknown key 'lisen' in [node] (did you mean 'listen'?)"},
    {NODE3 "colour = blue\n", 5, "unknown key 'colour' in [node]"},
    {NODE3 "[link]\nping = 5\n", 6, "unknown key 'ping' in [link]"},
    {NODE3 "[link]\nbackof_min = 5\n", 6, "(did you mean 'backoff_min'?)"},
    {NODE3 "[peer kabul]\naddres = 1.2.3.4:5\n", 6,
     "unknown key 'addres' in [peer kabul] (did you mean 'address'?)"},
    {NODE3 "[nodes]\n", 5, "unknown section [nodes] (did you mean [node]?)"},
    {NODE3 "[metrics]\nx = 1\n", 5, "unknown section [metrics]"},
    {NODE3 "[peer]\naddress = 1.2.3.4:5\n", 5, "[peer] needs the peer state's name"},
    {NODE3 "[peer Kabul!]\n", 5, "bad peer name 'Kabul!'"},
    /* duplicates */
    {NODE3 "name = tehran-2\n", 5, "duplicate key 'name' in [node] (first set on line 2)"},
    {NODE3 "[node]\n", 5, "duplicate section [node] (first on line 1)"},
    {NODE3 "[link]\n[link]\n", 6, "duplicate section [link] (first on line 5)"},
    {NODE3 "[peer a]\naddress = 1.2.3.4:5\n[peer a]\n", 7,
     "duplicate section [peer a] (first on line 5)"},
    {NODE3 "[peer a]\naddress = 1.2.3.4:5\naddress = 1.2.3.4:6\n", 7,
     "duplicate key 'address' in [peer a] (first set on line 6)"},
    /* missing required things */
    {"[node]\nhome = h\nlisten = 127.0.0.1:1\n", 1, "[node] has no 'name' (required)"},
    {"\n[node]\nname = a\nlisten = 127.0.0.1:1\n", 2, "[node] has no 'home' (required)"},
    {"[node]\nname = a\nhome = h\n", 1, "[node] has no 'listen' (required)"},
    {"[link]\nping_interval = 100\n", 2, "missing section [node]"},
    {"", 1, "missing section [node]"},
    {NODE3 "[peer a]\nnode = a-1\n", 5, "[peer a] has no 'address' (required)"},
    /* bad values */
    {"[node]\nname = Tehran\n", 2, "bad value 'Tehran' for 'name': a name is 1-63"},
    {NODE3 "commit_batch = abc\n", 5,
     "bad value 'abc' for 'commit_batch': expected a whole number from 1 to 65536"},
    {NODE3 "commit_batch = 12x\n", 5, "bad value '12x' for 'commit_batch'"},
    {NODE3 "commit_batch = -5\n", 5, "bad value '-5' for 'commit_batch'"},
    {NODE3 "store_check = fast\n", 5, "bad value 'fast' for 'store_check': expected off, quick or full"},
    {NODE3 "commit_batch = +5\n", 5, "bad value '+5' for 'commit_batch'"},
    {NODE3 "commit_batch = 1.5\n", 5, "bad value '1.5' for 'commit_batch'"},
    {NODE3 "commit_batch = 0\n", 5, "value 0 for 'commit_batch' is out of range (1 to 65536)"},
    {NODE3 "commit_batch = 65537\n", 5, "value 65537 for 'commit_batch' is out of range"},
    {NODE3 "max_envelope = 99999999999999999999999\n", 5,
     "value 99999999999999999999999 for 'max_envelope' is out of range"},
    {NODE3 "checkpoint_interval = 5\n", 5, "out of range (10 to 86400)"},
    {NODE3 "api_public = yes\n", 5, "bad value 'yes' for 'api_public': expected true or false"},
    {NODE3 "api_max_connections = 3\n", 5,
     "value 3 for 'api_max_connections' is out of range (4 to 65536)"},
    {NODE3 "api_max_connections = 65537\n", 5, "value 65537 for 'api_max_connections' is out"},
    {NODE3 "api_max_connections = many\n", 5, "bad value 'many' for 'api_max_connections'"},
    {NODE3 "log_level = loud\n", 5, "expected error, warn, info or debug"},
    {NODE3 "data =\n", 5, "empty value for 'data'"},
    {"[node]\nlisten = localhost:7000\n", 2, "the host must be an IP address"},
    {"[node]\nlisten = 1.2.3.4\n", 2, "bad value '1.2.3.4' for 'listen': missing ':port'"},
    {"[node]\nlisten = 1.2.3.4:65536\n", 2, "port must be a number from 0 to 65535"},
    {"[node]\nlisten = ::1:7000\n", 2, "IPv6 addresses go in brackets"},
    {"[node]\nlisten = [::1:7000\n", 2, "expected [IPv6 address]:port"},
    {"[node]\nlisten = [fe80::zz]:7000\n", 2, "bad IPv6 address 'fe80::zz'"},
    {NODE3 "[peer a]\naddress = 1.2.3.4:0\n", 6, "port must be a number from 1 to 65535"},
    {NODE3 "[peer a]\naddress = bad_host:7\n", 6, "bad character '_' in host name"},
    {NODE3 "[peer a]\nnode = Node\n", 6, "bad value 'Node' for 'node'"},
    /* cross-key checks */
    {NODE3 "api = 0.0.0.0:8420\n", 5, "api address '0.0.0.0:8420' is not a loopback address"},
    {NODE3 "api = 10.0.0.1:8420\napi_public = false\n", 5, "is not a loopback address"},
    {NODE3 "[link]\nping_interval = 5000\ndead_after = 5000\n", 7,
     "dead_after (5000 ms) must be greater than ping_interval (5000 ms)"},
    {NODE3 "[link]\nping_interval = 30000\n", 6, "must be greater than ping_interval"},
    {NODE3 "[link]\nbackoff_min = 900\nbackoff_max = 800\n", 7,
     "backoff_max (800 ms) must not be less than backoff_min (900 ms)"},
    {NODE3 "[link]\nbackoff_min = 90000\n", 6, "must not be less than backoff_min"},
    /* syntax */
    {"name = x\n[node]\n", 1, "key 'name' outside any section"},
    {NODE3 "just words\n", 5, "expected 'key = value', a [section] or a comment"},
    {NODE3 "[link\n", 5, "section header without a closing ']'"},
    {NODE3 "[link] extra\n", 5, "unexpected text after ']'"},
};

static void test_refusals(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const bad_case *bc = &bad_cases[i];
		char path[2300], err[512], name[32];
		snprintf(name, sizeof(name), "bad%zu.ini", i);
		write_conf(path, sizeof(path), name, bc->text, strlen(bc->text));
		node_config c;
		memset(&c, 0x5a, sizeof(c));
		int rc = node_config_load(path, &c, err, sizeof(err));
		if (rc != PL_ERR_MALFORMED)
			fail_msg("case %zu: rc %d, err '%s'", i, rc, err);
		char prefix[2400];
		snprintf(prefix, sizeof(prefix), "%s:%d: ", path, bc->line);
		if (strncmp(err, prefix, strlen(prefix)) != 0)
			fail_msg("case %zu: wanted prefix '%s', got '%s'", i, prefix, err);
		if (!strstr(err + strlen(prefix), bc->reason))
			fail_msg("case %zu: wanted reason '%s', got '%s'", i, bc->reason, err);
		/* the same text is the pl_err detail, and out is left zeroed */
		assert_string_equal(pl_err_detail(), err);
		assert_null(c.home);
		assert_null(c.peers);
		assert_int_equal(c.npeers, 0);
		assert_string_equal(c.name, "");
	}
}

/* The first problem is the one reported, even when later lines are worse. */
static void test_first_error_wins(void **state)
{
	(void)state;
	static const char text[] = NODE3 "commit_batch = 0\n"
					 "bogus line\n"
					 "[zzz]\n";
	char path[2300], err[512];
	write_conf(path, sizeof(path), "first.ini", text, sizeof(text) - 1);
	node_config c;
	assert_int_equal(node_config_load(path, &c, err, sizeof(err)), PL_ERR_MALFORMED);
	assert_non_null(strstr(err, ":5: value 0 for 'commit_batch'"));
}

static void test_bad_bytes(void **state)
{
	(void)state;
	char path[2300], err[512];
	/* a NUL byte on line 2 */
	static const char nul[] = "[node]\nname = a\0b\n";
	write_conf(path, sizeof(path), "nul.ini", nul, sizeof(nul) - 1);
	node_config c;
	assert_int_equal(node_config_load(path, &c, err, sizeof(err)), PL_ERR_MALFORMED);
	assert_non_null(strstr(err, "nul.ini:2: NUL byte in line"));

	/* a line longer than libinih's line buffer */
	char longtext[1200];
	int n = snprintf(longtext, sizeof(longtext), "[node]\nhome = /");
	memset(longtext + n, 'x', 1000);
	memcpy(longtext + n + 1000, "\n", 2);
	write_conf(path, sizeof(path), "long.ini", longtext, strlen(longtext));
	assert_int_equal(node_config_load(path, &c, err, sizeof(err)), PL_ERR_MALFORMED);
	assert_non_null(strstr(err, "long.ini:2: line longer than"));
}

static void test_missing_file(void **state)
{
	(void)state;
	char path[2300], err[512];
	snprintf(path, sizeof(path), "%s/does-not-exist.ini", tmpdir);
	node_config c;
	assert_int_equal(node_config_load(path, &c, err, sizeof(err)), PL_ERR_NOT_FOUND);
	char want[2400];
	snprintf(want, sizeof(want), "%s: cannot open: ", path);
	assert_memory_equal(err, want, strlen(want));
	assert_null(c.path);
	/* errlen 0 and NULL err are allowed */
	assert_int_equal(node_config_load(path, &c, NULL, 0), PL_ERR_NOT_FOUND);
}

/* ------------------------------------------------------------ addresses */

static void test_addr_split(void **state)
{
	(void)state;
	char host[64];
	uint16_t port = 1;
	assert_int_equal(node_addr_split("127.0.0.1:7000", host, sizeof(host), &port, false), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 7000);
	assert_int_equal(node_addr_split("[::1]:0", host, sizeof(host), &port, true), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 0);
	assert_int_equal(
	    node_addr_split("node.example.org:65535", host, sizeof(host), &port, false), 0);
	assert_string_equal(host, "node.example.org");
	assert_int_equal(port, 65535);

	memcpy(host, "keep", 5); /* outputs stay unchanged on failure */
	port = 9;
	assert_int_equal(node_addr_split("[::1]:0", host, sizeof(host), &port, false),
			 PL_ERR_MALFORMED);
	assert_int_equal(node_addr_split("a:", host, sizeof(host), &port, false), PL_ERR_MALFORMED);
	assert_int_equal(node_addr_split(":80", host, sizeof(host), &port, false),
			 PL_ERR_MALFORMED);
	assert_int_equal(node_addr_split("a:123456", host, sizeof(host), &port, false),
			 PL_ERR_MALFORMED);
	assert_int_equal(node_addr_split("a:12a", host, sizeof(host), &port, false),
			 PL_ERR_MALFORMED);
	assert_int_equal(node_addr_split("", host, sizeof(host), &port, false), PL_ERR_MALFORMED);
	assert_int_equal(node_addr_split("a b:1", host, sizeof(host), &port, false),
			 PL_ERR_MALFORMED);
	assert_string_equal(host, "keep");
	assert_int_equal(port, 9);
	/* host longer than the caller's buffer */
	char small[4];
	assert_int_equal(node_addr_split("abcdef:1", small, sizeof(small), &port, false),
			 PL_ERR_LIMIT);
}

static void test_loopback(void **state)
{
	(void)state;
	assert_true(node_addr_is_loopback("127.0.0.1"));
	assert_true(node_addr_is_loopback("127.255.0.9"));
	assert_true(node_addr_is_loopback("::1"));
	assert_true(node_addr_is_loopback("::ffff:127.0.0.1"));
	assert_false(node_addr_is_loopback("128.0.0.1"));
	assert_false(node_addr_is_loopback("0.0.0.0"));
	assert_false(node_addr_is_loopback("::"));
	assert_false(node_addr_is_loopback("::2"));
	assert_false(node_addr_is_loopback("::ffff:10.0.0.1"));
	assert_false(node_addr_is_loopback("localhost"));
}

/* ------------------------------------------------------------ documentation */

/* Every key the loader knows has a row "| `key` |" in its section's table
 * of docs/config.md ("## [node]", "## [link]", "## [peer NAME]"). */
static void test_documented(void **state)
{
	(void)state;
	const char *data = getenv("PARLEY_TEST_DATA");
	char path[2048];
	snprintf(path, sizeof(path), "%s/../../docs/config.md",
		 data && *data ? data : "tests/data");
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	static char doc[65536];
	size_t n = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[n] = '\0';

	size_t count = 0;
	const char *sect;
	for (size_t i = 0; node_config_key_name(i, &sect); i++) {
		const char *key = node_config_key_name(i, &sect);
		char heading[64], row[96];
		snprintf(heading, sizeof(heading), "\n## [%s", sect);
		const char *h = strstr(doc, heading);
		if (!h)
			fail_msg("docs/config.md has no section '## [%s'", sect);
		const char *end = strstr(h + 1, "\n## ");
		snprintf(row, sizeof(row), "\n| `%s` |", key);
		const char *r = strstr(h, row);
		if (!r || (end && r > end))
			fail_msg("docs/config.md: no row for '%s' under [%s]", key, sect);
		count++;
	}
	assert_int_equal(count, 27);
	assert_null(node_config_key_name(count, &sect));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_file),  cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_layout),     cmocka_unit_test(test_relative_config_path),
	    cmocka_unit_test(test_refusals),   cmocka_unit_test(test_first_error_wins),
	    cmocka_unit_test(test_bad_bytes),  cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_addr_split), cmocka_unit_test(test_loopback),
	    cmocka_unit_test(test_documented),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
