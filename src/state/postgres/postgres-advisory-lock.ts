import type postgres from 'postgres';

/**
 * Every advisory lock key of mags, in one place so that a new one cannot collide. The single
 * bigint keys (`pg_advisory_xact_lock(key)`), any fixed numbers: */
export const advisoryLockKeys = {
  /** The migrating server holds it (postgres-migrations.ts). */
  migration: 0x6d616773, // 'mags'
  /** Takeovers of gone servers queue on it (postgres-recovery-statements.ts). */
  takeover: 0x6d616774, // 'magt'
} as const;

/** Namespaces of `pg_advisory_xact_lock(namespace, key)`, the two-key form (see lockKey). */
export const lockNamespaces = {
  cronOwner: 1_701_001,
  cronRecovery: 1_701_002,
  /** The writer of one workspace, keyed `owner/workspace` (postgres-job-statements.ts). */
  workspaceWriter: 1_701_003,
} as const;

/**
 * Holds, until the transaction ends, the lock of `key` in `namespace`: writers of one key (an
 * owner's cron jobs) take turns across every server on the database, where SQLite's single
 * writer made a transaction enough. Keys are hashed to 32 bits, so two keys may share a lock:
 * that only makes them wait for each other. The two-integer form never meets the single-bigint
 * lock of the migrations (postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS).
 */
export async function lockKey(
  transaction: postgres.TransactionSql,
  namespace: number,
  key: string,
): Promise<void> {
  await transaction`SELECT pg_advisory_xact_lock(${namespace}::integer, hashtext(${key}::text))`;
}
