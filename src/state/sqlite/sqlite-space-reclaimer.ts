import type { DatabaseSync } from 'node:sqlite';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/** Pages freed per step: 8 MiB at the default 4 KiB page size, ~10 ms of work here. */
const pagesPerStep = 2048;

/**
 * Gives the pages of deleted rows back to the filesystem (the database is in incremental
 * auto-vacuum mode, see sqlite-migrations.ts). In steps, each its own small transaction: one
 * `PRAGMA incremental_vacuum` over everything writes every freed page to the write-ahead log
 * first (measured here: 100 MB freed grew the log by 105 MB), while steps let the automatic
 * checkpoints reuse the log, and the event loop runs between them. Calls while one is under
 * way join it.
 */
export function createSpaceReclaimer(database: DatabaseSync): () => Promise<void> {
  const freePages = database.prepare('PRAGMA freelist_count');
  const count = () => Number((freePages.get() as { freelist_count: number }).freelist_count);
  const autoVacuum = database.prepare('PRAGMA auto_vacuum');
  let running: Promise<void> | undefined;
  const reclaim = async () => {
    // 2 is INCREMENTAL. A database whose switch failed (migration 4 on a full disk) keeps its
    // free pages for reuse by new rows; incremental_vacuum would do nothing there.
    if (Number((autoVacuum.get() as { auto_vacuum: number }).auto_vacuum) !== 2) return;
    let left = count();
    while (left > 0) {
      database.exec(`PRAGMA incremental_vacuum(${pagesPerStep})`);
      await yieldToEventLoop();
      if (!database.isOpen) return;
      const before = left;
      left = count();
      if (left >= before) return; // nothing more it can free
    }
  };
  return () => {
    running ??= reclaim().finally(() => {
      running = undefined;
    });
    return running;
  };
}
