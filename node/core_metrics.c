/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node core's /metrics (core.h node_metrics_text): Prometheus text
 * exposition of what core.c, peer.c, the verifier and the store count; the
 * transcript's and the officials' work's own are witness.c's and work.c's.
 * docs/api.md lists every metric.
 */
#include <inttypes.h>
#include <stdio.h>

#include "core_int.h"
#include "ecache.h"
#include "hold.h"
#include "verifier.h"
#include "work.h"
#include "parley/err.h"

int node_metrics_text(node_core *n, pl_buf *out)
{
	verifier_stats vst = {0};
	if (n->verifier)
		verifier_get_stats(n->verifier, &vst);
	int rc = pl_buf_printf(
	    out,
	    "# HELP parley_envelopes_accepted_total Envelopes accepted, by origin.\n"
	    "# TYPE parley_envelopes_accepted_total counter\n"
	    "parley_envelopes_accepted_total{origin=\"local\"} %" PRIu64 "\n"
	    "parley_envelopes_accepted_total{origin=\"peer\"} %" PRIu64 "\n"
	    "# HELP parley_envelopes_duplicate_total Envelopes submitted or received again.\n"
	    "# TYPE parley_envelopes_duplicate_total counter\n"
	    "parley_envelopes_duplicate_total %" PRIu64 "\n"
	    "# HELP parley_link_items_redelivered_total Peer items that arrived again on a newer "
	    "connection after an older one had delivered them (skipped).\n"
	    "# TYPE parley_link_items_redelivered_total counter\n"
	    "parley_link_items_redelivered_total %" PRIu64 "\n"
	    "# HELP parley_envelopes_deferred_total Peer envelopes not taken yet: dated ahead of "
	    "this node's clock (the link is closed and they come again).\n"
	    "# TYPE parley_envelopes_deferred_total counter\n"
	    "parley_envelopes_deferred_total %" PRIu64 "\n"
	    "# HELP parley_link_store_behind_total Peers' resume points above anything this "
	    "store numbered (this store went back).\n"
	    "# TYPE parley_link_store_behind_total counter\n"
	    "parley_link_store_behind_total %" PRIu64 "\n"
	    "# HELP parley_link_peer_behind_total HELLOs resuming below what the peer had "
	    "acknowledged (its store went back, or a stale connection); the items are sent again.\n"
	    "# TYPE parley_link_peer_behind_total counter\n"
	    "parley_link_peer_behind_total %" PRIu64 "\n"
	    "# HELP parley_submit_commits_total Group commits of submitted envelopes.\n"
	    "# TYPE parley_submit_commits_total counter\n"
	    "parley_submit_commits_total %" PRIu64 "\n"
	    "# HELP parley_submit_committed_total Submissions answered after a group commit.\n"
	    "# TYPE parley_submit_committed_total counter\n"
	    "parley_submit_committed_total %" PRIu64 "\n"
	    "# HELP parley_submit_commits_with_receipts_total Group commits of submitted "
	    "envelopes that also recorded peers' receipts.\n"
	    "# TYPE parley_submit_commits_with_receipts_total counter\n"
	    "parley_submit_commits_with_receipts_total %" PRIu64 "\n"
	    "# HELP parley_link_receipts_total Link receipts, received (in) and sent (out).\n"
	    "# TYPE parley_link_receipts_total counter\n"
	    "parley_link_receipts_total{direction=\"in\"} %" PRIu64 "\n"
	    "parley_link_receipts_total{direction=\"out\"} %" PRIu64 "\n"
	    "# HELP parley_signature_verifications_total Ed25519 verifications of envelope "
	    "signatures made (a batch-signed envelope whose batch was verified costs none).\n"
	    "# TYPE parley_signature_verifications_total counter\n"
	    "parley_signature_verifications_total %" PRIu64 "\n"
	    "# HELP parley_signature_verifications_thread_total Of those, the ones made by "
	    "the verifier thread rather than the event loop ([node] verify_thread).\n"
	    "# TYPE parley_signature_verifications_thread_total counter\n"
	    "parley_signature_verifications_thread_total %" PRIu64 "\n"
	    "# HELP parley_batch_signatures_reused_total Batch-signed envelopes whose batch "
	    "signature had already been verified.\n"
	    "# TYPE parley_batch_signatures_reused_total counter\n"
	    "parley_batch_signatures_reused_total %" PRIu64 "\n"
	    "# HELP parley_envelopes_rejected_total Envelopes refused, by reason.\n"
	    "# TYPE parley_envelopes_rejected_total counter\n",
	    n->m.accepted_local, n->m.accepted_peer, n->m.duplicates, n->m.redelivered,
	    n->m.deferred, n->m.store_behind, n->m.peer_behind, n->m.api_batches, n->m.api_batched,
	    n->m.api_batches_receipts, n->m.receipts_in, n->m.receipts_out, n->sigs.checks,
	    vst.thread, n->sigs.hits);
	for (int k = 1; !rc && k < 128; k++)
		if (n->m.rejected[k])
			rc = pl_buf_printf(
			    out, "parley_envelopes_rejected_total{reason=\"%s\"} %" PRIu64 "\n",
			    pl_err_name(-k), n->m.rejected[k]);
	if (!rc)
		rc = pl_buf_printf(out, "# HELP parley_records_rejected_total Charters and status "
					"lists refused, by record and reason.\n"
					"# TYPE parley_records_rejected_total counter\n");
	for (int w = 0; w < 2; w++)
		for (int k = 1; !rc && k < 128; k++)
			if (n->m.records_rejected[w][k])
				rc = pl_buf_printf(out,
						   "parley_records_rejected_total{record=\"%s\","
						   "reason=\"%s\"} %" PRIu64 "\n",
						   w ? "status-list" : "charter", pl_err_name(-k),
						   n->m.records_rejected[w][k]);
	if (!rc)
		rc = pl_buf_printf(out, "# HELP parley_link_up Whether the link to a peer is up.\n"
					"# TYPE parley_link_up gauge\n");
	for (size_t i = 0; !rc && i < n->npeers; i++)
		rc = pl_buf_printf(out, "parley_link_up{peer=\"%s\"} %d\n", n->peers[i].state,
				   peer_is_up(&n->peers[i]) ? 1 : 0);
	if (!rc && n->net) {
		net_stats ns;
		net_stats_get(n->net, &ns);
		rc = pl_buf_printf(out,
				   "# HELP parley_link_handshakes_failed_total Peer connections "
				   "whose TLS handshake failed (not TLS 1.3, no or a wrong "
				   "certificate, a timeout).\n"
				   "# TYPE parley_link_handshakes_failed_total counter\n"
				   "parley_link_handshakes_failed_total %" PRIu64 "\n",
				   ns.handshake_failed);
	}
	if (!rc)
		rc = pl_buf_printf(out,
				   "# HELP parley_link_refused_total Peer connections refused "
				   "(HELLO, node record, TLS key) or closed for breaking the link "
				   "protocol, by reason.\n"
				   "# TYPE parley_link_refused_total counter\n");
	for (int k = 1; !rc && k < 128; k++)
		if (n->m.link_refused[k])
			rc = pl_buf_printf(out,
					   "parley_link_refused_total{reason=\"%s\"} %" PRIu64 "\n",
					   pl_err_name(-k), n->m.link_refused[k]);
	if (!rc)
		rc = pl_buf_printf(
		    out,
		    "# HELP parley_link_batches_cut_total Batches of the lanes below "
		    "FLASH a peer sent that were cut short because bytes waited on its "
		    "CONTROL+FLASH connection.\n"
		    "# TYPE parley_link_batches_cut_total counter\n"
		    "parley_link_batches_cut_total %" PRIu64 "\n"
		    "# HELP parley_events_behind_flash_total Events of a peer's batch "
		    "emitted after a FLASH that waited while it was taken.\n"
		    "# TYPE parley_events_behind_flash_total counter\n"
		    "parley_events_behind_flash_total %" PRIu64 "\n",
		    n->m.batches_cut, n->m.events_behind);
	if (!rc) {
		pl_store_stats ss;
		nstore_backend_stats(n->db, &ss);
		rc = pl_buf_printf(
		    out,
		    "# HELP parley_store_checkpoints_total WAL checkpoints of the node's store: "
		    "runs of its checkpointer thread, checkpoints by a commit that found the WAL "
		    "at its threshold (each starts the WAL over), failed ones.\n"
		    "# TYPE parley_store_checkpoints_total counter\n"
		    "parley_store_checkpoints_total{by=\"thread\"} %" PRIu64 "\n"
		    "parley_store_checkpoints_total{by=\"commit\"} %" PRIu64 "\n"
		    "parley_store_checkpoints_total{by=\"failed\"} %" PRIu64 "\n",
		    ss.checkpoints_thread, ss.checkpoints_commit, ss.checkpoints_failed);
	}
	if (!rc) {
		pl_store_sync sy;
		nstore_sync_state(n->db, &sy);
		rc = pl_buf_printf(
		    out,
		    "# HELP parley_store_syncs_total Syncs of the node's store by its syncer "
		    "thread (each makes every commit before it durable; 0 with "
		    "sync_each_commit).\n"
		    "# TYPE parley_store_syncs_total counter\n"
		    "parley_store_syncs_total %" PRIu64 "\n"
		    "# HELP parley_store_commits_unsynced Commits of the node's store not yet "
		    "synced: what they tell of is held back.\n"
		    "# TYPE parley_store_commits_unsynced gauge\n"
		    "parley_store_commits_unsynced %" PRIu64 "\n"
		    "# HELP parley_output_held_total Writes to peer links and API or feed answers "
		    "and events held until the store synced what they follow.\n"
		    "# TYPE parley_output_held_total counter\n"
		    "parley_output_held_total{to=\"link\"} %" PRIu64 "\n"
		    "parley_output_held_total{to=\"http\"} %" PRIu64 "\n",
		    sy.syncs, sy.committed - sy.synced, net_held_total(n->net),
		    hold_total(n->hold));
	}
	if (!rc) {
		ecache_stats es;
		nstore_cache_stats(n->db, &es);
		rc = pl_buf_printf(
		    out,
		    "# HELP parley_envelope_reads_total Reads of an envelope by id (sends, "
		    "receipts, checkpoints, the API): answered from the memory of those indexed "
		    "lately, or read from the store.\n"
		    "# TYPE parley_envelope_reads_total counter\n"
		    "parley_envelope_reads_total{from=\"memory\"} %" PRIu64 "\n"
		    "parley_envelope_reads_total{from=\"store\"} %" PRIu64 "\n",
		    es.hits, es.misses);
	}
	if (!rc)
		rc = pl_buf_printf(out,
				   "# HELP parley_link_in_flight Items of the lanes below FLASH "
				   "sent to a peer and not yet acknowledged ([link] window).\n"
				   "# TYPE parley_link_in_flight gauge\n");
	for (size_t i = 0; !rc && i < n->npeers; i++)
		rc = pl_buf_printf(out, "parley_link_in_flight{peer=\"%s\"} %" PRIu64 "\n",
				   n->peers[i].state, peer_in_flight(&n->peers[i]));
	if (!rc)
		rc = pl_buf_printf(out,
				   "# HELP parley_queue_depth Items queued for a peer, by lane.\n"
				   "# TYPE parley_queue_depth gauge\n");
	for (size_t i = 0; !rc && i < n->npeers; i++)
		for (int l = 0; !rc && l < PL_LINK_LANES; l++) {
			uint64_t d = 0;
			(void)nstore_out_depth(n->db, n->peers[i].state, l, &d);
			rc = pl_buf_printf(
			    out, "parley_queue_depth{peer=\"%s\",lane=\"%s\"} %" PRIu64 "\n",
			    n->peers[i].state, l == 0 ? "CONTROL" : pl_lane_name((pl_lane)l), d);
		}
	if (!rc)
		rc = pl_buf_printf(out, "# HELP parley_commit_seconds Store commit latency.\n"
					"# TYPE parley_commit_seconds histogram\n");
	for (size_t i = 0; !rc && i < CORE_COMMIT_BUCKETS; i++)
		rc = pl_buf_printf(out, "parley_commit_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
				   core_commit_buckets[i], n->m.commit_hist[i]);
	if (!rc)
		rc = pl_buf_printf(out,
				   "parley_commit_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
				   "parley_commit_seconds_sum %.6f\n"
				   "parley_commit_seconds_count %" PRIu64 "\n",
				   n->m.commits, n->m.commit_seconds_sum, n->m.commits);
	if (!rc)
		rc = witness_metrics_text(n, out);
	if (!rc)
		rc = work_metrics_text(n, out);
	return rc;
}
