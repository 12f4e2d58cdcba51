/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to the node core (core.c, peer.c): the node's state, its peers,
 * and the functions the two halves share.  Nothing outside node/core*.c and
 * node/peer.c includes this.
 */
#ifndef PARLEY_NODE_CORE_INT_H
#define PARLEY_NODE_CORE_INT_H

#include <event2/event.h>

#include "api.h"
#include "config.h"
#include "core.h"
#include "log.h"
#include "net.h"
#include "nstore.h"
#include "parley/channel.h"
#include "parley/link.h"
#include "parley/transcript.h"
#include "tlog.h"
#include "tls.h"

#define CORE_MAX_PEERS 16
#define NODE_PRIORITIES 3 /* event priorities: 0 urgent links, 1 the rest, 2 deferred work */
#define CORE_MAX_CHANNELS 256
#define CORE_HOLD_MARKS 64 /* per peer: see core_peer.marks */

/* One peer state and the links to it: one connection for every lane, or
 * two ([link] urgent_connection): CONTROL and FLASH on one, the lanes below
 * FLASH on the other, so a FLASH never waits behind a backlog's bytes. */
typedef struct core_peer {
	char state[PL_NAME_MAX + 1];
	struct core_conn *conn[PL_LINK_LANES]; /* the verified connection carrying lane l,
						* or NULL */
	char node[PL_NAME_MAX + 1]; /* the peer node's name, from its record */
	uint64_t sent[PL_LINK_LANES];    /* highest lseq handed to the link */
	uint64_t in_next[PL_LINK_LANES]; /* next lseq expected (mirror of the store) */
	uint64_t acked[PL_LINK_LANES];   /* highest lseq the peer acknowledged (HELLO, RECEIPT) */
	uint64_t items_in, items_out, rejected;
	int64_t connected_at;
	/* From the peer's verified node record (HELLO): checks its checkpoints
	 * and cosignatures (witness.c). */
	uint8_t pk[PL_PK_BYTES];
	bool have_pk;
	int64_t cp_sent_at; /* when a checkpoint was last queued for it (memory only) */
	/* Items the lanes below FLASH wait for (FLASH items; charters and
	 * status lists on CONTROL), each with the last lseq of every lane
	 * queued before it: those may go while it waits (peer_hold_mark).
	 * Memory only: after a restart the whole of those lanes waits. */
	struct core_hold_mark {
		int lane;
		uint64_t lseq;
		uint64_t before[PL_LINK_LANES];
	} marks[CORE_HOLD_MARKS];
	size_t nmarks;
} core_peer;

/* A peer's checkpoint being taken (witness.c). */
typedef struct witness_cp witness_cp;
#define CORE_HELD_ITEMS 16

/* One transport connection (from net), verified or not yet. */
typedef struct core_conn {
	node_core *n;
	net_conn *c;
	pl_link *link;     /* NULL on an inbound connection until the peer is known */
	unsigned lanes;    /* the lanes it carries (PL_LINK_LANES_*); inbound: ADOPT
			    * until the peer's HELLO names them */
	pl_buf pre;        /* inbound: bytes received before the peer was known */
	core_peer *peer;   /* set once the peer's HELLO verified */
	bool outbound;
	bool closing;
	unsigned redial; /* re-add our dialling (bit 0: the bulk or every-lane
			  * connection, bit 1: the urgent one) when this closes */
	bool drop_pending; /* a deferred close is scheduled */
	bool gone;     /* net closed it; freed by the deferred close */
	bool breached; /* the peer broke the protocol (counted once) */
	char why[128]; /* reason for the deferred close */
	struct core_conn *next, *prev; /* every connection of the node */
	char expect[PL_NAME_MAX + 1]; /* outbound: the peer we dialled */
	uint8_t pk[PL_PK_BYTES];      /* the TLS peer key */
	/* [link] gather_us: what a read brought waits for more (gather_ev)
	 * when the previous batch was taken less than gather_us ago */
	struct event *gather_ev;
	int64_t taken_us; /* when the previous batch was taken (monotonic) */
	int64_t up_us;    /* when its HELLO exchange completed (monotonic) */
	/* a batch of the lanes below FLASH cut short for the FLASH connection
	 * goes on here, at the lowest priority (process_events) */
	struct event *resume_ev;
	pl_buf out_block; /* conn_flush's block of frames, kept between calls */
	/* A checkpoint of the peer's whose proofs are checked a slice per turn
	 * (witness_take_item), its item not taken yet; and the CONTROL items
	 * that came behind it, in order, taken after it (at most
	 * CORE_HELD_ITEMS: then the connection takes nothing more until
	 * then).  Meanwhile its receipts and FLASH items are taken. */
	witness_cp *cp;
	pl_link_lane cp_lane;
	uint64_t cp_lseq;
	bool cp_stepped; /* a slice was checked since the last tick */
	struct core_held {
		uint8_t *data;
		size_t len;
		uint32_t kind;
		uint64_t lseq;
	} held[CORE_HELD_ITEMS];
	size_t nheld;
} core_conn;

