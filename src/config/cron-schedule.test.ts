import assert from 'node:assert/strict';
import test from 'node:test';
import { InvalidInputError } from '../errors/mags-error.ts';
import { parseCronSchedule } from './cron-schedule.ts';

test('the next time a schedule names, in its time zone', () => {
  const weekdays = parseCronSchedule('0 9 * * 1-5', 'America/New_York');
  // Sunday 2026-11-29: the next is Monday 09:00 in New York (UTC-5).
  assert.equal(
    weekdays.nextAfter(new Date('2026-11-29T00:00:00Z'))?.toISOString(),
    '2026-11-30T14:00:00.000Z',
  );
  const everySecond = parseCronSchedule('* * * * * *');
  assert.equal(
    everySecond.nextAfter(new Date('2026-01-01T00:00:00.500Z'))?.toISOString(),
    '2026-01-01T00:00:01.000Z',
  );
  assert.equal(parseCronSchedule('@hourly').timezone, 'UTC');
});

test('a bad schedule or time zone is a clear input error', () => {
  assert.throws(
    () => parseCronSchedule('every minute'),
    (error: unknown) => {
      assert.ok(error instanceof InvalidInputError);
      assert.match(error.message, /"every minute" is not a cron schedule/);
      return true;
    },
  );
  assert.throws(() => parseCronSchedule('61 * * * *'), /is not a cron schedule/);
  assert.throws(
    () => parseCronSchedule('* * * * *', 'Mars/Olympus'),
    /"Mars\/Olympus" is not a time zone/,
  );
});

test('five or six fields only (no years), in our words; a time zone is an IANA name, kept as Intl spells it', () => {
  assert.throws(
    () => parseCronSchedule('0 0 3 * * * 2027'),
    /has 7 fields, a schedule has five \(minute hour day-of-month month day-of-week\) or six/,
  );
  assert.throws(() => parseCronSchedule('* * * *'), /has 4 fields/);
  for (const offset of ['+02:00', '-0500']) {
    assert.throws(
      () => parseCronSchedule('0 3 * * *', offset),
      (error: unknown) =>
        error instanceof InvalidInputError &&
        error.code === 'invalid_timezone' &&
        /IANA name/.test(error.hint ?? ''),
    );
  }
  assert.equal(parseCronSchedule('0 3 * * *', 'europe/berlin').timezone, 'Europe/Berlin');
  assert.equal(parseCronSchedule('0 3 * * *', 'utc').timezone, 'UTC');
  assert.equal(parseCronSchedule('@daily', 'Europe/Paris').timezone, 'Europe/Paris');
});
