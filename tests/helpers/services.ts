/**
 * @module The real PostgreSQL, Redis and Kafka that `bun run test` starts (HOOKRELAY_TEST_*),
 * with fresh, isolated room in each for a test file: a schema, a key prefix, a topic.
 */
import { afterAll, describe, it, setDefaultTimeout } from "bun:test";
import { createPool } from "../../src/adapters/postgres/client.ts";

// Real servers: a rebalance or a restart takes seconds.
setDefaultTimeout(60_000);

export const TEST_DATABASE_URL = process.env.HOOKRELAY_TEST_DATABASE_URL;
export const TEST_REDIS_URL = process.env.HOOKRELAY_TEST_REDIS_URL;
export const TEST_KAFKA_BROKERS = process.env.HOOKRELAY_TEST_KAFKA_BROKERS?.split(",").filter(Boolean);

/**
 * Registers one failing test naming the missing variables when any is unset (never a
 * silent skip), and returns false; true when all are set.
 */
export function requireServices(what: string, variables: Record<string, string | string[] | undefined>): boolean {
  const missing = Object.entries(variables)
    .filter(([, v]) => v === undefined || v.length === 0)
    .map(([k]) => k);
  if (missing.length === 0) return true;
  describe(what, () => {
    it(`needs ${missing.join(", ")}`, () => {
      throw new Error(`${missing.join(", ")} not set: run \`bun run test\` (it starts the services), or \`bun run services:up\` and set them from .services/env`);
    });
  });
  return false;
}

/** Fresh PostgreSQL schemas for this file, dropped after it. */
export function schemaFactory(baseUrl: string): () => Promise<{ schema: string; url: string }> {
  const admin = createPool({ url: baseUrl, maxConnections: 2 });
  const schemas: string[] = [];
  afterAll(async () => {
    // Tidying throwaway schemas is not a test: a server a test left down must not fail the file.
    try {
      for (const schema of schemas) await admin`DROP SCHEMA IF EXISTS ${admin(schema)} CASCADE`;
    } catch (err) {
      console.warn(`could not drop test schemas: ${(err as Error).message}`);
    }
    await admin.end();
  });
  return async () => {
    const schema = `hr_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
    await admin`CREATE SCHEMA ${admin(schema)}`;
    schemas.push(schema);
    const url = new URL(baseUrl);
    url.searchParams.set("options", `-c search_path=${schema}`);
    return { schema, url: url.toString() };
  };
}

/** A topic name no other test uses. */
export function freshTopic(prefix = "hr-test"): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * Environment for hookrelay on the real servers, isolated from every other test: its own
 * PostgreSQL schema, Redis key prefix, Kafka topic and consumer group.
 */
export async function productionEnv(freshSchema: () => Promise<{ url: string }>): Promise<Record<string, string>> {
  const { url } = await freshSchema();
  const id = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  return {
    DATABASE_URL: url,
    REDIS_URL: TEST_REDIS_URL!,
    KAFKA_BROKERS: TEST_KAFKA_BROKERS!.join(","),
    HOOKRELAY_REDIS_KEY_PREFIX: `hr-test-${id}:`,
    HOOKRELAY_KAFKA_TOPIC: `hr-test-${id}`,
    HOOKRELAY_KAFKA_PARTITIONS: "4",
    HOOKRELAY_KAFKA_CONSUMER_GROUP: `hr-test-${id}`,
    HOOKRELAY_KAFKA_REPUBLISH_AFTER: "2s",
  };
}
