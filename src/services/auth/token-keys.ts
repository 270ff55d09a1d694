/**
 * @module The keys of access tokens: one algorithm pinned (HS256, RS256 or EdDSA), the current
 * key that signs, and the keys that only verify (the previous ones, during a rotation), each
 * named by a `kid` derived from the key itself so nobody has to invent or keep ids in step.
 */
import { createHash, createPublicKey } from "node:crypto";
import { type CryptoKey, calculateJwkThumbprint, exportJWK, importPKCS8, importSPKI } from "jose";

export const TOKEN_ALGORITHMS = ["HS256", "RS256", "EdDSA"] as const;
export type TokenAlgorithm = (typeof TOKEN_ALGORITHMS)[number];

type Key = CryptoKey | Uint8Array;

/** Key material as configured: HMAC secrets for HS256, PEM texts for RS256 and EdDSA. */
export interface TokenKeySpec {
  algorithm: TokenAlgorithm;
  /** HS256: the current secret. RS256/EdDSA: the current private key, PEM (PKCS#8). */
  current: string;
  /** Keys that verify and never sign. HS256: secrets. RS256/EdDSA: PEM public (SPKI) or private keys. */
  previous: string[];
}

export interface TokenKeyRing {
  algorithm: TokenAlgorithm;
  signing: { kid: string; key: Key };
  /** Every key that verifies, the current one first, by kid. */
  verifying: Map<string, Key>;
}

/** Raised for key material that cannot be used; the message names which key and why. */
export class TokenKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenKeyError";
  }
}

/** Imports the configured keys once, at start. */
export async function tokenKeyRing(spec: TokenKeySpec): Promise<TokenKeyRing> {
  if (spec.algorithm === "HS256") return hs256KeyRing(spec.current, spec.previous);
  const verifying = new Map<string, Key>();
  const privateKey = await importPKCS8(spec.current, spec.algorithm).catch((err: Error) => {
    throw new TokenKeyError(`the current ${spec.algorithm} key is not a PEM PKCS#8 private key for ${spec.algorithm}: ${err.message}`);
  });
  const current = await publicKey(spec.algorithm, spec.current, "the current key");
  verifying.set(current.kid, current.key);
  for (const [i, pem] of spec.previous.entries()) {
    const previous = await publicKey(spec.algorithm, pem, `previous key ${i + 1}`);
    verifying.set(previous.kid, previous.key);
  }
  return { algorithm: spec.algorithm, signing: { kid: current.kid, key: privateKey }, verifying };
}

/** HS256 keys: `current` signs, every secret verifies. */
export function hs256KeyRing(current: string, previous: string[] = []): TokenKeyRing {
  const signing = hmacKey(current);
  const verifying = new Map<string, Key>([[signing.kid, signing.key]]);
  for (const secret of previous) {
    const key = hmacKey(secret);
    verifying.set(key.kid, key.key);
  }
  return { algorithm: "HS256", signing, verifying };
}

/** An HMAC secret's kid is a hash of it: stable, and telling nothing usable about the secret. */
function hmacKey(secret: string): { kid: string; key: Uint8Array } {
  if (secret.length < 32) throw new TokenKeyError("an HS256 secret must be at least 32 characters");
  const kid = createHash("sha256").update(`hookrelay token key\u0000${secret}`).digest("base64url").slice(0, 22);
  return { kid, key: new TextEncoder().encode(secret) };
}

/** The public half of a PEM key (public or private), with its RFC 7638 thumbprint as kid. */
async function publicKey(algorithm: TokenAlgorithm, pem: string, which: string): Promise<{ kid: string; key: CryptoKey }> {
  let spki: string;
  try {
    const keyObject = createPublicKey(pem);
    if (algorithm === "RS256" && keyObject.asymmetricKeyType !== "rsa") throw new Error(`it is a ${keyObject.asymmetricKeyType} key, not RSA`);
    if (algorithm === "RS256" && (keyObject.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new Error("RSA keys must have at least 2048 bits");
    if (algorithm === "EdDSA" && keyObject.asymmetricKeyType !== "ed25519") throw new Error(`it is a ${keyObject.asymmetricKeyType} key, not Ed25519`);
    spki = keyObject.export({ type: "spki", format: "pem" }) as string;
  } catch (err) {
    throw new TokenKeyError(`${which} cannot verify ${algorithm} tokens: ${(err as Error).message}`);
  }
  const key = await importSPKI(spki, algorithm, { extractable: true });
  return { kid: await calculateJwkThumbprint(await exportJWK(key)), key };
}
