/**
 * Stored job output on a real server with real sandboxes: deleting a job, the per-owner quota
 * holding state.db to a bound under repeated large outputs, and how a removed output shows.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConflictError, type Mags, NotFoundError } from '../src/sdk/index.ts';
import { waitUntil } from './helpers/server-process.ts';
import { runCli, sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping job output retention tests: ${skip}\n`);

const mebibyte = 1024 * 1024;
const quotaBytes = 200 * mebibyte;

describe('stored job output', { skip }, () => {
  let server: TestServer;
  let alice: Mags;
  let aliceToken: string;
  let bob: Mags;
  const stateBytes = () =>
    ['', '-wal'].reduce(
      (sum, suffix) =>
        sum +
        (statSync(join(server.testHome.home, `state.db${suffix}`), { throwIfNoEntry: false })
          ?.size ?? 0),
      0,
    );
  /** Runs `command` for alice and waits for it in-process (the test never holds the output). */
  const runToEnd = async (command: string) => {
    const job = await alice.run(command);
    return server.server.services.jobs.wait('alice', job.id);
  };

  before(async () => {
    server = await startTestServer({ logRetention: { maxOwnerBytes: quotaBytes } });
    ({ mags: alice, token: aliceToken } = await server.client('alice'));
    bob = (await server.client('bob')).mags;
  });
  after(() => server.close());

  test('DELETE removes a finished job and its output; not a running or foreign one', async () => {
    const { job } = await alice.runAndWait('echo kept until deleted');
    await assert.rejects(bob.jobs.delete(job.id), NotFoundError);
    assert.equal((await alice.jobs.get(job.id)).id, job.id);

    const running = await alice.run('sleep 60');
    await waitUntil(async () => (await alice.jobs.get(running.id)).status === 'running', 30_000);
    await assert.rejects(
      alice.jobs.delete(running.id),
      (error: ConflictError) =>
        error instanceof ConflictError && error.hint === `Stop it first: mags stop ${running.id}`,
    );
    await alice.jobs.stop(running.id);
    const cli = await runCli(server.testHome.home, ['delete', running.id], {
      env: { MAGS_URL: server.url, MAGS_API_TOKEN: aliceToken },
    });
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stderr, `mags: job ${running.id} and its output deleted\n`);
    await assert.rejects(alice.jobs.get(running.id), NotFoundError);

    await alice.jobs.delete(job.id);
    await assert.rejects(alice.jobs.get(job.id), NotFoundError);
    await assert.rejects(alice.jobs.logs(job.id), NotFoundError);
    await assert.rejects(alice.jobs.delete(job.id), NotFoundError);
  });

  test('repeated 100 MiB outputs under a 200 MiB quota keep state.db bounded', async () => {
    const sizes: number[] = [];
    const jobs = [];
    for (let index = 0; index < 5; index++) {
      jobs.push(await runToEnd(`head -c ${100 * mebibyte} /dev/zero`));
      sizes.push(stateBytes());
    }
    process.stdout.write(
      `# state.db + wal after each job, MiB: ${sizes.map((size) => (size / mebibyte).toFixed(0)).join(' ')}\n`,
    );
    // The bound: the quota, the write-ahead log's size limit (8 MiB) and a few MiB of freed
    // pages the last checkpoint has not cut off yet. Before retention: 100 MiB more per job.
    for (const size of sizes) assert.ok(size < quotaBytes + 40 * mebibyte, `${size} bytes`);
    const first = await alice.jobs.get(jobs[0]?.id ?? '');
    assert.equal(first.logBytes, 100 * mebibyte, 'the record keeps the size');
    assert.match(first.logsRemovedReason ?? '', /quota of 200.0 MiB/);
    assert.ok(first.logsRemovedAt);
    const latest = await alice.jobs.get(jobs[4]?.id ?? '');
    assert.equal(latest.logsRemovedAt, null);

    // What `mags logs` says instead of printing nothing.
    const cli = await runCli(server.testHome.home, ['logs', first.id], {
      env: { MAGS_URL: server.url, MAGS_API_TOKEN: aliceToken },
    });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, new RegExp(`the output of ${first.id} was removed at .*quota`));
  });

  test('a running job is truncated at its owner quota, and older output makes room', async () => {
    const job = await runToEnd(`head -c ${300 * mebibyte} /dev/zero`);
    assert.ok(job.logBytes <= quotaBytes + 200, `${job.logBytes} bytes stored`);
    assert.ok(job.logBytes > quotaBytes - mebibyte, 'truncated where the next read passed it');
    const { jobs } = await alice.jobs.list({ limit: 20 });
    for (const other of jobs.filter(
      (listed) => listed.id !== job.id && listed.logBytes > mebibyte,
    )) {
      assert.ok(other.logsRemovedAt, `${other.id} made room`);
    }
    let notice = '';
    await alice.jobs.logs(job.id, {
      offset: quotaBytes - mebibyte,
      follow: false,
      onStderr: (text) => {
        notice += text;
      },
    });
    assert.match(
      notice,
      /output truncated at \d+ bytes \(your stored output reached its quota of 200.0 MiB\)/,
    );
    assert.ok(stateBytes() < quotaBytes + 40 * mebibyte);
  });
});
