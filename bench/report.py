# SPDX-License-Identifier: Apache-2.0
"""Turn the raw results of one scripts/bench run into the table.

usage: report.py RAW.jsonl OUT.json LATEST.md PARAMS

RAW.jsonl has one line per tool invocation: {"scenario", "run", "data"}.
Every figure is the median of its runs with min..max; the table is printed,
written as Markdown to LATEST.md and as JSON to OUT.json.  It computes and
compares; it measures nothing itself.
"""
import json
import os
import platform
import socket
import statistics
import sys
import time

raw_path, out_json, out_md, params = sys.argv[1:5]
raw = [json.loads(line) for line in open(raw_path) if line.strip()]


def runs_of(scenario):
    return [r["data"] for r in raw if r["scenario"] == scenario]


figures = []  # dicts: group, name, unit, median, min, max, runs, note
targets = []  # dicts: what, value, target, verdict
notes = []


def fig(group, name, unit, values, note="", digits=0):
    values = [v for v in values if v is not None]
    if not values:
        return None
    f = {
        "group": group,
        "name": name,
        "unit": unit,
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": values,
        "note": note,
        "digits": digits,
    }
    figures.append(f)
    return f


def get(d, *path):
    for p in path:
        if not isinstance(d, dict) or d.get(p) is None:
            return None
        d = d[p]
    return d


def target(what, value, goal, ok, unit=""):
    if value is None:
        verdict = "not measured"
    else:
        verdict = "met" if ok else "MISSED"
    targets.append({"what": what, "value": value, "unit": unit, "target": goal, "verdict": verdict})


cores = os.cpu_count() or 1

# ---------------------------------------------------------------- machine limits
G = "Machine limits"
core = runs_of("core")
core_by = {s["name"]: s for s in core[0]["scenarios"]} if core else {}


def core_fig(key, name, unit, note=""):
    s = core_by.get(key)
    if not s:
        return None
    f = {"group": G, "name": name, "unit": unit, "median": s["median"], "min": s["min"],
         "max": s["max"], "runs": None, "note": note, "digits": 0}
    figures.append(f)
    return f


core_fig("ed25519-sign-raw", "Ed25519 sign (libsodium, 1 core)", "sig/s")
verify = core_fig("ed25519-verify-raw", "Ed25519 verify (libsodium, 1 core)", "verify/s")
core_fig("cose-sign1-verify-256B", "COSE_Sign1 verify, 256 B (libparley)", "verify/s")
core_fig("sqlite-raw-1-per-txn", "SQLite WAL synchronous=FULL, 1 row/commit", "commits/s")
core_fig("sqlite-raw-1000-per-txn", "SQLite WAL synchronous=FULL, 1000 rows/commit", "rows/s")
lim = {d["name"]: d for d in runs_of("limits")}
names = {
    "fdatasync-1-per-sync": ("fdatasync, 1 record (256 B) per sync", "records/s"),
    "fdatasync-64-per-sync": ("fdatasync, 64 records per sync", "records/s"),
    "fdatasync-16k-append": ("fdatasync after a 16 KiB write, appended (a WAL that grows)", "syncs/s"),
    "fdatasync-16k-overwrite": ("fdatasync after a 16 KiB write over written blocks (a WAL in reuse)", "syncs/s"),
    "fdatasync-16k-overwrite-p50": ("fdatasync after a 16 KiB write over written blocks, p50", "µs"),
    "fdatasync-16k-overwrite-p99": ("fdatasync after a 16 KiB write over written blocks, p99", "µs"),
    "fdatasync-16k-overwrite-max": ("fdatasync after a 16 KiB write over written blocks, longest", "µs"),
    "tls13-rtt-p50": ("TLS 1.3 loopback round trip (256 B), p50", "µs"),
    "tls13-rtt-p99": ("TLS 1.3 loopback round trip (256 B), p99", "µs"),
    "tls13-mutual-handshakes": ("TLS 1.3 mutual-auth handshakes (Ed25519 certs)", "/s"),
}
for key, (name, unit) in names.items():
    if key in lim:
        fig(G, name, unit, lim[key]["runs"], digits=1 if unit == "µs" else 0)
