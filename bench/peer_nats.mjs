// SPDX-License-Identifier: Apache-2.0
// peer_nats: the NATS JetStream side of the benchmarks (npm "nats", pinned in
// bench/package-lock.json).  It makes a stream with file storage on a running
// nats-server (scripts/bench starts it with -js), then:
//   - windowed: publishes N messages of B bytes with at most W unacknowledged
//     publish acks, while an ordered push consumer receives them; a message
//     counts when its ack is back AND the consumer has it;
//   - one at a time: publishes N1 messages, awaiting each ack (the rate);
//   - latency: K messages one at a time, publish -> consumer receive (p50/p99).
// It does not start the server.  Every wait is bounded by --timeout.
// Output: one JSON object on standard output.
import { connect, consumerOpts, StorageType } from "nats";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, v, i, a) => (i % 2 === 0 ? [...acc, [v.replace(/^--/, ""), a[i + 1]]] : acc), []),
);
const port = Number(args.port ?? 4222);
const count = Number(args.count ?? 10000);
const windowSize = Number(args.window ?? 32);
const size = Number(args.size ?? 256);
const single = Number(args.single ?? Math.min(count, 5000));
const lat = Number(args.latency ?? 0);
const timeout = Number(args.timeout ?? 300);

const timer = setTimeout(() => {
  console.error(`peer_nats: timeout after ${timeout} s`);
  process.exit(1);
}, timeout * 1000);

const now = () => Number(process.hrtime.bigint()) / 1e9;
const payload = new Uint8Array(size).fill(110);

const nc = await connect({ servers: `127.0.0.1:${port}` });
const jsm = await nc.jetstreamManager();
const stream = `BENCH${process.pid}`;
const subject = `bench${process.pid}.x`;
await jsm.streams.add({ name: stream, subjects: [`bench${process.pid}.>`], storage: StorageType.File });
const js = nc.jetstream();

let received = 0;
let wake = null;
const opts = consumerOpts();
opts.orderedConsumer();
const sub = await js.subscribe(subject, opts);
(async () => {
  for await (const m of sub) {
    void m;
    received++;
    if (wake) wake();
  }
})();
const waitReceived = (n) =>
  new Promise((resolve) => {
    if (received >= n) return resolve();
    wake = () => {
      if (received >= n) {
        wake = null;
        resolve();
      }
    };
  });

// windowed
const t0 = now();
await new Promise((resolve, reject) => {
  let inflight = 0;
  let sent = 0;
  let acked = 0;
  const pump = () => {
    while (inflight < windowSize && sent < count) {
      inflight++;
      sent++;
      js.publish(subject, payload).then(() => {
        inflight--;
        acked++;
        if (acked === count) resolve();
        else pump();
      }, reject);
    }
  };
  pump();
});
await waitReceived(count);
const rate = count / (now() - t0);

// one at a time (publish acks)
const t1 = now();
for (let i = 0; i < single; i++) await js.publish(subject, payload);
const singleRate = single / (now() - t1);
await waitReceived(count + single);

// latency: publish -> consumer receive, one at a time
const v = [];
for (let i = 0; i < lat; i++) {
  const a = now();
  const target = received + 1;
  await js.publish(subject, payload);
  await waitReceived(target);
  v.push(now() - a);
}
v.sort((x, y) => x - y);
const out = { count, window: windowSize, size, rate: +rate.toFixed(1), one_at_a_time_rate: +singleRate.toFixed(1) };
if (v.length) {
  const us = (x) => Math.round(x * 1e6);
  out.latency = {
    n: v.length,
    p50_us: us(v[Math.floor(v.length / 2)]),
    p99_us: us(v[Math.floor((v.length - 1) * 0.99)]),
    max_us: us(v[v.length - 1]),
  };
}
console.log(JSON.stringify(out));
sub.unsubscribe();
await jsm.streams.delete(stream);
await nc.close();
clearTimeout(timer);
