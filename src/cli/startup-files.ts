/**
 * @module Key material and certificates named by the configuration, read once at start: the
 * token keys (HS256 secret, or PEM files for RS256/EdDSA), the TLS certificate and key, and the
 * CA certificates trusted for webhook targets. Every error names the configuration key and the file.
 */
import { createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Config } from "../platform/config.ts";
import type { TlsFiles } from "../platform/http.ts";
import { type TokenKeyRing, tokenKeyRing } from "../services/auth/token-keys.ts";

/**
 * The token keys from the configuration: HS256 with the configured secret (or one generated once
 * and kept in the store), or RS256/EdDSA with the PEM files named; previous keys verify only.
 */
export async function tokenKeys(config: Config, store: { settingOrInit(key: string, value: string): Promise<string> }): Promise<TokenKeyRing> {
  const { jwt_algorithm: algorithm, jwt_private_key_file: privateKeyFile, jwt_previous_keys: previous } = config.security;
  if (algorithm === "HS256") {
    const secret = config.security.jwt_secret || (await store.settingOrInit("jwt_secret", randomBytes(48).toString("base64url")));
    return tokenKeyRing({ algorithm, current: secret, previous });
  }
  return tokenKeyRing({
    algorithm,
    current: readConfiguredFile(privateKeyFile, "security.jwt_private_key_file"),
    previous: previous.map((path, i) => readConfiguredFile(path, `security.jwt_previous_keys[${i}]`)),
  });
}

/** The configured certificate and key, read once (PEM text), or undefined for plain listeners. */
export function tlsFiles(config: Config): TlsFiles | undefined {
  const { tls_cert_file: certFile, tls_key_file: keyFile } = config.server;
  if (certFile === "") return undefined;
  const files = { cert: readConfiguredFile(certFile, "server.tls_cert_file"), key: readConfiguredFile(keyFile, "server.tls_key_file") };
  try {
    // Refuses a key that is not the certificate's before any listener starts.
    if (!new X509Certificate(files.cert).checkPrivateKey(createPrivateKey(files.key))) throw new Error("the key is not the certificate's");
  } catch (err) {
    throw new Error(`server.tls_cert_file / server.tls_key_file: ${(err as Error).message}`);
  }
  return files;
}

/**
 * The certificates of `dispatcher.trusted_ca_file` (PEM text, certificates only), or undefined when
 * unset. A file that cannot be read, holds no certificate or a broken one stops the start: a typo
 * here would otherwise show only later, as every delivery to a private endpoint failing.
 */
export function trustedCa(config: Config): string | undefined {
  const path = config.dispatcher.trusted_ca_file;
  if (path === "") return undefined;
  const key = "dispatcher.trusted_ca_file";
  const blocks = readConfiguredFile(path, key).match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${key}: '${path}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new Error(`${key}: certificate ${i + 1} of '${path}' is not valid: ${(err as Error).message}`);
    }
  }
  return `${blocks.join("\n")}\n`;
}

/** A file a configuration key names, as text; the error names the key and the path. */
function readConfiguredFile(path: string, key: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`${key}: cannot read '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