ceiling = None
if verify:
    ceiling = verify["median"] * cores / 2
    figures.append({"group": G, "name": f"Parley ceiling: verify-bound envelopes/s on {cores} cores",
                    "unit": "env/s", "median": ceiling, "min": verify["min"] * cores / 2,
                    "max": verify["max"] * cores / 2, "runs": None, "digits": 0,
                    "note": "Ed25519 verify/s x cores / 2 (each envelope is verified by the "
                            "sender's node and by the receiver's)"})

# ---------------------------------------------------------------- transcript
G = "Transcript (libparley Merkle tree, RFC 9162, in memory)"
tr = {d["name"]: d for d in runs_of("transcript")}
tsize = tr.get("transcript-size", {}).get("runs", [None])[0]
proof_ok = None
if tr:
    fig(G, f"append, 256-byte entries (trees of {min(tsize or 1000000, 1000000):,.0f})", "entries/s",
        tr["transcript-append"]["runs"])
    if tsize:
        fig(G, f"append up to {tsize:,.0f} entries", "entries/s",
            tr["transcript-append-to-size"]["runs"])
    for kind in ("inclusion", "consistency"):
        bound = tr[f"transcript-{kind}-reads-bound"]["runs"][0]
        fig(G, f"{kind} proofs at {tsize:,.0f} entries", "proofs/s",
            tr[f"transcript-{kind}-proofs"]["runs"])
        fig(G, f"{kind} proof: hash (store) reads, mean", "reads", tr[f"transcript-{kind}-reads-mean"]["runs"],
            digits=1)
        mx = fig(G, f"{kind} proof: hash (store) reads, max", "reads",
                 tr[f"transcript-{kind}-reads-max"]["runs"],
                 f"bound 2*ceil(log2 n){' + 1' if kind == 'consistency' else ''} = {bound:.0f}")
        ok = mx["max"] <= bound
        proof_ok = ok if proof_ok is None else proof_ok and ok

# ---------------------------------------------------------------- Parley
G = "Parley (two parleyd, tehran -> islamabad, 127.0.0.1)"
STORED_ONLY = "† stored at the receiver only"
receipts_missing = any(d.get("receipts_recorded") is False for r in raw
                       for d in [r["data"]] if isinstance(d, dict))


def done_rate(d):
    return d.get("rate") if d.get("rate") else d.get("stored_rate")


def done_note(ds, extra=""):
    bad = any(d.get("receipts_recorded") is False for d in ds)
    return "; ".join(x for x in [extra, STORED_ONLY if bad else ""] if x)


thr = runs_of("parley-throughput")
steady = None
if thr:
    p = thr[0]
    steady = fig(G, f"throughput, pre-signed, individually signed, durable + receipted "
                    f"({p['count']} x {p['size']} B, {p['streams']} streams)", "env/s",
                 [done_rate(d) for d in thr], done_note(thr))
    fig(G, "API acceptance rate (201 answers), pre-signed", "env/s",
        [d.get("submit_rate") for d in thr],
        "submissions are group-committed per event-loop turn (see docs/performance.md)")
bat = runs_of("parley-batch")
batched = None
if bat:
    p = bat[0]
    batched = fig(G, f"throughput, pre-signed, individually signed, durable + receipted, "
                     f"{p['batch']} per API request ({p['count']} x {p['size']} B, "
                     f"{p['streams']} streams)", "env/s", [done_rate(d) for d in bat],
                  done_note(bat))
    fig(G, f"API acceptance rate, {p['batch']} per API request", "env/s",
        [d.get("submit_rate") for d in bat])
fd = runs_of("parley-feed")
feed = None
if fd:
    p = fd[0]
    feed = fig(G, f"machine feed: batch-signed ({p['batch']} per signature and per API request, "
                  f"in {p.get('body', 'json').upper()}), "
                  f"durable + receipted ({p['count']} x {p['size']} B, {p['streams']} streams)",
               "env/s", [done_rate(d) for d in fd], done_note(fd))
    fig(G, f"API acceptance rate, machine feed ({p['batch']} per signature)", "env/s",
        [d.get("submit_rate") for d in fd])
for sc, what in (("parley-throughput", "one per request"),
                 ("parley-batch", f"{bat[0]['batch']} per request" if bat else ""),
                 ("parley-feed", "machine feed")):
    cpu = runs_of(sc + "-cpu")
    if cpu:
        fig(G, f"CPU per envelope, {what}: sender", "µs", [d.get("sender_us") for d in cpu],
            "user + system time of the node during the run / envelopes", 1)
        fig(G, f"CPU per envelope, {what}: receiver", "µs", [d.get("receiver_us") for d in cpu],
            "", 1)
