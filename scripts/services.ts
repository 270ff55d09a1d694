/**
 * @module `bun run services:up` / `bun run services:down`: PostgreSQL, Redis and one Kafka broker on
 * 127.0.0.1 for tests and benchmarks, with throwaway data under `.services/` (DESIGN.md §5).
 *
 * PostgreSQL and Redis come from Debian's packages (installed with apt-get when absent) and run
 * as private instances, never the Debian cluster. The Kafka broker's jars come from Maven Central
 * once, into `${XDG_CACHE_HOME:-~/.cache}/hookrelay/kafka-<version>/libs`. `up()` is idempotent.
 * `scripts/test.ts` calls `useServices()`: what a test run starts is stopped when the last
 * test run using it ends, and what `services:up` started stays up. `restart()` (or
 * `stopKeepingData()` / `startAgain()`) takes one service away and brings it back on the same
 * data, for tests of outages; `bun scripts/services.ts restart redis 3000` does it by hand.
 */
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { createConnection } from "node:net";
import { randomBytes } from "node:crypto";

const ROOT = resolve(import.meta.dir, "..");
/** Pid files, logs, the env file and the throwaway data directories. Gitignored. */
export const STATE_DIR = join(ROOT, ".services");
const HOST = "127.0.0.1";
const PORTS = { postgres: 54329, redis: 63799, kafka: 9092, kafkaController: 9093 } as const;
/** The newest Kafka line that @platformatic/kafka 2.12 supports (3.5.0 – 4.2.x). */
export const KAFKA_VERSION = process.env.HOOKRELAY_KAFKA_VERSION ?? "4.2.2";

export type ServiceName = "postgres" | "redis" | "kafka";
const NAMES: ServiceName[] = ["postgres", "redis", "kafka"];

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

type Log = (line: string) => void;
const stderrLog: Log = (line) => console.error(line);
const path = (name: string) => join(STATE_DIR, name);
const rel = (p: string) => relative(process.cwd(), p) || p;
const pidFile = (s: ServiceName) => path(`${s}.pid`);
const logFile = (s: ServiceName) => path(`${s}.log`);
const isRoot = process.getuid?.() === 0;

// ---------------------------------------------------------------- processes

