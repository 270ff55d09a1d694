/**
 * @module End-to-end suites run in both deployments: embedded (SQLite) and production
 * (PostgreSQL, Redis, Kafka from `bun run test`), each instance isolated from the others.
 */
import { TEST_DATABASE_URL, TEST_KAFKA_BROKERS, TEST_REDIS_URL, productionEnv, requireServices, schemaFactory } from "./services.ts";

export type Mode = "embedded" | "production";

const servicesReady = requireServices("production mode", {
  HOOKRELAY_TEST_DATABASE_URL: TEST_DATABASE_URL,
  HOOKRELAY_TEST_REDIS_URL: TEST_REDIS_URL,
  HOOKRELAY_TEST_KAFKA_BROKERS: TEST_KAFKA_BROKERS,
});
const freshSchema = servicesReady ? schemaFactory(TEST_DATABASE_URL!) : undefined;

/** Embedded always; production too when the services are there (else one failing test says how). */
export const MODES: Mode[] = servicesReady ? ["embedded", "production"] : ["embedded"];

/** Environment selecting `mode`'s backends, fresh for each call. */
export async function modeEnv(mode: Mode): Promise<Record<string, string>> {
  return mode === "production" ? productionEnv(freshSchema!) : {};
}
