// Webhook signing secrets sealed at rest, in both deployments: the stored row holds no secret (nor
// the previous one a rotation keeps signing for its grace period), deliveries still sign with them,
// a key rotation across restarts rewrites every row, and a missing key stops the gateway with one line.

import { Database } from "bun:sqlite";
import { afterAll, describe, expect, it } from "bun:test";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { createPool } from "../../src/adapters/postgres/client.ts";
import { adminToken, client, startInProcess, tempDir, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const receiver = startReceiver();
afterAll(() => receiver.stop());

const key = (id: string) => `${id}:${randomBytes(32).toString("base64")}`;

describe.each(MODES)("webhook secrets at rest (%s)", (mode) => {
  it("stores secrets sealed, signs with them, rewrites them on rotation, and will not start without their key", async () => {
    const dataDir = tempDir();
    const backend = await modeEnv(mode);
    const env = { HOOKRELAY_DATA_DIR: dataDir, ...backend };
    /** The secret columns as stored (the current one, and the one before the last rotation), by webhook id. */
    const storedSecrets = async (): Promise<Map<string, { secret: string; previous: string | null }>> => {
      if (mode === "embedded") {
        const db = new Database(join(dataDir, "hookrelay.db"), { readonly: true });
        try {
          return new Map(
            db
              .query<{ id: string; secret: string; previous_secret: string | null }, []>("SELECT id, secret, previous_secret FROM webhooks")
              .all()
              .map((r) => [r.id, { secret: r.secret, previous: r.previous_secret }]),
          );
        } finally {
          db.close();
        }
      }
      const sql = createPool({ url: backend.DATABASE_URL!, maxConnections: 1 });
      try {
        return new Map(
          (await sql<{ id: string; secret: string; previous_secret: string | null }[]>`SELECT id, secret, previous_secret FROM webhooks`).map((r) => [
            r.id,
            { secret: r.secret, previous: r.previous_secret },
          ]),
        );
      } finally {
        await sql.end();
      }
    };
    const k1 = key("k1");
    const k2 = key("k2");
    const path = `/sealed-${mode}`;

    const first = await start({ ...env, HOOKRELAY_SECURITY_SECRET_KEYS: k1 });
    const token = await adminToken(first.gateway);
    const created = await client(first.gateway, token)("POST", "/api/v1/webhooks", { url: receiver.url(path), event_types: ["sealed.test"] });
    expect(created.status).toBe(201);
    const { id, secret: firstSecret } = created.body as { id: string; secret: string };
    // Its signing secret rotated: the old one signs too for 24 h, and is stored sealed as well.
    const rotatedSecret = await client(first.gateway, token)("POST", `/api/v1/webhooks/${id}/rotate-secret`);
    expect(rotatedSecret.status).toBe(200);
    const secret: string = rotatedSecret.body.secret;
    const row = (await storedSecrets()).get(id)!;
    expect(row.secret).toStartWith("enc:v1:k1:");
    expect(row.previous).toStartWith("enc:v1:k1:");
    for (const plain of [secret, firstSecret]) expect(`${row.secret} ${row.previous}`).not.toContain(plain.slice("whsec_".length));
    expect((await client(first.gateway, token)("GET", `/api/v1/webhooks/${id}/secret`)).body.secret).toBe(secret);
    await deliverAndVerify(first, token, "evt_sealed_1", [secret, firstSecret], path);
    await first.stop();

    // Rotation, step 1: the new key first, the old one kept. The gateway rewrites every row at start.
    const rotating = await start({ ...env, HOOKRELAY_SECURITY_SECRET_KEYS: `${k2},${k1}` });
    expect((await storedSecrets()).get(id)!.secret).toStartWith("enc:v1:k2:");
    expect((await storedSecrets()).get(id)!.previous).toStartWith("enc:v1:k2:");
    expect(rotating.logs.some((line) => line.includes("webhook secrets rewritten in the current form"))).toBe(true);
    await rotating.stop();

    // Step 2: the old key dropped; everything still opens and signs.
    const rotated = await start({ ...env, HOOKRELAY_SECURITY_SECRET_KEYS: k2 });
    await deliverAndVerify(rotated, await adminToken(rotated.gateway), "evt_sealed_2", [secret, firstSecret], path);
    await rotated.stop();

    // A key that opens nothing stored: the gateway refuses to start, naming the key it needs.
    await expect(start({ ...env, HOOKRELAY_SECURITY_SECRET_KEYS: key("k3") })).rejects.toThrow(
      "cannot rewrite webhook secrets: a webhook secret is sealed with key 'k2', which is not in security.secret_keys",
    );
  }, 60_000);
});

const running: { stop(): Promise<void> }[] = [];
afterAll(async () => {
  for (const r of running) await r.stop().catch(() => {});
});

async function start(env: Record<string, string>) {
  const hr = await startInProcess({ HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "info", ...env });
  running.push(hr);
  return hr;
}

/** Sends an event and checks its delivery verifies with each of the plain secrets. */
async function deliverAndVerify(hr: { ingest: string }, token: string, eventId: string, secrets: string[], path: string): Promise<void> {
  expect((await client(hr.ingest, token)("POST", "/events", { id: eventId, type: "sealed.test", source: "t", data: {} })).status).toBe(202);
  await waitFor(`delivery of ${eventId}`, () => receiver.received.some((r) => r.path === path && r.body.includes(eventId)));
  const got = receiver.received.find((r) => r.path === path && r.body.includes(eventId))!;
  for (const secret of secrets) expect(() => new StandardWebhook(secret).verify(got.body, got.headers)).not.toThrow();
}