interface Ran {
  code: number;
  out: string;
}
async function run(cmd: string[], opts: { env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<Ran> {
  const child = Bun.spawn(cmd, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, out: out + err };
}
async function mustRun(what: string, cmd: string[], opts?: Parameters<typeof run>[1]): Promise<string> {
  const r = await run(cmd, opts);
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${cmd.join(" ")}\n${lastLines(r.out, 30)}`);
  return r.out;
}
function lastLines(text: string, n: number): string {
  return text.trimEnd().split("\n").slice(-n).join("\n");
}
function logTail(s: ServiceName): string {
  try {
    return lastLines(readFileSync(logFile(s), "utf8"), 25);
  } catch {
    return "(no log)";
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    // A zombie answers kill(0) until someone reaps it, which a container's init may do late;
    // it is gone once its last thread is (a JVM's threads outlive its main one for a moment).
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return !(/^State:\s+Z/m.test(status) && /^Threads:\s+1$/m.test(status));
  } catch {
    return true;
  }
}
/** The pid in `s`'s pid file when that process is alive and really is `s` (pids get reused). */
function runningPid(s: ServiceName): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidFile(s), "utf8"), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
  const marker = { postgres: "postgres", redis: "redis-server", kafka: "kafka.Kafka" }[s];
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker)) return undefined;
  } catch {
    // No /proc: trust the pid file.
  }
  return pid;
}

/** Starts a server in its own process group, output to its log file, and records its pid. */
function spawnDetached(s: ServiceName, cmd: string[], cwd: string, logMode: "w" | "a"): void {
  const out = openSync(logFile(s), logMode);
  try {
    const child = Bun.spawn(cmd, { cwd, stdio: ["ignore", out, out], detached: true });
    child.unref();
    writeFileSync(pidFile(s), `${child.pid}\n`);
  } finally {
    closeSync(out);
  }
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: HOST, port, timeout: 1000 });
    const finish = (open: boolean) => {
      socket.destroy();
      done(open);
    };
    socket.once("connect", () => finish(true));
    socket.once("timeout", () => finish(false));
    socket.once("error", () => finish(false));
  });
}

// ---------------------------------------------------------------- installing

function postgresBin(): string | undefined {
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, "bin", "pg_ctl"))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  return versions[0] && join(base, versions[0], "bin");
}

/** apt-get installs whatever the services to start lack (root only, as on CI). */
async function ensurePackages(toStart: ServiceName[], log: Log): Promise<void> {
  const missing: string[] = [];
  if (toStart.includes("postgres") && !postgresBin()) missing.push("postgresql");
  if (toStart.includes("redis") && !(Bun.which("redis-server") && Bun.which("redis-cli"))) missing.push("redis-server");
  if (toStart.includes("kafka") && !Bun.which("java")) missing.push("openjdk-17-jre-headless");
  if (toStart.includes("kafka") && !kafkaCached() && !Bun.which("mvn")) missing.push("maven");
  if (missing.length === 0) return;
  if (!isRoot) throw new Error(`missing ${missing.join(", ")}: run  sudo apt-get install -y ${missing.join(" ")}  and try again`);
  log(`services: installing ${missing.join(" ")} with apt-get`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  await mustRun("apt-get update", ["apt-get", "update", "-q"], { env });
  await mustRun("apt-get install", ["apt-get", "install", "-y", "-q", "--no-install-recommends", ...missing], { env });
}

// ---------------------------------------------------------------- PostgreSQL

/**
 * Root may not run PostgreSQL: as root, initdb and the server run as the `postgres` OS user
 * (setpriv execs, so the pid we keep is the postmaster's). That user must reach the data
 * directory; when it cannot enter the checkout (say one under /root), the data goes to a temp
 * dir that `.services/postgres.datadir` remembers. The log is a file we open and hand over.
 */
function postgresDataDir(): string {
  const note = path("postgres.datadir");
  if (existsSync(note)) return readFileSync(note, "utf8").trim();
  if (!isRoot || Bun.spawnSync([...AS_POSTGRES, "test", "-x", STATE_DIR]).exitCode === 0) return path("postgres");
  const dir = mkdtempSync(join(tmpdir(), "hookrelay-postgres-"));
  writeFileSync(note, dir);
  return dir;
}
const AS_POSTGRES = isRoot ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] : [];

async function startPostgres(): Promise<void> {
  const bin = postgresBin();
  if (!bin) throw new Error("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl)");
  const dataDir = postgresDataDir();
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (isRoot) await mustRun("chown", ["chown", "postgres:", dataDir]);
  await mustRun("initdb", [...AS_POSTGRES, join(bin, "initdb"), "-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"], { cwd: dataDir });
  // Throwaway data: durability off for speed; TCP on loopback only, no Unix socket.
  const conf = [
    `listen_addresses = '${HOST}'`,
    `port = ${PORTS.postgres}`,
    "unix_socket_directories = ''",
    "max_connections = 200",
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
  ];
  writeFileSync(join(dataDir, "postgresql.conf"), `\n# scripts/services.ts\n${conf.join("\n")}\n`, { flag: "a" });
  spawnDetached("postgres", [...AS_POSTGRES, join(bin, "postgres"), "-D", dataDir], dataDir, "w");

  const { default: postgres } = await import("postgres");
  const superuser = () => postgres({ host: HOST, port: PORTS.postgres, user: "postgres", database: "postgres", max: 1, connect_timeout: 2, onnotice: () => {} });
  await waitUntilAnswers("postgres", async () => {
    const sql = superuser();
    try {
      return (await sql`select 1`).length === 1;
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
  const sql = superuser();
  try {
    await sql.unsafe("CREATE ROLE hookrelay LOGIN CREATEDB");
    await sql.unsafe("CREATE DATABASE hookrelay OWNER hookrelay");
  } finally {
    await sql.end();
  }
}

/** The server again on the data directory it left (no initdb, role and database already there). */
async function resumePostgres(): Promise<void> {
  const bin = postgresBin();
  if (!bin) throw new Error("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl)");
  const dataDir = postgresDataDir();
  if (!existsSync(join(dataDir, "PG_VERSION"))) throw new Error(`no PostgreSQL data in ${dataDir} to start again on`);
  spawnDetached("postgres", [...AS_POSTGRES, join(bin, "postgres"), "-D", dataDir], dataDir, "a");
}

async function postgresAnswers(): Promise<boolean> {
  const { default: postgres } = await import("postgres");
  const sql = postgres(ENV.DATABASE_URL, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

// ---------------------------------------------------------------- Redis

async function startRedis(): Promise<void> {
  const dataDir = path("redis");
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(logFile("redis"), "");
  await launchRedis(dataDir);
}

/** Redis again on its directory: it reloads the append-only file, so the retry schedule survives. */
async function resumeRedis(): Promise<void> {
  const dataDir = path("redis");
  if (!existsSync(dataDir)) throw new Error(`no Redis data in ${dataDir} to start again on`);
  await launchRedis(dataDir);
}

/**
 * Persisted as production Redis must be for hookrelay (the retry schedule lives there): every
 * write in the append-only file, fsynced before the reply, so a restart loses nothing.
 * --daemonize: the server detaches itself and writes its own pid file.
 */
async function launchRedis(dataDir: string): Promise<void> {
  await mustRun("redis-server", [
    "redis-server", "--bind", HOST, "--port", String(PORTS.redis), "--save", "", "--appendonly", "yes", "--appendfsync", "always",
    "--daemonize", "yes", "--pidfile", pidFile("redis"), "--logfile", logFile("redis"), "--dir", dataDir,
  ]);
}

/**
 * A Redis started before it had --appendonly (an older `services:up`) would come back empty:
 * turn the append-only file on and wait until it holds the whole dataset.
 */
async function redisPersistAll(): Promise<void> {
  const cli = ["redis-cli", "-h", HOST, "-p", String(PORTS.redis)];
  await mustRun("redis-cli config set appendonly", [...cli, "config", "set", "appendonly", "yes"]);
  await mustRun("redis-cli config set appendfsync", [...cli, "config", "set", "appendfsync", "always"]);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const info = await mustRun("redis-cli info persistence", [...cli, "info", "persistence"]);
    if (/^aof_enabled:1\b/m.test(info) && /^aof_rewrite_in_progress:0\b/m.test(info) && /^aof_rewrite_scheduled:0\b/m.test(info)) return;
    if (Date.now() > deadline) throw new Error(`redis: the append-only file was not complete within 20 s:\n${info}`);
    await Bun.sleep(50);
  }
}

async function redisAnswers(): Promise<boolean> {
  const r = await run(["redis-cli", "-h", HOST, "-p", String(PORTS.redis), "ping"]);
  return r.code === 0 && r.out.trim() === "PONG";
}

// ---------------------------------------------------------------- Kafka

function kafkaCache(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "hookrelay", `kafka-${KAFKA_VERSION}`);
}
function kafkaCached(): boolean {
  return existsSync(join(kafkaCache(), "complete")) && existsSync(join(kafkaCache(), "libs", `kafka_2.13-${KAFKA_VERSION}.jar`));
}

/** The broker and its runtime dependencies from Maven Central, once per version. */
async function fetchKafka(log: Log): Promise<string> {
  const cache = kafkaCache();
  const libs = join(cache, "libs");
  if (kafkaCached()) return libs;
  const started = performance.now();
  log(`services: fetching kafka_2.13 ${KAFKA_VERSION} and its dependencies from Maven Central into ${cache}`);
  const work = mkdtempSync(join(tmpdir(), "hookrelay-kafka-fetch-"));
  const partial = join(cache, `libs.partial-${process.pid}`);
  const dep = (g: string, a: string, v: string) => `<dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  writeFileSync(
    join(work, "pom.xml"),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.hookrelay</groupId><artifactId>kafka-broker-fetch</artifactId><version>0</version><packaging>pom</packaging>
  <dependencies>
    ${dep("org.apache.kafka", "kafka_2.13", KAFKA_VERSION)}
  </dependencies>
  <build><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version>
  </plugin></plugins></build>
</project>
`,
  );
  const mvn = ["mvn", "-q", "-B", "-f", join(work, "pom.xml")];
  try {
    rmSync(partial, { recursive: true, force: true });
    await mustRun("mvn dependency:copy-dependencies (Kafka broker jars)", [...mvn, "dependency:copy-dependencies", "-DincludeScope=runtime", `-DoutputDirectory=${partial}`]);
    // The jars bring log4j but no SLF4J binding for it (the release tarball has one): without it the broker logs nothing.
    const log4j = readdirSync(partial).map((f) => /^log4j-core-(.+)\.jar$/.exec(f)?.[1]).find(Boolean);
    if (log4j) {
      await mustRun("mvn dependency:copy (log4j SLF4J binding)", [...mvn, "dependency:copy", `-Dartifact=org.apache.logging.log4j:log4j-slf4j-impl:${log4j}`, `-DoutputDirectory=${partial}`]);
    }
    if (!existsSync(join(partial, `kafka_2.13-${KAFKA_VERSION}.jar`))) throw new Error(`mvn finished but ${partial} has no kafka_2.13-${KAFKA_VERSION}.jar`);
    rmSync(libs, { recursive: true, force: true });
    renameSync(partial, libs);
    writeFileSync(join(cache, "complete"), `${readdirSync(libs).sort().join("\n")}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(partial, { recursive: true, force: true });
  }
  log(`services: fetched Kafka ${KAFKA_VERSION} (${readdirSync(libs).length} jars) in ${seconds(started)}`);
  return libs;
}

/** A Kafka cluster id: 16 random bytes, base64url; never starting with "-", which reads as an option. */
function kafkaClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

async function startKafka(log: Log): Promise<void> {
  const libs = await fetchKafka(log);
  const dir = path("kafka");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const props = join(dir, "server.properties");
  const log4j = join(dir, "log4j2.properties");
  writeFileSync(
    props,
    [
      "process.roles=broker,controller",
      "node.id=1",
      `controller.quorum.voters=1@${HOST}:${PORTS.kafkaController}`,
      `listeners=PLAINTEXT://${HOST}:${PORTS.kafka},CONTROLLER://${HOST}:${PORTS.kafkaController}`,
      `advertised.listeners=PLAINTEXT://${HOST}:${PORTS.kafka}`,
      "controller.listener.names=CONTROLLER",
      "inter.broker.listener.name=PLAINTEXT",
      "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
      `log.dirs=${join(dir, "data")}`,
      "num.partitions=1",
      "auto.create.topics.enable=false",
      "offsets.topic.replication.factor=1",
      "offsets.topic.num.partitions=1",
      "transaction.state.log.replication.factor=1",
      "transaction.state.log.min.isr=1",
      "share.coordinator.state.topic.replication.factor=1",
      "share.coordinator.state.topic.min.isr=1",
      "group.initial.rebalance.delay.ms=0",
      "",
    ].join("\n"),
  );
  writeFileSync(
    log4j,
    [
      "appender.out.type = Console",
      "appender.out.name = OUT",
      "appender.out.layout.type = PatternLayout",
      "appender.out.layout.pattern = [%d] %p %m (%c)%n",
      "rootLogger.level = INFO",
      "rootLogger.appenderRef.out.ref = OUT",
      "",
    ].join("\n"),
  );
  const java = kafkaJava(libs, log4j);
  const formatted = await run([...java, "kafka.tools.StorageTool", "format", "-t", kafkaClusterId(), "-c", props]);
  writeFileSync(logFile("kafka"), formatted.out);
  if (formatted.code !== 0) throw new Error(`kafka storage format failed (exit ${formatted.code}); see ${rel(logFile("kafka"))}:\n${logTail("kafka")}`);

  spawnDetached("kafka", [...java, "kafka.Kafka", props], dir, "a");
}

function kafkaJava(libs: string, log4j: string): string[] {
  return ["java", "-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true", `-Dlog4j2.configurationFile=${log4j}`, "-cp", `${libs}/*`];
}

/** The broker again with its server.properties and log dir as they are: no re-format, topics and offsets kept. */
async function resumeKafka(log: Log): Promise<void> {
  const libs = await fetchKafka(log);
  const dir = path("kafka");
  const props = join(dir, "server.properties");
  if (!existsSync(props) || !existsSync(join(dir, "data"))) throw new Error(`no Kafka data in ${dir} to start again on`);
  spawnDetached("kafka", [...kafkaJava(libs, join(dir, "log4j2.properties")), "kafka.Kafka", props], dir, "a");
}

/** A real metadata request, as the app's Kafka client makes it. */
async function kafkaAnswers(): Promise<boolean> {
  const { Admin } = await import("@platformatic/kafka");
  const admin = new Admin({ clientId: "hookrelay-services", bootstrapBrokers: [ENV.KAFKA_BROKERS], retries: 0, timeout: 3000, connectTimeout: 2000 });
  try {
    await admin.listTopics();
    return true;
  } finally {
    await admin.close().catch(() => {});
  }
}

// ---------------------------------------------------------------- lifecycle

interface Spec {
  start: (log: Log) => Promise<void>;
  answers: () => Promise<boolean>;
  ports: number[];
  timeoutMs: number;
  /**
   * PostgreSQL's fast shutdown is SIGINT (SIGTERM waits for every client to leave); the broker
   * gets SIGKILL: its data is thrown away, so a controlled shutdown would only cost seconds.
   */
  signal: NodeJS.Signals;
  /** Starts the server again on the data it left ({@link stopKeepingData}). */
  resume: (log: Log) => Promise<void>;
  /** The stop that keeps the data usable: a clean shutdown (the broker's controlled one, too). */
  pauseSignal: NodeJS.Signals;
  /** Makes sure what the server holds will be there after a stop with `pauseSignal`. */
  beforePause?: () => Promise<void>;
}
const SPECS: Record<ServiceName, Spec> = {
  postgres: { start: startPostgres, answers: postgresAnswers, ports: [PORTS.postgres], timeoutMs: 60_000, signal: "SIGINT", resume: resumePostgres, pauseSignal: "SIGINT" },
  redis: { start: startRedis, answers: redisAnswers, ports: [PORTS.redis], timeoutMs: 20_000, signal: "SIGTERM", resume: resumeRedis, pauseSignal: "SIGTERM", beforePause: redisPersistAll },
  kafka: { start: startKafka, answers: kafkaAnswers, ports: [PORTS.kafka, PORTS.kafkaController], timeoutMs: 120_000, signal: "SIGKILL", resume: resumeKafka, pauseSignal: "SIGTERM" },
};

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

async function waitUntilAnswers(s: ServiceName, answers = SPECS[s].answers): Promise<void> {
  const spec = SPECS[s];
  const deadline = Date.now() + spec.timeoutMs;
  for (;;) {
    if (await answers().catch(() => false)) return;
    if (runningPid(s) === undefined) throw new Error(`${s} exited while starting; see ${rel(logFile(s))}:\n${logTail(s)}`);
    if (Date.now() > deadline) throw new Error(`${s} did not answer on ${HOST}:${spec.ports[0]} within ${spec.timeoutMs / 1000} s; see ${rel(logFile(s))}:\n${logTail(s)}`);
    await Bun.sleep(250);
  }
}

async function start(s: ServiceName, log: Log): Promise<void> {
  const began = performance.now();
  try {
    await SPECS[s].start(log);
  } catch (err) {
    throw new Error(`${s} did not start: ${(err as Error).message}\n(log: ${rel(logFile(s))})`);
  }
  await waitUntilAnswers(s);
  log(`services: ${s} up on ${HOST}:${SPECS[s].ports[0]} in ${seconds(began)}`);
}

/** Signals `s`'s process and waits until it is gone (SIGKILL after 30 s); its data stays. */
async function halt(s: ServiceName, signal: NodeJS.Signals, log: Log): Promise<void> {
  const pid = runningPid(s);
  if (pid !== undefined) {
    process.kill(pid, signal);
    const deadline = Date.now() + 30_000;
    while (alive(pid) && Date.now() < deadline) await Bun.sleep(100);
    if (alive(pid)) process.kill(pid, "SIGKILL");
    while (alive(pid)) await Bun.sleep(50);
    log(`services: stopped ${s} (pid ${pid})`);
  }
  rmSync(pidFile(s), { force: true });
}

async function stop(s: ServiceName, log: Log): Promise<void> {
  await halt(s, SPECS[s].signal, log);
  rmSync(heldFile(s), { force: true });
  if (s === "postgres" && existsSync(path("postgres.datadir"))) {
    rmSync(readFileSync(path("postgres.datadir"), "utf8").trim(), { recursive: true, force: true });
    rmSync(path("postgres.datadir"), { force: true });
  }
  rmSync(path(s), { recursive: true, force: true });
}

/** One `up`/`down` at a time per checkout: a lock directory holding the owner's pid. */
async function withLock<T>(log: Log, fn: () => Promise<T>): Promise<T> {
  mkdirSync(STATE_DIR, { recursive: true });
  const lock = path("lock");
  const deadline = Date.now() + 15 * 60_000;
  let told = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "pid"), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let holder = Number.NaN;
      try {
        holder = Number(readFileSync(join(lock, "pid"), "utf8"));
      } catch {
        // Taken a moment ago, pid not written yet — unless a crash left it so.
        const taken = statSync(lock, { throwIfNoEntry: false });
        if (!taken) continue;
        if (Date.now() - taken.mtimeMs > 10_000) holder = 0;
      }
      if (holder === 0 || (Number.isInteger(holder) && !alive(holder))) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${rel(lock)} is still held by pid ${holder}; remove it if that process is gone`);
      if (!told) log(`services: waiting for pid ${holder} (another services:up/down in this checkout)`);
      told = true;
      await Bun.sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Test runs using the services: `users/<pid>` per run, and `test-owned` naming the services a
 * test run started. The last run to leave stops those; `bun run services:up` claims them for
 * the person who asked, so they stay up.
 */
const usersDir = () => path("users");
const testOwned = () => path("test-owned");
function liveUsers(): number[] {
  if (!existsSync(usersDir())) return [];
  const pids = readdirSync(usersDir()).map(Number);
  for (const gone of pids.filter((pid) => !alive(pid))) rmSync(join(usersDir(), String(gone)), { force: true });
  return pids.filter(alive);
}
function readTestOwned(): ServiceName[] {
  return existsSync(testOwned()) ? (readFileSync(testOwned(), "utf8").split("\n").filter((n) => NAMES.includes(n as ServiceName)) as ServiceName[]) : [];
}

// ---------------------------------------------------------------- restarts keeping data

/** Present while `s` is stopped by {@link stopKeepingData}; holds that process's pid. */
const heldFile = (s: ServiceName) => path(`${s}.held`);

async function resume(s: ServiceName, log: Log): Promise<void> {
  const began = performance.now();
  for (const port of SPECS[s].ports) {
    if (await portAnswers(port)) throw new Error(`${s}: port ${HOST}:${port} is taken by a process this checkout did not start`);
  }
  try {
    await SPECS[s].resume(log);
  } catch (err) {
    throw new Error(`${s} did not start again: ${(err as Error).message}\n(log: ${rel(logFile(s))})`);
  }
  await waitUntilAnswers(s);
  rmSync(heldFile(s), { force: true });
  log(`services: ${s} up again on ${HOST}:${SPECS[s].ports[0]} (data kept) in ${seconds(began)}`);
}

/**
 * Stops one running service with a clean shutdown and keeps its data, for tests of what
 * clients do while it is away; {@link startAgain} brings it back. Takes the lock only for the
 * stop itself: a test run starting meanwhile (useServices, up) starts it again on its data
 * rather than afresh, so nobody's data is wiped and nobody waits for the outage to end.
 */
export function stopKeepingData(s: ServiceName, log: Log = stderrLog): Promise<void> {
  return withLock(log, async () => {
    if (runningPid(s) === undefined) throw new Error(`${s} is not running here: \`bun run services:up\` first`);
    await SPECS[s].beforePause?.();
    writeFileSync(heldFile(s), String(process.pid));
    await halt(s, SPECS[s].pauseSignal, log);
  });
}

