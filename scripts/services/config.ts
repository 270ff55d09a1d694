/** @module Where the local services live: addresses, ports, state paths and the env their clients get. */
import { join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
/** Pid files, logs, the env file and the throwaway data directories. Gitignored. */
export const STATE_DIR = join(ROOT, ".services");
export const HOST = "127.0.0.1";
export const PORTS = { postgres: 54329, redis: 63799, kafka: 9092, kafkaController: 9093 } as const;
/** The newest Kafka line that @platformatic/kafka 2.12 supports (3.5.0 – 4.2.x). */
export const KAFKA_VERSION = process.env.HOOKRELAY_KAFKA_VERSION ?? "4.2.2";

export type ServiceName = "postgres" | "redis" | "kafka";
export const NAMES: ServiceName[] = ["postgres", "redis", "kafka"];

/** What a client of the three services needs, also written to `.services/env`. */
export interface ServicesEnv {
  DATABASE_URL: string;
  REDIS_URL: string;
  KAFKA_BROKERS: string;
}
export const ENV: ServicesEnv = {
  DATABASE_URL: `postgres://hookrelay@${HOST}:${PORTS.postgres}/hookrelay`,
  REDIS_URL: `redis://${HOST}:${PORTS.redis}`,
  KAFKA_BROKERS: `${HOST}:${PORTS.kafka}`,
};

export type Log = (line: string) => void;
export const stderrLog: Log = (line) => console.error(line);
export const path = (name: string) => join(STATE_DIR, name);
export const rel = (p: string) => relative(process.cwd(), p) || p;
export const pidFile = (s: ServiceName) => path(`${s}.pid`);
export const logFile = (s: ServiceName) => path(`${s}.log`);
export const isRoot = process.getuid?.() === 0;

export function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}
