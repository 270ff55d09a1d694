// dispatcher.trusted_ca_file over real sockets, in both deployments: https:// endpoints whose
// certificate a private CA signed fail with the certificate error in their attempt until the CA is
// configured, then are delivered once each, while endpoints the system's roots verify keep working
// (the file adds to those roots). A file that cannot be read or holds no certificate stops the start.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CertificateFiles, signedByOwnCa } from "../helpers/certificates.ts";
import { adminToken, client, startInProcess, tempDir, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type ChildInstance, fileScope } from "../helpers/process.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const scope = fileScope();
const dir = tempDir("hookrelay-trusted-ca-");
// The system's roots are stood in for by NODE_EXTRA_CA_CERTS, which Bun adds to them at start.
const system = signedByOwnCa(dir, "system");
const privateCa = signedByOwnCa(dir, "private");
const unknown = signedByOwnCa(dir, "unknown");

/** An https:// receiver on loopback serving `files`, recording the paths it was posted to. */
function httpsReceiver(files: CertificateFiles) {
  const paths: string[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: { cert: readFileSync(files.cert, "utf8"), key: readFileSync(files.key, "utf8") },
    async fetch(request) {
      await request.arrayBuffer();
      paths.push(new URL(request.url).pathname);
      return new Response("ok");
    },
  });
  return { url: (path: string) => `https://127.0.0.1:${server.port}${path}`, count: (path: string) => paths.filter((p) => p === path).length, stop: () => server.stop(true) };
}
const endpoints = { system: httpsReceiver(system), private: httpsReceiver(privateCa), unknown: httpsReceiver(unknown) };
afterAll(() => {
  for (const endpoint of Object.values(endpoints)) endpoint.stop();
});

describe("dispatcher.trusted_ca_file at start", () => {
  it("stops the start naming the key and the file when it cannot be read, holds no certificate or a broken one", async () => {
    const missing = join(dir, "missing.pem");
    await expect(startInProcess({ HOOKRELAY_DISPATCHER_TRUSTED_CA_FILE: missing })).rejects.toThrow(`dispatcher.trusted_ca_file: cannot read '${missing}': ENOENT`);
    // A key is not a certificate: the likeliest slip when the file is picked by hand.
    await expect(startInProcess({ HOOKRELAY_DISPATCHER_TRUSTED_CA_FILE: privateCa.key })).rejects.toThrow("holds no PEM certificate");
    const broken = join(dir, "broken.pem");
    writeFileSync(broken, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
    await expect(startInProcess({ HOOKRELAY_DISPATCHER_TRUSTED_CA_FILE: broken })).rejects.toThrow(`dispatcher.trusted_ca_file: certificate 1 of '${broken}' is not valid`);
  });
});

describe.each(MODES)("https:// webhook targets and dispatcher.trusted_ca_file (%s)", (mode) => {
  let plain: ChildInstance;
  let trusting: ChildInstance;
  const run = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    // No retries: a failed first attempt ends the delivery, so its outcome is final at once.
    const common = { NODE_EXTRA_CA_CERTS: system.ca, HOOKRELAY_RETRY_MANAGER_MAX_RETRIES: "0" };
    plain = scope.child({ ...(await modeEnv(mode)), ...common });
    trusting = scope.child({ ...(await modeEnv(mode)), ...common, HOOKRELAY_DISPATCHER_TRUSTED_CA_FILE: privateCa.ca });
    await Promise.all([plain.start(), trusting.start()]);
  }, 90_000);

  /** Webhooks to each named endpoint for one event type, `events` events of it, and each webhook's delivery outcomes once final. */
  async function deliver(hr: ChildInstance, to: (keyof typeof endpoints)[], events: number) {
    const token = await adminToken(hr.gateway);
    const api = client(hr.gateway, token);
    const type = `tls.${to.join("-")}.${run}`;
    const hooks = new Map<string, { id: string; path: string }>();
    for (const name of to) {
      const path = `/${name}-${hr === plain ? "plain" : "trusting"}-${run}`;
      const hook = await api("POST", "/api/v1/webhooks", { url: endpoints[name].url(path), event_types: [type] });
      expect(hook.status).toBe(201);
      hooks.set(name, { id: hook.body.id, path });
    }
    const ingest = client(hr.ingest, token);
    for (let n = 0; n < events; n++) expect((await ingest("POST", "/events", { id: `evt_${type}_${n}`, type, source: "t", data: { n } })).status).toBe(202);
    const outcomes = async (name: string) => (await api("GET", `/api/v1/deliveries?webhook_id=${hooks.get(name)!.id}`)).body.data as { id: string; status: string; attempt_count: number }[];
    for (const name of to)
      await waitFor(
        `${events} final deliveries to ${name}`,
        async () => {
          const list = await outcomes(name);
          return list.length === events && list.every((d) => d.status === "succeeded" || d.status === "dead");
        },
        30_000,
        100,
      );
    return { api, hooks, outcomes };
  }

  it("without the setting, fails an endpoint of a private CA with the certificate error in its attempt, and delivers one the system's roots verify", async () => {
    const { api, hooks, outcomes } = await deliver(plain, ["private", "system"], 1);
    const [failed] = await outcomes("private");
    expect(failed).toMatchObject({ status: "dead", attempt_count: 1 });
    const attempts = (await api("GET", `/api/v1/deliveries/${failed!.id}/attempts`)).body.data;
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ status_code: null, error: "network: UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
    expect(endpoints.private.count(hooks.get("private")!.path)).toBe(0);
    expect(await outcomes("system")).toMatchObject([{ status: "succeeded", attempt_count: 1 }]);
    expect(endpoints.system.count(hooks.get("system")!.path)).toBe(1);
  });

  it("with the setting, delivers each event once to the private CA's endpoint and to the system-trusted one, and still refuses a CA neither trusts", async () => {
    const events = 5;
    const { api, hooks, outcomes } = await deliver(trusting, ["private", "system", "unknown"], events);
    for (const name of ["private", "system"] as const) {
      expect((await outcomes(name)).map((d) => [d.status, d.attempt_count])).toEqual(Array(events).fill(["succeeded", 1]));
      // A handshake that failed under one set of roots sent nothing: no event arrives twice.
      expect(endpoints[name].count(hooks.get(name)!.path)).toBe(events);
    }
    const refused = await outcomes("unknown");
    expect(refused.map((d) => d.status)).toEqual(Array(events).fill("dead"));
    const attempts = (await api("GET", `/api/v1/deliveries/${refused[0]!.id}/attempts`)).body.data;
    expect(attempts[0].error).toBe("network: UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    expect(endpoints.unknown.count(hooks.get("unknown")!.path)).toBe(0);
  });
});