/** Starts a service stopped by {@link stopKeepingData} again on its data and waits until it answers (a no-op wait when it already runs). */
export function startAgain(s: ServiceName, log: Log = stderrLog): Promise<void> {
  return withLock(log, async () => {
    if (runningPid(s) !== undefined) {
      await waitUntilAnswers(s);
      rmSync(heldFile(s), { force: true });
      return;
    }
    await resume(s, log);
  });
}

/** What {@link restart} took, in milliseconds. */
export interface Restarted {
  /** From the signal until the process was gone. */
  stopMs: number;
  /** From the process gone until the service answered again. */
  downMs: number;
  /** From the start command until the service answered again. */
  startMs: number;
}

/**
 * Stops one service (clean shutdown), waits `downMs`, starts it again on the same data and
 * waits until it answers.
 */
export async function restart(s: ServiceName, downMs: number, log: Log = stderrLog): Promise<Restarted> {
  const began = performance.now();
  await stopKeepingData(s, log);
  const stopped = performance.now();
  let starting = stopped;
  try {
    await Bun.sleep(downMs);
  } finally {
    starting = performance.now();
    await startAgain(s, log);
  }
  const now = performance.now();
  return { stopMs: Math.round(stopped - began), downMs: Math.round(now - stopped), startMs: Math.round(now - starting) };
}

