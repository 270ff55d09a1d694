/** @module Password login and the admin account's first-start setup. */
import { UnauthorizedError } from "../../domain/errors.ts";
import { DEFAULT_CUSTOMER_ID } from "../../domain/model.ts";
import type { Store } from "../../domain/ports.ts";
import type { Logger } from "../../platform/logger.ts";
import type { RateGate } from "../../platform/rate-gate.ts";
import type { PasswordChecks } from "./password-checks.ts";
import type { Tokens } from "./tokens.ts";

export const ADMIN_USERNAME = "admin";
export const ADMIN_SCOPES = ["admin"];

export interface LoginResult {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
}

export interface LoginDeps {
  store: Store;
  tokens: Tokens;
  /** The login buckets per client IP and per username (429). */
  rateGate: RateGate;
  /** The cap on Argon2 verifications running at once (503 beyond it and its queue). */
  passwords: PasswordChecks;
}

/**
 * Checks a username and password; the same error for an unknown user and a wrong password.
 * The client IP's and the username's login budgets are spent first, and the hash is verified in
 * turn with the other checks of this process, so guessing is slow and cannot hog the hashing threads.
 */
export async function login(deps: LoginDeps, username: string, password: string, ip: string | null): Promise<LoginResult> {
  await deps.rateGate.login(ip, username).catch((err) => deps.passwords.refuse(err));
  const user = await deps.store.getUser(username);
  // Verify against a dummy hash for unknown users too, so timing does not reveal which exist.
  const hash = user?.passwordHash ?? DUMMY_HASH;
  const ok = await deps.passwords.verify(password, hash);
  if (!user || !ok) throw new UnauthorizedError("invalid username or password");
  const token = await deps.tokens.issue({ subject: user.username, customerId: user.customerId, scopes: user.scopes });
  return { access_token: token, token_type: "Bearer", expires_in: deps.tokens.expirySeconds };
}

const DUMMY_HASH = await Bun.password.hash("hookrelay-dummy-password");

/**
 * Makes sure the default customer and the admin exist. A configured password always
 * wins; otherwise a random one is made on first start and printed once.
 */
export async function ensureAdmin(deps: { store: Store; log: Logger; print: (line: string) => void }, configuredPassword: string): Promise<void> {
  await deps.store.ensureCustomer(DEFAULT_CUSTOMER_ID, "Default");
  const existing = await deps.store.getUser(ADMIN_USERNAME);
  if (configuredPassword) {
    if (existing && (await Bun.password.verify(configuredPassword, existing.passwordHash))) return;
    await deps.store.putUser({
      username: ADMIN_USERNAME,
      customerId: DEFAULT_CUSTOMER_ID,
      passwordHash: await Bun.password.hash(configuredPassword),
      scopes: ADMIN_SCOPES,
    });
    deps.log.info({ username: ADMIN_USERNAME }, "admin password set from configuration");
    return;
  }
  if (existing) return;
  const generated = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString("base64url");
  await deps.store.putUser({
    username: ADMIN_USERNAME,
    customerId: DEFAULT_CUSTOMER_ID,
    passwordHash: await Bun.password.hash(generated),
    scopes: ADMIN_SCOPES,
  });
  deps.print(`hookrelay: created user 'admin' with generated password: ${generated}  (shown once; set HOOKRELAY_ADMIN_PASSWORD to choose it)`);
}