/* A charter held in memory, parsed once. */
typedef struct core_charter {
	char name[PL_NAME_MAX + 1];
	pl_charter c;
	bool complete;
} core_charter;

/* A status list held in memory, parsed once. */
typedef struct core_status {
	char state[PL_NAME_MAX + 1];
	pl_status_list l;
} core_status;

/* Commit latency buckets (seconds) for the histogram in /metrics (core.c). */
#define CORE_COMMIT_BUCKETS 12
extern const double core_commit_buckets[CORE_COMMIT_BUCKETS];

typedef struct core_metrics {
	uint64_t accepted_local, accepted_peer, duplicates;
	uint64_t redelivered; /* peer items skipped: taken before on another connection */
	uint64_t batches_cut; /* bulk batches cut short for bytes on the FLASH connection */
	uint64_t events_behind; /* events of such batches emitted after the FLASH (peer.c) */
	uint64_t deferred;    /* peer envelopes not taken yet: dated ahead of our clock */
	uint64_t store_behind; /* HELLOs of peers holding items this store never numbered */
	uint64_t peer_behind;  /* HELLOs of peers that lost items they had acknowledged */
	uint64_t rejected[128]; /* by -pl_err, local and peer */
	uint64_t records_rejected[2][128]; /* charters [0], status lists [1], by -pl_err */
	uint64_t link_refused[128]; /* connections refused or closed for a protocol breach, by -pl_err */
	uint64_t commits;
	uint64_t commit_hist[CORE_COMMIT_BUCKETS]; /* core_commit_buckets */
	double commit_seconds_sum;
	uint64_t receipts_in, receipts_out;
	uint64_t api_batches, api_batched; /* group commits of submissions, envelopes in them */
	uint64_t api_batches_receipts;     /* ... of them that also recorded receipts */
	uint64_t escalations, acks, overdue, hook_failures; /* work.c */
} core_metrics;

/* Officials' credentials kept verified (node_find_official). */
#define CORE_CRED_CACHE 32

/* Transcript alarms counted for /metrics, by peer and kind (since start). */
#define CORE_MAX_ALARM_COUNTS 64
typedef struct core_alarm_count {
	char peer[PL_NAME_MAX + 1];
	char kind[16];
	uint64_t n;
} core_alarm_count;

/* The transcript's checkpoints and cosignatures (witness.c). */
typedef struct core_witness {
	pl_keypair kp;  /* the node key: signs checkpoints and cosignatures */
	bool have_key;
	char origin[PL_CHECKPOINT_ORIGIN_MAX + 1]; /* "<state>.parley/<node>" */
	int64_t started;
	json_t *pending; /* [[event, data], ...] published after the commit */
	core_alarm_count counts[CORE_MAX_ALARM_COUNTS];
	size_t ncounts;
	uint64_t checkpoints, cosigned_in, cosigned_out;
	uint64_t cp_sliced, cp_slices; /* peers' checkpoints checked in slices */
} core_witness;

