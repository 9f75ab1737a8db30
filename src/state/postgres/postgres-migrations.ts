import type { Sql } from './postgres-database.ts';

/**
 * The schema, one step per version, applied in order on start: the version reached is kept in
 * `mags_schema` so that each step runs once. A step never changes after it ships; a change is a
 * new step at the end. Several servers starting at once on one database serialise on an advisory
 * lock, so a step never runs twice.
 */
export interface PostgresMigration {
  version: number;
  description: string;
  sql: string;
}

export const postgresMigrations: PostgresMigration[] = [];

/** Any fixed number: the key of the advisory lock the migrating server holds. */
const migrationLockKey = 0x6d616773; // 'mags'

export async function migratePostgres(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${migrationLockKey})`;
    await tx`CREATE TABLE IF NOT EXISTS mags_schema (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`;
    const [row] = await tx<
      { version: number | null }[]
    >`SELECT max(version) AS version FROM mags_schema`;
    const current = row?.version ?? 0;
    const latest = postgresMigrations.at(-1)?.version ?? 0;
    if (current > latest) {
      throw new Error(
        `the database's schema is version ${current}, newer than this mags knows (${latest}): upgrade mags`,
      );
    }
    for (const migration of postgresMigrations) {
      if (migration.version <= current) continue;
      await tx.unsafe(migration.sql);
      await tx`INSERT INTO mags_schema (version) VALUES (${migration.version})`;
    }
  });
}
