/**
 * @module The raw Bun `fetch` ceiling's client: POSTs a small JSON body to URL from CONCURRENCY
 * loops (64) for SECONDS, then prints `{"requests":N,"failed":N,"seconds":S,"cpu_us":N}` (its own CPU time meanwhile).
 *
 *   bun bench/fetch-load.ts <url> [seconds=5] [concurrency=64]
 */
const [url, seconds = "5", concurrency = "64"] = process.argv.slice(2);
if (!url) throw new Error("usage: bun bench/fetch-load.ts <url> [seconds] [concurrency]");
const body = JSON.stringify({ id: "evt_ceiling", type: "bench", source: "bench", data: { n: 1 } });
const until = performance.now() + Number(seconds) * 1000;
let requests = 0;
let failed = 0;
async function loop(): Promise<void> {
  while (performance.now() < until) {
    const res = await fetch(url!, { method: "POST", body, headers: { "content-type": "application/json" } });
    await res.arrayBuffer();
    if (res.ok) requests++;
    else failed++;
  }
}
const started = performance.now();
const cpuBefore = process.cpuUsage();
await Promise.all(Array.from({ length: Number(concurrency) }, loop));
const cpu = process.cpuUsage(cpuBefore);
console.log(JSON.stringify({ requests, failed, seconds: (performance.now() - started) / 1000, cpu_us: cpu.user + cpu.system }));

export {};
