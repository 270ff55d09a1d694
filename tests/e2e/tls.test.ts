// TLS on hookrelay's own listeners: every HTTP role and the gRPC registry serve the configured
// certificate, plain connections and unverified certificates fail, and a key that is not the
// certificate's stops the start.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { Client, credentials } from "@grpc/grpc-js";
import { selfSigned } from "../helpers/certificates.ts";
import { ADMIN_PASSWORD, type Instance, startInProcess, tempDir } from "../helpers/hookrelay.ts";

const dir = tempDir("hookrelay-tls-");

/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl; returns its paths. */
const certificate = (name: string) => selfSigned(dir, name);

describe("TLS listeners", () => {
  const files = certificate("server");
  const ca = readFileSync(files.cert, "utf8");
  let hr: Instance;
  const https = (url: string) => url.replace(/^http:/, "https:");

  beforeAll(async () => {
    hr = await startInProcess({ HOOKRELAY_SERVER_TLS_CERT_FILE: files.cert, HOOKRELAY_SERVER_TLS_KEY_FILE: files.key });
  });
  afterAll(() => hr.stop());

  it("serves every HTTP role over HTTPS with the configured certificate", async () => {
    for (const base of [hr.gateway, hr.ingest, hr.dispatcher, hr.retry, hr.observability]) {
      const res = await fetch(`${https(base)}/health`, { tls: { ca } });
      expect({ base, status: res.status }).toEqual({ base, status: 200 });
    }
    const login = await fetch(`${https(hr.gateway)}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
      tls: { ca },
    });
    const { access_token } = (await login.json()) as { access_token: string };
    const sent = await fetch(`${https(hr.ingest)}/events`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${access_token}` },
      body: JSON.stringify({ id: "evt_tls", type: "tls.test", source: "t", data: {} }),
      tls: { ca },
    });
    expect(sent.status).toBe(202);
  });

  it("refuses plain HTTP on a TLS port, and a client that does not trust the certificate", async () => {
    await expect(fetch(`${hr.gateway}/health`).then((r) => r.status)).rejects.toThrow();
    await expect(fetch(`${https(hr.gateway)}/health`)).rejects.toThrow(/certificate|self.signed|SELF_SIGNED/i);
  });

  it("serves the gRPC registry over TLS", async () => {
    const check = (creds: ReturnType<typeof credentials.createSsl>) =>
      new Promise<Buffer>((resolve, reject) => {
        // An IP cannot be a TLS server name: the certificate is checked for its localhost name.
        const grpc = new Client(hr.registry, creds, { "grpc.ssl_target_name_override": "localhost", "grpc.default_authority": "localhost" });
        // grpc.health.v1.Health/Check with an empty request; SERVING is field 1 = 1.
        grpc.makeUnaryRequest(
          "/grpc.health.v1.Health/Check",
          () => Buffer.alloc(0),
          (b: Buffer) => b,
          {},
          { deadline: Date.now() + 5000 },
          (err, res) => {
            grpc.close();
            if (err) reject(err);
            else resolve(res!);
          },
        );
      });
    expect([...(await check(credentials.createSsl(Buffer.from(ca))))]).toEqual([0x08, 0x01]);
    await expect(check(credentials.createInsecure() as never)).rejects.toThrow();
  });

  it("does not start with a key that is not the certificate's, or with only one of the two", async () => {
    const other = certificate("other");
    await expect(startInProcess({ HOOKRELAY_SERVER_TLS_CERT_FILE: files.cert, HOOKRELAY_SERVER_TLS_KEY_FILE: other.key })).rejects.toThrow(
      "server.tls_cert_file / server.tls_key_file: the key is not the certificate's",
    );
    await expect(startInProcess({ HOOKRELAY_SERVER_TLS_CERT_FILE: files.cert })).rejects.toThrow("server.tls_cert_file and server.tls_key_file: set both to serve TLS, or neither");
  });
});
