// Token keys as a deployment configures them: EdDSA and RS256 from PEM files, a rotation across
// a restart (the previous key verifies, then is dropped), the audience, and a key file that is
// missing or wrong stopping the start with one line.
import { afterAll, describe, expect, it } from "bun:test";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeProtectedHeader } from "jose";
import { adminToken, client, startInProcess, tempDir } from "../helpers/hookrelay.ts";

const keys = tempDir("hookrelay-keys-");
const instances: { stop(): Promise<void> }[] = [];
afterAll(async () => {
  for (const instance of instances) await instance.stop().catch(() => {});
});

/** Writes a fresh key pair; returns the paths of its private and public PEM files. */
function keyFiles(name: string, kind: "rsa" | "ed25519"): { privateFile: string; publicFile: string } {
  const { privateKey } = kind === "rsa" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("ed25519");
  const privatePem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const privateFile = join(keys, `${name}.pem`);
  const publicFile = join(keys, `${name}.pub.pem`);
  writeFileSync(privateFile, privatePem, { mode: 0o600 });
  writeFileSync(publicFile, createPublicKey(privatePem).export({ type: "spki", format: "pem" }) as string);
  return { privateFile, publicFile };
}

async function start(env: Record<string, string>) {
  const hr = await startInProcess(env);
  instances.push(hr);
  return hr;
}

const event = (id: string) => ({ id, type: "keys.test", source: "t", data: {} });

describe("token keys from the configuration", () => {
  it.each([["EdDSA", "ed25519"] as const, ["RS256", "rsa"] as const])("signs login tokens with %s from a PEM file, and every role accepts them", async (algorithm, kind) => {
    const { privateFile } = keyFiles(`${algorithm}-current`, kind);
    const hr = await start({ HOOKRELAY_SECURITY_JWT_ALGORITHM: algorithm, HOOKRELAY_SECURITY_JWT_PRIVATE_KEY_FILE: privateFile });
    const token = await adminToken(hr.gateway);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: algorithm, typ: "JWT" });
    expect((await client(hr.gateway, token)("GET", "/api/v1/webhooks")).status).toBe(200);
    expect((await client(hr.ingest, token)("POST", "/events", event(`evt_${algorithm}`))).status).toBe(202);
    expect((await client(hr.observability, token)("GET", "/api/stats")).status).toBe(200);
    await hr.stop();
  });

  it("keeps tokens of the previous key working through a rotation, and refuses them once it is dropped", async () => {
    const data = tempDir();
    const old = keyFiles("rotate-old", "ed25519");
    const next = keyFiles("rotate-new", "ed25519");
    const env = { HOOKRELAY_DATA_DIR: data, HOOKRELAY_SECURITY_JWT_ALGORITHM: "EdDSA" };

    const before = await start({ ...env, HOOKRELAY_SECURITY_JWT_PRIVATE_KEY_FILE: old.privateFile });
    const oldToken = await adminToken(before.gateway);
    await before.stop();

    const during = await start({ ...env, HOOKRELAY_SECURITY_JWT_PRIVATE_KEY_FILE: next.privateFile, HOOKRELAY_SECURITY_JWT_PREVIOUS_KEYS: old.publicFile });
    expect((await client(during.ingest, oldToken)("POST", "/events", event("evt_rotate_1"))).status).toBe(202);
    const newToken = await adminToken(during.gateway);
    expect(decodeProtectedHeader(newToken).kid).not.toBe(decodeProtectedHeader(oldToken).kid);
    await during.stop();

    const after = await start({ ...env, HOOKRELAY_SECURITY_JWT_PRIVATE_KEY_FILE: next.privateFile });
    const refused = await client(after.ingest, oldToken)("POST", "/events", event("evt_rotate_2"));
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe("unauthorized");
    expect(refused.body.error.message).toContain("token key id");
    expect((await client(after.ingest, newToken)("POST", "/events", event("evt_rotate_3"))).status).toBe(202);
    await after.stop();
  });

  it("requires the configured audience of every token", async () => {
    const data = tempDir();
    const withAud = await start({ HOOKRELAY_DATA_DIR: data, HOOKRELAY_SECURITY_JWT_AUDIENCE: "hookrelay-api", HOOKRELAY_SECURITY_JWT_SECRET: "an-hs256-secret-of-at-least-32-characters" });
    const audToken = await adminToken(withAud.gateway);
    expect((await client(withAud.gateway, audToken)("GET", "/api/v1/webhooks")).status).toBe(200);
    await withAud.stop();
    // The same secret without the audience issues tokens without aud; the audience deployment refuses them.
    const without = await start({ HOOKRELAY_DATA_DIR: data, HOOKRELAY_SECURITY_JWT_SECRET: "an-hs256-secret-of-at-least-32-characters" });
    const plainToken = await adminToken(without.gateway);
    await without.stop();
    const again = await start({ HOOKRELAY_DATA_DIR: data, HOOKRELAY_SECURITY_JWT_AUDIENCE: "hookrelay-api", HOOKRELAY_SECURITY_JWT_SECRET: "an-hs256-secret-of-at-least-32-characters" });
    const refused = await client(again.gateway, plainToken)("GET", "/api/v1/webhooks");
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toBe("token claim 'aud' is invalid: missing");
    await again.stop();
  });

  it("does not start when a key file is missing or holds the wrong kind of key, and says which", async () => {
    const missing = join(keys, "nowhere.pem");
    await expect(start({ HOOKRELAY_SECURITY_JWT_ALGORITHM: "RS256", HOOKRELAY_SECURITY_JWT_PRIVATE_KEY_FILE: missing })).rejects.toThrow(
      `security.jwt_private_key_file: cannot read '${missing}': ENOENT`,
    );
    const ed = keyFiles("wrong-kind", "ed25519");
    await expect(start({ HOOKRELAY_SECURITY_JWT_ALGORITHM: "RS256", HOOKRELAY_SECURITY_JWT_PRIVATE_KEY_FILE: ed.privateFile })).rejects.toThrow(
      "the current RS256 key is not a PEM PKCS#8 private key for RS256",
    );
  });
});