inl = runs_of("parley-inline")
if inl:
    fig(G, "throughput, signed inline by the client", "env/s", [done_rate(d) for d in inl],
        done_note(inl))
if steady and ceiling:
    figures.append({"group": G, "name": "throughput as a fraction of the ceiling", "unit": "%",
                    "median": 100 * steady["median"] / ceiling,
                    "min": 100 * steady["min"] / ceiling, "max": 100 * steady["max"] / ceiling,
                    "runs": None, "note": "", "digits": 1})


def lat_pick(d, key_delivered="delivered", key_stored="stored"):
    return d.get(key_delivered) or d.get(key_stored)


latr = runs_of("parley-latency")
unloaded = None
if latr:
    n = done_note(latr, f"{latr[0].get('samples')} envelopes one at a time; submit -> delivered "
                        "(receipt event at the sender)")
    unloaded = fig(G, "unloaded latency p50", "µs", [get(lat_pick(d), "p50_us") for d in latr], n)
    fig(G, "unloaded latency p99", "µs", [get(lat_pick(d), "p99_us") for d in latr], n)
    fig(G, "unloaded: API answer (durably accepted by the sender) p50", "µs",
        [get(d, "api", "p50_us") for d in latr])
for pct in (50, 90):
    lr = runs_of(f"parley-loaded-{pct}")
    if lr:
        n = done_note(lr, f"paced at {lr[0]['target_rate']:.0f}/s for {lr[0]['seconds']} s")
        fig(G, f"loaded latency at {pct}% of peak, achieved rate", "env/s",
            [d.get("achieved_rate") for d in lr], n)
        fig(G, f"loaded latency at {pct}% of peak, p50", "µs",
            [get(lat_pick(d), "p50_us") for d in lr], n)
        fig(G, f"loaded latency at {pct}% of peak, p99", "µs",
            [get(lat_pick(d), "p99_us") for d in lr], n)
fill = runs_of("parley-fill")
drain = runs_of("parley-drain")
flash_p99 = catch = rss_max = None
backlog_n = fill[0]["count"] if fill else None
if fill:
    fig(G, f"catch-up: backlog submitted while the receiver is down ({backlog_n} envelopes)",
        "env/s", [d.get("submit_rate") for d in fill])
if drain:
    n = done_note(drain, f"{backlog_n} envelopes; from the first envelope stored after the restart")
    catch = fig(G, "catch-up: drain rate after the receiver returns", "env/s",
                [done_rate(d) for d in drain], n)
    fig(G, "catch-up: receiver restart to first envelope stored", "s",
        [d.get("reconnect_s") for d in drain], digits=2)
    fl = [lat_pick(d, "flash", "flash_stored") for d in drain]
    n = done_note(drain, f"FLASH one at a time while {backlog_n} ROUTINE drain; "
                         f"{sum((get(x, 'n') or 0) for x in fl)} samples in all")
    fig(G, "FLASH latency behind the backlog, p50", "µs", [get(x, "p50_us") for x in fl], n)
    flash_p99 = fig(G, "FLASH latency behind the backlog, p99", "µs",
                    [get(x, "p99_us") for x in fl], n)
    fig(G, "FLASH latency behind the backlog, max", "µs", [get(x, "max_us") for x in fl], n)
rq = runs_of("parley-rss-queued")
if rq:
    rss_max = fig(G, f"RSS of the sender with {backlog_n} queued", "MiB",
                  [d["sender_kib"] / 1024 for d in rq], digits=1)
mq_ = runs_of("parley-metrics-queued")
if mq_:
    bad = [d for d in mq_ if d.get("depth") != d.get("count")]
    fig(G, f"GET /metrics of the sender with {backlog_n} queued", "ms",
        [d["ms"] for d in mq_],
        "median of 5 scrapes (parley_queue_depth among the gauges)"
        + (f"; ROUTINE DEPTH WRONG in {len(bad)} run(s): {bad[0].get('depth')} reported"
           if bad else ""), digits=2)
rd = runs_of("parley-rss-drained")
if rd:
    fig(G, "peak RSS (VmHWM) of the sender, whole catch-up", "MiB",
        [d["sender_hwm_kib"] / 1024 for d in rd], digits=1)
    fig(G, "peak RSS (VmHWM) of the receiver, whole catch-up", "MiB",
        [d["receiver_hwm_kib"] / 1024 for d in rd], digits=1)

