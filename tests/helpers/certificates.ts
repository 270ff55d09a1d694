/**
 * @module Certificates made with openssl at run time, for tests and the benchmark's https receiver:
 * a self-signed one, or a CA and a certificate it signed, each for 127.0.0.1 and localhost.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** Paths of a PEM certificate and its key. */
export interface CertificateFiles {
  cert: string;
  key: string;
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"];
const LOOPBACK = "subjectAltName=IP:127.0.0.1,DNS:localhost";

function openssl(args: string[]): void {
  const made = Bun.spawnSync(["openssl", ...args], { stdout: "pipe", stderr: "pipe" });
  if (made.exitCode !== 0) throw new Error(`openssl ${args[0]} failed (is openssl installed?): ${made.stderr.toString()}`);
}

/**
 * A self-signed certificate in `dir` (`<name>.crt`, `<name>.key`), its own CA: for 127.0.0.1 and
 * localhost, or for `host` alone (a name that resolves nowhere here).
 */
export function selfSigned(dir: string, name: string, host?: string): CertificateFiles {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const names = host ? `subjectAltName=DNS:${host}` : LOOPBACK;
  openssl(["req", "-x509", ...EC_KEY, "-subj", `/CN=${host ?? name}`, "-addext", names, "-keyout", files.key, "-out", files.cert]);
  return files;
}

/** A CA (`ca`: its certificate's path) and a certificate for 127.0.0.1 and localhost that it signed. */
export function signedByOwnCa(dir: string, name: string): CertificateFiles & { ca: string } {
  const ca = { cert: join(dir, `${name}-ca.crt`), key: join(dir, `${name}-ca.key`) };
  openssl(["req", "-x509", ...EC_KEY, "-subj", `/CN=${name} CA`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", "-keyout", ca.key, "-out", ca.cert]);
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const request = join(dir, `${name}.csr`);
  const extensions = join(dir, `${name}.ext`);
  writeFileSync(extensions, `${LOOPBACK}\n`);
  openssl(["req", "-new", ...EC_KEY.slice(0, 5), "-subj", `/CN=${name}`, "-keyout", files.key, "-out", request]);
  openssl(["x509", "-req", "-in", request, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-days", "2", "-extfile", extensions, "-out", files.cert]);
  return { ...files, ca: ca.cert };
}
