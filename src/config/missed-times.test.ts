import assert from 'node:assert/strict';
import test from 'node:test';
import { parseCronSchedule } from './cron-schedule.ts';
import { maxMissedCounted, missedTimes } from './missed-times.ts';

const at = (iso: string) => new Date(iso);

test('none when the schedule names no time after `after` up to now', () => {
  const daily = parseCronSchedule('0 3 * * *');
  assert.equal(
    missedTimes(daily, at('2030-01-01T03:00:00Z'), at('2030-01-02T02:59:59Z')),
    undefined,
  );
});

test('counts each missed time, with the first and the last, an exact count under the cap', () => {
  const daily = parseCronSchedule('0 3 * * *');
  const missed = missedTimes(daily, at('2030-01-01T03:00:00Z'), at('2030-01-05T03:00:00Z'));
  assert.deepEqual(missed, {
    count: 4,
    countIsLowerBound: false,
    first: at('2030-01-02T03:00:00Z'),
    last: at('2030-01-05T03:00:00Z'),
  });
});

test('past the cap the count is a lower bound and the last time is still exact', () => {
  // Per second for a week: 604,800 times, counted up to the cap only.
  const everySecond = parseCronSchedule('* * * * * *');
  const missed = missedTimes(
    everySecond,
    at('2030-01-01T00:00:00Z'),
    at('2030-01-08T00:00:00.500Z'),
  );
  assert.ok(missed);
  assert.equal(missed.count, maxMissedCounted);
  assert.equal(missed.countIsLowerBound, true);
  assert.deepEqual(missed.first, at('2030-01-01T00:00:01Z'));
  assert.deepEqual(missed.last, at('2030-01-08T00:00:00Z'));
});

test('the last time past the cap of a schedule with gaps (every minute of 09:00-09:59 on weekdays)', () => {
  const office = parseCronSchedule('* 9 * * 1-5');
  // 2030-01-07 is a Monday; a small cap makes the direct search do the work.
  const missed = missedTimes(office, at('2030-01-06T00:00:00Z'), at('2030-01-13T12:00:00Z'), {
    maxCounted: 10,
  });
  assert.ok(missed);
  assert.equal(missed.count, 10);
  assert.equal(missed.countIsLowerBound, true);
  assert.deepEqual(missed.first, at('2030-01-07T09:00:00Z'));
  assert.deepEqual(missed.last, at('2030-01-11T09:59:00Z'), 'Friday 09:59, not the weekend');
});

test('exactly the cap is an exact count', () => {
  const hourly = parseCronSchedule('0 * * * *');
  const missed = missedTimes(hourly, at('2030-01-01T00:00:00Z'), at('2030-01-01T05:30:00Z'), {
    maxCounted: 5,
  });
  assert.equal(missed?.count, 5);
  assert.equal(missed?.countIsLowerBound, false);
  assert.deepEqual(missed?.last, at('2030-01-01T05:00:00Z'));
});