# ---------------------------------------------------------------- peers
G = "Peers (same machine, same run, same size and count)"
mq = {}
for variant, vname in (("default", "default persistence"),
                       ("autosave", "autosave_interval 1 + autosave_on_changes true")):
    for qos in (1, 2):
        rs = runs_of(f"mosquitto-{variant}-qos{qos}")
        if rs:
            mq[(variant, qos)] = fig(
                G, f"Mosquitto 2.0 QoS {qos}, {vname}, window {rs[0]['window']}", "msg/s",
                [d["rate"] for d in rs],
                f"{rs[0]['count']} messages, publisher -> broker -> persistent subscriber")
            fig(G, f"Mosquitto 2.0 QoS {qos}, {vname}, one at a time, p50", "µs",
                [get(d, "latency", "p50_us") for d in rs])
nr = runs_of("nats")
nats_p50 = None
if nr:
    fig(G, f"NATS 2.9 JetStream, file storage, window {nr[0]['window']}", "msg/s",
        [d["rate"] for d in nr], "publish acks + ordered push consumer received all")
    fig(G, "NATS 2.9 JetStream, file storage, one at a time (await each ack)", "msg/s",
        [d.get("one_at_a_time_rate") for d in nr])
    nats_p50 = fig(G, "NATS 2.9 JetStream unloaded end-to-end latency p50", "µs",
                   [get(d, "latency", "p50_us") for d in nr], "publish -> consumer receives")
    fig(G, "NATS 2.9 JetStream unloaded end-to-end latency p99", "µs",
        [get(d, "latency", "p99_us") for d in nr])

# ---------------------------------------------------------------- targets
s = steady["median"] if steady else None
if ceiling:
    target("individually signed, durable, receipted: >= 65% of the ceiling",
           s, f">= {0.65 * ceiling:.0f} env/s", s is not None and s >= 0.65 * ceiling, "env/s")
q2 = mq.get(("default", 2))
if q2:
    target("... >= 0.8x Mosquitto QoS 2", s, f">= {0.8 * q2['median']:.0f} env/s",
           s is not None and s >= 0.8 * q2["median"], "env/s")
a1 = mq.get(("autosave", 1))
if a1:
    target("... >= 8x Mosquitto with per-change saves (QoS 1)", s, f">= {8 * a1['median']:.0f} env/s",
           s is not None and s >= 8 * a1["median"], "env/s")
q1 = mq.get(("default", 1))
fv = feed["median"] if feed else None
target("batch-signed machine feed: >= 2x Mosquitto QoS 1", fv,
       f">= {2 * q1['median']:.0f} env/s" if q1 else ">= 2x Mosquitto QoS 1",
       fv is not None and q1 is not None and fv >= 2 * q1["median"], "env/s")
if unloaded and nats_p50:
    target("unloaded p50 <= 2x NATS JetStream's unloaded p50", unloaded["median"],
           f"<= {2 * nats_p50['median']:.0f} µs", unloaded["median"] <= 2 * nats_p50["median"], "µs")
if flash_p99:
    target(f"FLASH p99 < 5 ms behind a backlog (1,000,000 asked; {backlog_n} used)",
           flash_p99["median"], "< 5000 µs", flash_p99["median"] < 5000, "µs")
if catch and steady:
    target("catch-up rate >= 80% of the steady rate", catch["median"],
           f">= {0.8 * steady['median']:.0f} env/s", catch["median"] >= 0.8 * steady["median"],
           "env/s")
if rd:
    worst = max(max(d["sender_hwm_kib"], d["receiver_hwm_kib"]) for d in rd) / 1024
    target(f"RSS < 64 MiB per node with the backlog queued ({backlog_n} used)", worst, "< 64 MiB",
           worst < 64, "MiB")
if proof_ok is not None:
    target(f"inclusion/consistency proofs O(log n) store reads at 10,000,000 entries "
           f"({tsize:,.0f} used)",
           max(tr["transcript-inclusion-reads-max"]["runs"] + tr["transcript-consistency-reads-max"]["runs"]),
           "<= 2*ceil(log2 n) + 1 reads", proof_ok and tsize >= 10000000, "reads")
else:
    target("inclusion/consistency proofs O(log n) store reads at 10,000,000 entries", None,
           "O(log n)", False)

