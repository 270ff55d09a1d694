/** @module JSON logs with pino; secrets and credentials are redacted before they are written. */
import pino, { type DestinationStream, type Logger } from "pino";

export type { DestinationStream, Logger };

/** Paths pino blanks out wherever they appear in a log line. */
export const REDACTED_PATHS = [
  "secret",
  "*.secret",
  "password",
  "*.password",
  "token",
  "*.token",
  "access_token",
  "*.access_token",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "jwt_secret",
  "*.jwt_secret",
  "jwt_previous_keys",
  "secret_keys",
  "*.secret_keys",
  "*.jwt_previous_keys",
  "admin_password",
  "*.admin_password",
];

/** What of sonic-boom (pino's asynchronous destination) tells whether lines are still on their way. */
interface PendingWrites {
  _writing?: boolean;
  _len?: number;
}

/**
 * Calls `done` once the log's destination has written every line (the last ones before
 * `process.exit`). One `flush` is not enough: its callback comes when the write under way ends,
 * while a line logged meanwhile may just have started its own write (seen under load: "stopped"
 * lost); so it flushes again until nothing is pending. Destinations without that state (tests'
 * streams) are done after one flush.
 */
export function flushLog(log: Logger, done: () => void): void {
  const stream = (log as unknown as Record<symbol, PendingWrites | undefined>)[pino.symbols.streamSym];
  const settled = () => {
    if (stream && (stream._writing || (stream._len ?? 0) > 0)) setTimeout(() => log.flush(settled), 1);
    else done();
  };
  log.flush(settled);
}

/** The process logger; tests pass a destination to read what was logged. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "hookrelay" },
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