export interface Up {
  env: ServicesEnv;
  /** The services this call started; the others were already up. */
  started: ServiceName[];
}

async function upLocked(log: Log): Promise<Up> {
  const notRunning = NAMES.filter((s) => runningPid(s) === undefined);
  // Stopped by stopKeepingData (a test restarting it): start it again on its data, not afresh;
  // whoever stopped it finds it running when it calls startAgain.
  const held = notRunning.filter((s) => existsSync(heldFile(s)));
  for (const s of held) await resume(s, log);
  const toStart = notRunning.filter((s) => !held.includes(s));
  // A pid file whose process is gone: its data is stale, start that one afresh.
  for (const s of toStart) await stop(s, () => {});
  if (toStart.length > 0) {
    for (const s of toStart) {
      for (const port of SPECS[s].ports) {
        if (await portAnswers(port)) throw new Error(`${s}: port ${HOST}:${port} is taken by a process this checkout did not start (another checkout's services? \`bun run services:down\` there)`);
      }
    }
    await ensurePackages(toStart, log);
    const results = await Promise.allSettled(toStart.map((s) => start(s, log)));
    const failures = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as Error).message] : []));
    if (failures.length > 0) {
      for (const s of toStart) await stop(s, log);
      throw new Error(failures.join("\n\n"));
    }
  }
  for (const s of NAMES.filter((n) => !toStart.includes(n))) await waitUntilAnswers(s);
  writeFileSync(path("env"), Object.entries(ENV).map(([k, v]) => `${k}=${v}\n`).join(""));
  return { env: ENV, started: toStart };
}

