/** @module Where the local services live: addresses, ports, state paths and the env their clients get. */
import { join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
/** Pid files, logs, the env file and the throwaway data directories. Gitignored. */
export const STATE_DIR = join(ROOT, ".services");
export const HOST = "127.0.0.1";
/** Each service's port and the variable that moves it. */
const PORT_VARIABLES = {
  postgres: ["HOOKRELAY_SERVICES_POSTGRES_PORT", 54329],
  redis: ["HOOKRELAY_SERVICES_REDIS_PORT", 63799],
  kafka: ["HOOKRELAY_SERVICES_KAFKA_PORT", 9092],
  kafkaController: ["HOOKRELAY_SERVICES_KAFKA_CONTROLLER_PORT", 9093],
} as const;
export type Ports = { -readonly [K in keyof typeof PORT_VARIABLES]: number };

/**
 * The services' ports: the defaults, or the `HOOKRELAY_SERVICES_*_PORT` variables, so that a second
 * checkout can run its own PostgreSQL, Redis and Kafka beside the first one's. A bad value stops
 * with its variable named instead of starting something on a port nobody asked for.
 */
export function servicePorts(env: Record<string, string | undefined> = process.env): Ports {
  const ports = {} as Ports;
  for (const [service, [variable, fallback]] of Object.entries(PORT_VARIABLES) as [keyof Ports, readonly [string, number]][]) {
    const raw = env[variable]?.trim();
    const port = raw ? Number(raw) : fallback;
    if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`${variable}=${raw}: expected a port number from 1 to 65535`);
    ports[service] = port;
  }
  const taken = new Map<number, string>();
  for (const [service, port] of Object.entries(ports)) {
    const other = taken.get(port);
    if (other) throw new Error(`${PORT_VARIABLES[service as keyof Ports][0]}: port ${port} is also ${other}'s; give each service its own`);
    taken.set(port, service);
  }
  return ports;
}

export const PORTS: Ports = servicePorts();
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
/** The clients' addresses of services on `ports`. */
export function servicesEnv(ports: Ports): ServicesEnv {
  return {
    DATABASE_URL: `postgres://hookrelay@${HOST}:${ports.postgres}/hookrelay`,
    REDIS_URL: `redis://${HOST}:${ports.redis}`,
    KAFKA_BROKERS: `${HOST}:${ports.kafka}`,
  };
}
export const ENV: ServicesEnv = servicesEnv(PORTS);

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
