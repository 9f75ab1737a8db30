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

test('start(after, { catchUp }) fires a time between `after` and now at once; without it, that time is skipped', async () => {
  const hourly = parseCronSchedule('0 * * * *');
  const now = Date.parse('2030-01-01T10:00:05Z'); // 10:00 passed 5 s ago
  const after = new Date('2030-01-01T09:59:59Z'); // what the caller caught up to
  const fired: Date[] = [];
  const catching = new ScheduleTimer(
    hourly,
    async (at) => {
      fired.push(at);
    },
    { now: () => now },
  );
  catching.start(after, { catchUp: true });
  await until(() => fired.length === 1, 'the 10:00 firing');
  catching.stop();
  assert.equal(fired[0]?.toISOString(), '2030-01-01T10:00:00.000Z');
  const plain = new ScheduleTimer(hourly, async () => assert.fail('not a past time'), {
    now: () => now,
  });
  plain.start(after);
  assert.equal(plain.next?.toISOString(), '2030-01-01T11:00:00.000Z');
  plain.stop();
});
