import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareQueuedJobRows } from './job-row.ts';

test('claimed job rows sort as the claim ORDER BY does: created_at by code unit, then seq', () => {
  const rows = [
    { id: 'late', created_at: '2026-01-01T00:00:01.000Z', seq: 1 },
    { id: 'second', created_at: '2026-01-01T00:00:00.000Z', seq: 7 },
    { id: 'first', created_at: '2026-01-01T00:00:00.000Z', seq: 3 },
    // 'a' sorts after 'B' by code unit (SQLite BINARY, PostgreSQL COLLATE "C"), before it by locale.
    { id: 'lower', created_at: 'a', seq: 0 },
    { id: 'upper', created_at: 'B', seq: 0 },
  ];
  assert.deepEqual(
    rows.sort(compareQueuedJobRows).map((row) => row.id),
    ['first', 'second', 'late', 'upper', 'lower'],
  );
});
