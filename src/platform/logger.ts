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