struct node_core {
	node_config *cfg;
	struct event_base *base;
	struct event *ticker;
	nstore *db;
	pl_store *registry;
	pl_state_rec self;
	char self_fpr[PL_FPR_LEN]; /* self's fingerprint (slow on purpose): once */
	pl_node_rec me;
	uint8_t *me_raw;
	size_t me_raw_len;
	pl_trust *trust;
	node_tls *tls;
	net *net;
	api *api;
	core_peer peers[CORE_MAX_PEERS];
	size_t npeers;
	core_charter *charters[CORE_MAX_CHANNELS];
	size_t ncharters;
	core_status *status[CORE_MAX_PEERS + 1];
	size_t nstatus;
	struct core_conn *conns; /* every live core_conn, for a clean shutdown */
	node_event_fn sink;
	void *sink_ctx;
	/* Officials' credentials whose root signature node_find_official()
	 * verified, by the SHA-256 of the registry's bytes; validity and status
	 * are checked at every use.  Cleared when the pinned roots are loaded. */
	struct core_cred_seen {
		uint8_t hash[PL_HASH_BYTES];
		pl_cred cred;
		bool used;
	} creds[CORE_CRED_CACHE];
	size_t creds_next; /* the slot the next new credential takes */
	core_metrics m;
	/* the store's failed WAL checkpoints already logged, and when (tick_cb) */
	uint64_t ckpt_failed_logged;
	int64_t ckpt_failed_log_at;
	pl_sig_cache sigs; /* batch signatures verified, and Ed25519 verification counts */
	/* the group commit (core.c): the API's submissions and the peers'
	 * receipts of one event-loop turn */
	struct core_pending *pend;
	size_t npend, cap_pend;
	/* submissions waiting for their signature's verdict (verifier.h), in
	 * the order they came: taken further at the group commit */
	struct core_sub *subs, **subs_tail;
	struct verifier *verifier; /* NULL: signatures checked on the loop */
	bool batch_open;
	bool batch_receipts;  /* the open batch records receipts */
	struct event *commit_ev;
	struct event *commit_urgent_ev; /* the same, at priority 0: a FLASH is in it */
	core_witness w;
	/* officials' work (work.c, stmt.c): events noted inside a transaction,
	 * published after its commit (JSON arrays, or NULL when none) */
	json_t *work_events;
	/* the events of peers' batches taken while a FLASH waited, emitted
	 * after it ([[type, data], ...]; peer.c, put_behind) */
	json_t *behind;
	struct event *behind_ev;
	json_t *stmt_events;
	struct feed *feed; /* the public feed (feed.c), or NULL */
	/* deferred syncs (core.c, "the store's syncs"): the syncer thread
	 * writes a byte to sync_fd[1] after each sync; sync_ev reads it and
	 * releases what the links, the API and the feed held */
	int sync_fd[2];
	struct event *sync_ev;
	struct hold *hold;
	bool sync_failed; /* a sync failed: the node stops */
	bool sync_urgent; /* the open transaction holds a FLASH (or CONTROL) item */
	bool stopping;
};

/* core.c */
int64_t core_now(void);
int64_t core_now_ms(void);
int64_t core_now_us(void); /* monotonic, like core_now_ms */
core_peer *core_find_peer(node_core *n, const char *state);
const pl_charter *core_charter_lookup(void *arg, const char *ch);
const pl_status_list *core_status_lookup(void *arg, const char *state);
int core_seq_lookup(void *arg, const pl_env *env, uint64_t *seq, uint8_t last_id[PL_HASH_BYTES]);
void core_emit(node_core *n, const char *type, json_t *data); /* consumes data */
/* Emit each [type, data] of list, in order; consumes list (may be NULL). */
void core_emit_pairs(node_core *n, json_t *list);
/* Whether anyone listens to the node's events (core_emit): an envelope's
 * event, which reads its receipts and delivery states, is built only then. */
bool core_wants_events(const node_core *n);
/* An envelope as the API shows it: read from the store, or (_of) from the
 * envelope and metadata in hand, which a node that has just stored it has
 * (its receipts and delivery states are read either way). */
json_t *core_envelope_json(node_core *n, const uint8_t id[PL_HASH_BYTES], int *code);
json_t *core_envelope_json_of(node_core *n, const uint8_t id[PL_HASH_BYTES], const pl_env *env,
			      const nstore_meta *m);
int core_take_charter(node_core *n, const uint8_t *buf, size_t len, const char *from,
		      char *reason, size_t rlen);
int core_take_status(node_core *n, const uint8_t *buf, size_t len, const char *from);
void core_count_reject(node_core *n, int code);
/* Is code a refusal of what was offered, rather than this node failing
 * (PL_ERR_IO, PL_ERR_NOMEM) or success? */
bool core_is_refusal(int code);
void core_count_link_refused(node_core *n, int code);
/* A charter or status list refused (record "charter" or "status list"), from
 * a peer state or the API (from NULL): counted and logged, unless code is a
 * store failure rather than a refusal. */
void core_record_refused(node_core *n, const char *record, const char *from, int code,
			 const char *detail);
void core_commit_timed(node_core *n, int *rc);
/* Commit the API's open batch (answering its submitters), then begin a
 * transaction: every writer but the batch itself starts with this. */
