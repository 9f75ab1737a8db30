import { setTimeout as sleep } from 'node:timers/promises';

/**
 * SQLSTATEs after which PostgreSQL asks the client to run the transaction again: it chose this
 * one to abort to break a deadlock (40P01), or could not serialize it (40001)
 * (https://www.postgresql.org/docs/current/mvcc-serialization-failure-handling.html).
 */
const retryableCodes = new Set(['40P01', '40001']);

/**
 * Runs `transaction` (one whole `sql.begin`) again when PostgreSQL aborted it for a deadlock or a
 * serialization failure, up to `attempts` times in all, after a short random pause so that the
 * two sides do not meet again: for transactions that update sets of rows another may update in
 * another order (a host marked gone, a gone server's work taken over). Anything else, and the
 * last failure, is thrown as it is.
 */
export async function retryOnDeadlock<Result>(
  transaction: () => Promise<Result>,
  attempts = 4,
): Promise<Result> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await transaction();
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (attempt >= attempts || typeof code !== 'string' || !retryableCodes.has(code)) throw error;
      await sleep(Math.random() * 20 * 2 ** attempt);
    }
  }
}
