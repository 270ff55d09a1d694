/**
 * @module The raw Bun `fetch` ceiling's client: POSTs a small JSON body to URL from CONCURRENCY
 * loops (64) for SECONDS, then prints `{"requests":N,"failed":N,"seconds":S,"cpu_us":N}` (its own CPU time meanwhile).
 * An https URL's certificate is checked against CA_FILE, passed with each request as hookrelay
 * passes `dispatcher.trusted_ca_file`'s certificates to the endpoints that need them.
 *
 *   bun bench/fetch-load.ts <url> [seconds=5] [concurrency=64] [ca-file] [rate=0]
 *
 * rate N > 0: N requests a second on a fixed schedule instead (what hookrelay's dispatcher does
 * at a step of N events/s), however many are in flight; the cost per request at that rate.
 */
import { readFileSync } from "node:fs";

const [url, seconds = "5", concurrency = "64", caFile = "", rate = "0"] = process.argv.slice(2);
if (!url) throw new Error("usage: bun bench/fetch-load.ts <url> [seconds] [concurrency] [ca-file]");
const tls = caFile ? { tls: { ca: readFileSync(caFile, "utf8") } } : {};
const body = JSON.stringify({ id: "evt_ceiling", type: "bench", source: "bench", data: { n: 1 } });
const until = performance.now() + Number(seconds) * 1000;
let requests = 0;
let failed = 0;
async function loop(): Promise<void> {
  while (performance.now() < until) {
    const res = await fetch(url!, { method: "POST", body, headers: { "content-type": "application/json" }, ...tls });
    await res.arrayBuffer();
    if (res.ok) requests++;
    else failed++;
  }
}
/** `perSecond` requests a second for the run's seconds, sent as they come due (checked every ms). */
function paced(perSecond: number): Promise<void> {
  const total = Math.round(perSecond * Number(seconds));
  let sent = 0;
  let settled = 0;
  const begin = performance.now();
  return new Promise((resolve) => {
    if (total === 0) return resolve();
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - begin) / 1000) * perSecond) + 1);
      for (; sent < due; sent++)
        fetch(url!, { method: "POST", body, headers: { "content-type": "application/json" }, ...tls })
          .then(
            async (res) => {
              await res.arrayBuffer();
              if (res.ok) requests++;
              else failed++;
            },
            () => failed++,
          )
          .finally(() => ++settled === total && resolve());
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
}

const started = performance.now();
const cpuBefore = process.cpuUsage();
if (Number(rate) > 0) await paced(Number(rate));
else await Promise.all(Array.from({ length: Number(concurrency) }, loop));
const cpu = process.cpuUsage(cpuBefore);
console.log(JSON.stringify({ requests, failed, seconds: (performance.now() - started) / 1000, cpu_us: cpu.user + cpu.system }));
