/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parleyd's configuration file (`parleyd -c node.ini`), read with libinih.
 *
 * node_config_load() reads the whole file, refuses anything it does not
 * understand — unknown sections or keys, duplicates, missing required keys,
 * bad values — with one message "FILE:LINE: reason", applies the defaults,
 * and resolves relative paths against the folder of the configuration file.
 * Every key is documented in docs/config.md.
 *
 * It does not open the files named in the configuration, resolve host
 * names, or check that addresses can be bound: the node does that at start.
 */
#ifndef PARLEY_NODE_CONFIG_H
#define PARLEY_NODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parley/identity.h"

#include "log.h"

/* Longest "host:port" accepted (a 253-byte DNS name, brackets, port). */
#define NODE_ADDR_MAX 263

/* Defaults (docs/config.md). */
#define NODE_DEFAULT_API                 "127.0.0.1:8420"
#define NODE_DEFAULT_API_MAX_CONNECTIONS 256
#define NODE_DEFAULT_CHECKPOINT_INTERVAL 300
#define NODE_DEFAULT_CHECKPOINT_ENTRIES  1000
#define NODE_DEFAULT_COMMIT_BATCH        256
#define NODE_DEFAULT_MAX_ENVELOPE        1048576
#define NODE_DEFAULT_PING_INTERVAL_MS    5000
#define NODE_DEFAULT_DEAD_AFTER_MS       20000
#define NODE_DEFAULT_BACKOFF_MIN_MS      200
#define NODE_DEFAULT_BACKOFF_MAX_MS      60000

/* One [peer NAME] section. */
typedef struct node_peer_conf {
	char name[PL_NAME_MAX + 1];      /* the peer state's name */
	char address[NODE_ADDR_MAX + 1]; /* host:port of its node */
	char node[PL_NAME_MAX + 1];      /* expected node name, "" when not given */
	int line;                        /* line of the section header */
} node_peer_conf;

/* The [link] section. */
typedef struct node_link_conf {
	uint32_t ping_interval_ms;
	uint32_t dead_after_ms;
	uint32_t backoff_min_ms;
	uint32_t backoff_max_ms;
	uint32_t socket_buffer; /* bytes; 0: kernel autotuning */
	uint32_t window;        /* items of the lanes below FLASH in flight; 0: no limit */
	uint32_t gather_us;     /* while items keep coming, wait this long between commits */
	bool urgent_connection; /* CONTROL and FLASH on a second connection to each peer */
} node_link_conf;

/* What the node checks of its store before it starts (docs/config.md). */
typedef enum node_check_level {
	NODE_STORE_CHECK_OFF = 0,
	NODE_STORE_CHECK_QUICK = 1, /* SQLite quick_check, and every envelope hashes to its id */
	NODE_STORE_CHECK_FULL = 2,  /* integrity_check instead of quick_check */
} node_check_level;

typedef struct node_config {
	char *path; /* the configuration file, as given */

	/* [node] */
	char name[PL_NAME_MAX + 1];
	char *home;     /* absolute, or relative to the cwd when the config path was */
	char *data;     /* node store; default <home>/node-<name>.db */
	char *state_db; /* <home>/state.db (read-only for the node) */
	char *key_file; /* <home>/nodes/<name>.key */
	char *rec_file; /* <home>/nodes/<name>.rec */
	char listen[NODE_ADDR_MAX + 1];
	char api[NODE_ADDR_MAX + 1];
	bool api_public;
	uint32_t api_max_connections; /* open API connections at once */
	node_log_level log_level;
	uint32_t checkpoint_interval; /* seconds */
	uint32_t checkpoint_entries;
	uint32_t commit_batch;
	uint32_t max_envelope; /* bytes */
	node_check_level store_check;
	bool sync_each_commit;         /* sync in each commit, not from the store's thread */
	bool verify_thread;            /* check submissions' signatures on a thread (verifier.h) */
	char *escalate_command;        /* run on each escalation alert, or NULL */
	char feed[NODE_ADDR_MAX + 1];  /* the public statement feed's address, or "" */

	/* [link] */
	node_link_conf link;

	/* [peer NAME], in file order; owned */
	node_peer_conf *peers;
	size_t npeers;
} node_config;

/*
 * Read and check the configuration file at path into *out.
 * On success returns 0; the caller releases *out with node_config_free().
 * On failure returns a negative pl_err (PL_ERR_NOT_FOUND or PL_ERR_IO when
 * the file cannot be read, PL_ERR_MALFORMED for any refusal, PL_ERR_NOMEM),
 * writes "FILE:LINE: reason" (or "FILE: reason" when no line applies) to
 * err (errlen bytes, may be 0), sets the same text as the pl_err detail,
 * and leaves *out zeroed.
 */
int node_config_load(const char *path, node_config *out, char *err, size_t errlen);

/* Free what node_config_load allocated and zero *c; NULL-safe. */
void node_config_free(node_config *c);

/* The i-th key the loader knows (0, 1, ...; NULL past the last), with its
 * section ("node", "link" or "peer") in *section: for the documentation
 * test, which checks that docs/config.md has a row for each. */
const char *node_config_key_name(size_t i, const char **section);

/* The [peer NAME] entry called name, or NULL (borrowed from c). */
const node_peer_conf *node_config_find_peer(const node_config *c, const char *name);

/*
 * Split "host:port" (IPv6 hosts in brackets: "[::1]:7000") into host
 * (without brackets, NUL-terminated, hostcap bytes) and port.  Port 0 is
 * accepted only when allow_port0.  Returns 0 or PL_ERR_MALFORMED with a
 * pl_err detail saying what is wrong; host and port are unchanged then.
 */
int node_addr_split(const char *s, char *host, size_t hostcap, uint16_t *port, bool allow_port0);

/* Is host (as returned by node_addr_split) a loopback literal: 127.0.0.0/8
 * or ::1?  Names such as "localhost" are not resolved and do not count. */
bool node_addr_is_loopback(const char *host);

#endif /* PARLEY_NODE_CONFIG_H */
