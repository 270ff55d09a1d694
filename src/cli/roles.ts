/** @module The roles one binary runs; `hookrelay all` runs every one. */
export const ROLES = ["gateway", "registry", "ingest", "dispatcher", "retry", "observability"] as const;
export type Role = (typeof ROLES)[number];
