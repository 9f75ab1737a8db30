import assert from 'node:assert/strict';
import test from 'node:test';
import { parseCronSchedule } from './cron-schedule.ts';
import { ScheduleTimer } from './schedule-timer.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 50) {
    if (waited > 10_000) assert.fail(`${what} within 10 s`);
    await sleep(50);
  }
}

test('fires at each second a per-second schedule names, and not after stop', async () => {
  const fired: Date[] = [];
  const timer = new ScheduleTimer(parseCronSchedule('* * * * * *'), async (at) => {
    fired.push(at);
  });
  timer.start();
  await until(() => fired.length >= 2, 'two firings');
  timer.stop();
  const [first, second] = fired as [Date, Date];
  assert.equal(first.getMilliseconds(), 0);
  assert.equal(second.getTime() - first.getTime(), 1000);
  const count = fired.length;
  await sleep(1100);
  assert.equal(fired.length, count, 'nothing fires once stopped');
  assert.equal(timer.next, null);
});

test('a call slower than the schedule skips the times it overran instead of piling up', async () => {
  const fired: Date[] = [];
  let running = 0;
  let overlapped = false;
  const timer = new ScheduleTimer(parseCronSchedule('* * * * * *'), async (at) => {
    running += 1;
    if (running > 1) overlapped = true;
    fired.push(at);
    await sleep(1500);
    running -= 1;
  });
  timer.start();
  await until(() => fired.length >= 2, 'two firings');
  timer.stop();
  assert.equal(overlapped, false);
  const [first, second] = fired as [Date, Date];
  assert.ok(second.getTime() - first.getTime() >= 2000, 'the second it overran was skipped');
});
