/** @module The private PostgreSQL server: started afresh, started again on its data, and asked whether it answers. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ENV, HOST, isRoot, PORTS, path, STATE_DIR } from "./config.ts";
import { mustRun, type Spec, spawnDetached, waitUntil } from "./process.ts";

/** The newest installed PostgreSQL's bin directory, if any. */
export function postgresBin(): string | undefined {
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, "bin", "pg_ctl"))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  return versions[0] && join(base, versions[0], "bin");
}

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
  writeFileSync(join(dataDir, "postgresql.conf"), `\n# scripts/services/postgres.ts\n${conf.join("\n")}\n`, { flag: "a" });
  spawnDetached("postgres", [...AS_POSTGRES, join(bin, "postgres"), "-D", dataDir], dataDir, "w");

  const { default: postgres } = await import("postgres");
  const superuser = () => postgres({ host: HOST, port: PORTS.postgres, user: "postgres", database: "postgres", max: 1, connect_timeout: 2, onnotice: () => {} });
  await waitUntil("postgres", postgresSpec, async () => {
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

/** Deletes the data directory kept outside `.services/` (root's temp dir), if there is one. */
export function removePostgresTempDataDir(): void {
  if (existsSync(path("postgres.datadir"))) {
    rmSync(readFileSync(path("postgres.datadir"), "utf8").trim(), { recursive: true, force: true });
    rmSync(path("postgres.datadir"), { force: true });
  }
}

export const postgresSpec: Spec = { start: startPostgres, answers: postgresAnswers, ports: [PORTS.postgres], timeoutMs: 60_000, signal: "SIGINT", resume: resumePostgres, pauseSignal: "SIGINT" };