notes.append("Durability: Parley acknowledges an envelope (API answer, link receipt) only after "
             "the SQLite commit holding it is synced (fdatasync of the WAL, by the store's syncer "
             "thread, before anything that follows the commit leaves the node).  Neither peer "
             "syncs to disk before "
             "acknowledging by default: Mosquitto writes its in-memory store to disk every 30 "
             "minutes (autosave_interval 1800), or after each change with autosave_on_changes, "
             "and NATS 2.9 JetStream has no sync-per-message option (it syncs its file store "
             "periodically).")
notes.append("The machine feed's envelopes are batch-signed (docs/formats.md, 'Batch-signed "
             "envelopes'): one Ed25519 signature over the RFC 9162 root of a batch's payloads, "
             "a COSE Receipt with its inclusion proof in each envelope, verified once per batch "
             "by each node; each envelope is still stored, delivered and receipted on its own; "
             "its requests are CBOR arrays of the envelopes' bytes (Content-Type: "
             "application/cbor, docs/api.md) unless the row says JSON (--feed-body json).  "
             "The figures 'N per API request' without it are individually signed envelopes "
             "submitted several at a time.  The transcript "
             "figures are libparley's Merkle tree in memory, reads counted through its hash "
             "provider (where a node's stored transcript reads its store); the node's own "
             "transcript append is part of its envelope commit.")
if receipts_missing:
    notes.append("† RECEIPTS: in these figures the benchmark's wait for the sender's 'delivered' "
                 "state ran out (its grace period), so they are timed to the receiver's durable "
                 "store only, one half of the issue's definition of done.  The integration tests "
                 "check delivery states; see docs/performance.md, 'Known problems'.")
if backlog_n is not None and backlog_n < 1000000:
    notes.append(f"The backlog was {backlog_n} envelopes, not 1,000,000: the count the sender "
                 "accepts in the bounded fill time (--backlog-seconds) on this machine; "
                 "--backlog N asks for another.")

# ---------------------------------------------------------------- output


def fmt(v, digits):
    if v is None:
        return "-"
    if digits:
        return f"{v:,.{digits}f}"
    return f"{v:,.0f}"


def render():
    out = []
    group = None
    out.append("| figure | median | min–max | unit | note |")
    out.append("| --- | ---: | ---: | --- | --- |")
    for f in figures:
        if f["group"] != group:
            group = f["group"]
            out.append(f"| **{group}** | | | | |")
        d = f["digits"]
        out.append(f"| {f['name']} | {fmt(f['median'], d)} | {fmt(f['min'], d)}–{fmt(f['max'], d)} "
                   f"| {f['unit']} | {f['note']} |")
    out.append("")
    out.append("| target (issue 7) | measured | target | verdict |")
    out.append("| --- | ---: | --- | --- |")
    for t in targets:
        v = "-" if t["value"] is None else f"{t['value']:,.0f} {t['unit']}"
        out.append(f"| {t['what']} | {v} | {t['target']} | {t['verdict']} |")
    out.append("")
    for n in notes:
        out.append(f"- {n}")
    return "\n".join(out)


host = socket.gethostname().split(".")[0]
when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
cpu = ""
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
env = runs_of("env")
try:
    load_end = " ".join(open("/proc/loadavg").read().split()[:3])
except OSError:
    load_end = "?"
load_start = env[0].get("loadavg_start", "?") if env else "?"
notes.append(f"Load average (1, 5, 15 min) at the start: {load_start}; at the end: {load_end}. "
             f"Every process on the machine shares its {cores} cores with the nodes, brokers "
             "and clients measured here: a load above the benchmark's own means the figures "
             "are low and noisy.")
table = render()
print(table)
head = (f"{when} on {host}: {cores} cores ({cpu}), {platform.system()} {platform.release()}; "
        f"{params}.  Median of the runs, min–max.")
with open(out_md, "w") as f:
    f.write("# Latest benchmark run\n\n")
    f.write("Written by `make bench` (scripts/bench); what each figure means and what bounds it: "
            "docs/performance.md.\n\n")
    f.write(head + "\n\n" + table + "\n")
with open(out_json, "w") as f:
    json.dump({"date": when, "host": host, "cores": cores, "cpu": cpu,
               "kernel": platform.release(), "params": params, "figures": figures,
               "targets": targets, "notes": notes, "raw": raw}, f, indent=1)
    f.write("\n")