int core_begin(node_core *n);
void core_batch_flush(node_core *n);
/* Join the open group batch, opening one if none is: the caller's writes
 * commit with the rest of this event-loop turn's (core_batch_flush).  For
 * writes nobody waits on before that commit (receipts of peers). */
int core_join(node_core *n);
/* Emit event type with data (taken) once the open transaction commits
 * (work_flush publishes them); dropped if it fails. */
void core_emit_after_commit(node_core *n, const char *type, json_t *data);
/* The open group batch, or the submissions waiting to join it, hold
 * something urgent (a FLASH submission, a receipt of CONTROL or FLASH):
 * commit it before the loop's other work. */
void core_commit_urgent(node_core *n);
/* A write into the open group batch failed: roll it all back, answer the
 * submitters with rc, drop its events. */
void core_batch_fail(node_core *n, int rc);

/* peer.c */
extern const net_callbacks core_net_callbacks;
void peer_pump(core_peer *p);
void peer_pump_all(node_core *n);
/* An item of kind was queued for peer state on lane as lseq.  When the
 * lanes below FLASH must not overtake it (a FLASH item; a charter or status
 * list on CONTROL), remember what was queued on them before it, which need
 * not wait; other items are no-ops. */
void peer_hold_mark(node_core *n, const char *state, int lane, int kind, uint64_t lseq);
/* Items of the lanes below FLASH handed to the link and not yet acknowledged. */
uint64_t peer_in_flight(const core_peer *p);
/* Every lane of p has a verified connection. */
bool peer_is_up(const core_peer *p);
/* Dial every configured peer: one connection, or two with [link]
 * urgent_connection. */
int peer_dial_all(node_core *n);
void peer_tick_all(node_core *n);
void peer_close_all(node_core *n, const char *reason);
/* Free every connection state left (after net_free, which calls no callbacks). */
void peer_free_all(node_core *n);
json_t *peer_status_json(node_core *n, core_peer *p);

/* witness.c: checkpoints, cosigning, alarms, proofs (docs/transcript.md).
 * Functions marked (txn) run inside the caller's store transaction and
 * queue their effects (events, log lines) until witness_flush(). */
/* Load the node key and name the log; at core start. */
int witness_init(node_core *n);
void witness_free(node_core *n);
/* Append an accepted object to the transcript (txn).  from: the peer whose
 * lane 1..4 item it is (its entries are proven to it), or NULL. */
int witness_log(node_core *n, int type, const uint8_t *obj, size_t len, core_peer *from,
		const uint8_t id[PL_HASH_BYTES], uint64_t *index);
/* Record a refused item of a peer's lane 1..4 in the transcript (txn); a
 * no-op for CONTROL. */
int witness_log_refusal(node_core *n, core_peer *p, int lane, uint64_t lseq, const uint8_t *item,
			size_t len, const char *reason);
/* A peer acknowledged items of lane up to upto, some of them logged (txn). */
int witness_log_receipt(node_core *n, core_peer *p, int lane, uint64_t upto);
/*
 * An item of kind CHECKPOINT, COSIGNATURE or CHECKPOINT_REFUSED from p
 * (txn).  A CHECKPOINT with more inclusion proofs than one slice is not
 * taken yet: *slices receives it, nothing written, and its proofs are
 * checked by witness_cp_step over later turns of the loop (each step one
 * slice, reads only) until it returns 1; then witness_cp_end takes it
 * (txn).  witness_cp_free drops it untaken (its connection closed).
 */
int witness_take_item(node_core *n, core_peer *p, uint32_t kind, const uint8_t *buf, size_t len,
		      witness_cp **slices);
/* 1: every proof checked (or one failed), 0: more, < 0: a store error. */
int witness_cp_step(node_core *n, witness_cp *c);
/* Consumes c (txn). */
int witness_cp_end(node_core *n, witness_cp *c);
void witness_cp_free(witness_cp *c);
/* After the caller's transaction: publish (committed) or drop what it queued. */
void witness_flush(node_core *n, bool committed);
/* Periodic work (own transactions): sign and send due checkpoints. */
void witness_tick(node_core *n);
/* The "transcript" object of /v1/status and GET /v1/log. */
json_t *witness_status_json(node_core *n);
int witness_metrics_text(node_core *n, pl_buf *out);
json_t *witness_proof_json(node_core *n, const uint8_t id[PL_HASH_BYTES], int *code);
json_t *witness_export_json(node_core *n, int *code);

#endif /* PARLEY_NODE_CORE_INT_H */
