/** @module What a numbered up/down SQL migration is, for every SQL adapter. */

export interface Migration {
  version: number;
  name: string;
  up: string;
  down: string;
}

export interface MigrationStatus {
  version: number;
  name: string;
  appliedAt: string | null;
}
