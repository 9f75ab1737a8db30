/**
 * The dashboard's formats (src/dashboard/format/): one per kind of figure, the same on every
 * page. Pure modules, checked in node.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes } from '../../src/dashboard/format/format-bytes.ts';
import { formatCostUsd } from '../../src/dashboard/format/format-cost-usd.ts';
import {
  formatDurationBetween,
  formatDurationMs,
} from '../../src/dashboard/format/format-duration-ms.ts';
import { formatTime, formatTimeAgo } from '../../src/dashboard/format/format-time.ts';
import { formatTokens } from '../../src/dashboard/format/format-tokens.ts';

test('bytes: whole bytes, then binary units with one decimal', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1024), '1.0 KiB');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(64 * 1024 * 1024), '64.0 MiB');
  assert.equal(formatBytes(1024 * 1024 - 1), '1.0 MiB', 'not 1024.0 KiB');
  assert.equal(formatBytes(3 * 1024 ** 4), '3.0 TiB');
  assert.equal(formatBytes(null), '—');
});

test('cost: $0, four decimals under a cent, two from a cent up', () => {
  assert.equal(formatCostUsd(0), '$0');
  assert.equal(formatCostUsd(0.0042), '$0.0042');
  assert.equal(formatCostUsd(0.5), '$0.50');
  assert.equal(formatCostUsd(12.345), '$12.35');
});

test('tokens: exact under a thousand, then k and M', () => {
  assert.equal(formatTokens(950), '950');
  assert.equal(formatTokens(1234), '1.2k');
  assert.equal(formatTokens(45_300), '45k');
  assert.equal(formatTokens(999_999), '1.0M', 'not 1000k');
  assert.equal(formatTokens(1_300_000), '1.3M');
});

test('durations: ms, seconds, minutes and seconds, hours and minutes', () => {
  assert.equal(formatDurationMs(250), '250 ms');
  assert.equal(formatDurationMs(4200), '4.2 s');
  assert.equal(formatDurationMs(59_970), '1 min 0 s', 'not 60.0 s');
  assert.equal(formatDurationMs(184_000), '3 min 4 s');
  assert.equal(formatDurationMs(2 * 3_600_000 + 5 * 60_000), '2 h 5 min');
  assert.equal(formatDurationMs(-5), '0 ms');
  assert.equal(formatDurationBetween('2025-01-01T00:00:00Z', '2025-01-01T00:00:01.500Z'), '1.5 s');
  const now = Date.parse('2025-01-01T00:01:00Z');
  assert.equal(formatDurationBetween('2025-01-01T00:00:00Z', null, now), '1 min 0 s');
  assert.equal(formatDurationBetween(null, null), '—');
});

test('times: absolute in the local format, relative coarsely', () => {
  assert.equal(formatTime(null), '—');
  assert.equal(formatTime('not a time'), 'not a time');
  const absolute = formatTime('2025-03-04T05:06:07Z');
  assert.notEqual(absolute, '2025-03-04T05:06:07Z');
  assert.match(absolute, /\d/);
  const now = Date.parse('2025-03-10T12:00:00Z');
  assert.equal(formatTimeAgo('2025-03-10T11:59:30Z', now), 'just now');
  assert.equal(formatTimeAgo('2025-03-10T11:55:00Z', now), '5 min ago');
  assert.equal(formatTimeAgo('2025-03-10T09:00:00Z', now), '3 h ago');
  assert.equal(formatTimeAgo('2025-03-06T12:00:00Z', now), '4 days ago');
  assert.equal(formatTimeAgo('2025-03-11T12:00:00Z', now), 'just now', 'a clock ahead');
  assert.equal(formatTimeAgo('garbage', now), 'garbage');
});