/** Starts whichever of PostgreSQL, Redis and Kafka is not running, waits until all three answer, writes `.services/env`. */
export function up(log: Log = stderrLog): Promise<Up> {
  return withLock(log, async () => {
    const result = await upLocked(log);
    rmSync(testOwned(), { force: true });
    return result;
  });
}

/** Stops all three (whoever started them) and removes their data; the Kafka jar cache stays. */
export function down(log: Log = stderrLog): Promise<void> {
  return withLock(log, async () => {
    for (const s of NAMES) await stop(s, log);
    for (const p of [path("env"), testOwned(), usersDir()]) rmSync(p, { recursive: true, force: true });
  });
}

export interface Lease extends Up {
  /** Leaves; the last test run to leave stops what test runs started. */
  release: () => Promise<void>;
}

/** `up()` for a test run, which counts as a user of the services until `release()`. */
export async function useServices(log: Log = stderrLog): Promise<Lease> {
  const me = join(usersDir(), String(process.pid));
  // Registered before waiting for the lock, so that a run finishing meanwhile leaves them up for us.
  mkdirSync(usersDir(), { recursive: true });
  writeFileSync(me, "");
  const leave = async () => {
    rmSync(me, { force: true });
    const owned = readTestOwned();
    const others = liveUsers();
    if (owned.length === 0) return;
    if (others.length > 0) return log(`services: leaving ${owned.join(", ")} running for pid ${others.join(", ")}`);
    for (const s of owned) await stop(s, log);
    for (const p of [path("env"), testOwned(), usersDir()]) rmSync(p, { recursive: true, force: true });
  };
  try {
    const result = await withLock(log, async () => {
      const r = await upLocked(log);
      if (r.started.length > 0) writeFileSync(testOwned(), [...new Set([...readTestOwned(), ...r.started])].join("\n"));
      return r;
    });
    return { ...result, release: () => withLock(log, leave) };
  } catch (err) {
    rmSync(me, { force: true });
    throw err;
  }
}

if (import.meta.main) {
  const command = process.argv[2];
  try {
    if (command === "up") {
      const began = performance.now();
      const { env, started } = await up();
      console.error(started.length > 0 ? `services: started ${started.join(", ")} in ${seconds(began)}` : "services: already up");
      for (const [k, v] of Object.entries(env)) console.log(`${k}=${v}`);
      console.error(`services: written to ${rel(path("env"))}; load it with  set -a; . ${rel(path("env"))}; set +a`);
    } else if (command === "down") {
      await down();
    } else if (command === "restart" && NAMES.includes(process.argv[3] as ServiceName)) {
      const took = await restart(process.argv[3] as ServiceName, Number(process.argv[4] ?? 0));
      console.error(`services: ${process.argv[3]} down for ${took.downMs} ms (stop ${took.stopMs} ms, start ${took.startMs} ms), data kept`);
    } else {
      console.error("usage: bun scripts/services.ts up|down|restart <postgres|redis|kafka> [down-ms]");
      process.exit(2);
    }
  } catch (err) {
    console.error(`services ${command}: ${(err as Error).message}`);
    process.exit(1);
  }
  process.exit(0);
}
