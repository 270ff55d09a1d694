/**
 * @module End-to-end suites run in both deployments: embedded (SQLite) and production
 * (PostgreSQL, Redis, Kafka from `bun run test`), each instance isolated from the others.
 */
import { productionEnv, requireServices, schemaFactory, TEST_DATABASE_URL, TEST_KAFKA_BROKERS, TEST_REDIS_URL } from "./services.ts";

export type Mode = "embedded" | "production";

export interface EndToEndModes {
  /** Embedded always; production too when the services are there (else one failing test says how). */
  modes: Mode[];
  /** Environment selecting `mode`'s backends, fresh for each call. */
  env(mode: Mode): Promise<Record<string, string>>;
}

/**
 * Call once at the top of a test file: the PostgreSQL schemas it makes are dropped after
 * that file (a helper module is evaluated once per run, so this cannot live at its top level).
 */
export function endToEndModes(): EndToEndModes {
  const ready = requireServices("production mode", {
    HOOKRELAY_TEST_DATABASE_URL: TEST_DATABASE_URL,
    HOOKRELAY_TEST_REDIS_URL: TEST_REDIS_URL,
    HOOKRELAY_TEST_KAFKA_BROKERS: TEST_KAFKA_BROKERS,
  });
  const freshSchema = ready ? schemaFactory(TEST_DATABASE_URL!) : undefined;
  return {
    modes: ready ? ["embedded", "production"] : ["embedded"],
    env: async (mode) => (mode === "production" ? productionEnv(freshSchema!) : {}),
  };
}
