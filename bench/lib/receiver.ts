/**
 * @module The scheme webhooks are delivered over in a run (`--receiver=http|https`). For https, a
 * self-signed certificate made with openssl at run time in a temporary directory: bench/sink.ts
 * serves it, hookrelay trusts it through `dispatcher.trusted_ca_file`, and the fetch ceiling's client
 * and the runner's own requests to the sink trust it too.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { envName } from "../../src/platform/config.ts";
import { selfSigned } from "../../tests/helpers/certificates.ts";

export type ReceiverScheme = "http" | "https";

export interface Receiver {
  scheme: ReceiverScheme;
  /** Added to bench/sink.ts's environment: its certificate and key (https). */
  sinkEnv: Record<string, string>;
  /** Added to hookrelay's environment: the certificate as its trusted CA (https). */
  hookrelayEnv: Record<string, string>;
  /** The certificate's path, for bench/fetch-load.ts (https), else null. */
  caFile: string | null;
  /** Options for this process's own fetches to the sink (its control paths). */
  fetchInit: { tls?: { ca: string } };
  url(port: number, path: string): string;
  /** Removes the certificate's directory. */
  cleanup(): void;
}

export function prepareReceiver(scheme: ReceiverScheme): Receiver {
  const url = (port: number, path: string) => `${scheme}://127.0.0.1:${port}${path}`;
  if (scheme === "http") return { scheme, sinkEnv: {}, hookrelayEnv: {}, caFile: null, fetchInit: {}, url, cleanup: () => {} };
  const dir = mkdtempSync(join(tmpdir(), "bench-tls-"));
  const files = selfSigned(dir, "sink");
  return {
    scheme,
    sinkEnv: { TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.key },
    hookrelayEnv: { [envName("dispatcher.trusted_ca_file")]: files.cert },
    caFile: files.cert,
    fetchInit: { tls: { ca: readFileSync(files.cert, "utf8") } },
    url,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
