import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { runtimeOperation, sandboxOperation } from '../require-capability.ts';
import { type ContractHarness, collect, shell } from './contract-harness.ts';

/** A sandbox's life: prepared ahead of time, paused, detached and attached again, stopped. */
export function registerLifecycleContract({ it, start, subject, track }: ContractHarness): void {
  const prepare = () =>
    runtimeOperation(
      subject().runtime,
      'prepare',
    )({
      id: `contract-${randomBytes(4).toString('hex')}`,
      limits: { memoryMiB: 512, cpus: 1, pidsMax: 256 },
    });

  it(
    'prepare then attach: a sandbox started ahead of time runs on the layers it is given',
    async () => {
      const attachSpec = {
        image: subject().image,
        limits: { memoryMiB: 256, cpus: 1, pidsMax: 128 },
        network: { egress: 'none' },
        labels: { kind: 'pooled' },
      } as const;
      const prepared = await prepare();
      assert.equal(prepared.isAlive(), true);
      const sandbox = await prepared.attach(attachSpec);
      track(sandbox);
      assert.equal(prepared.isAlive(), false); // attached at most once
      await assert.rejects(prepared.attach(attachSpec));
      assert.deepEqual(sandbox.labels, { kind: 'pooled' });
      const result = await collect(sandbox.exec(shell('echo written > file; cat file')));
      assert.equal(result.stdout.toString(), 'written\n');
      assert.deepEqual(await sandbox.readFile('/workspace/file'), Buffer.from('written\n'));
      const discarded = await prepare();
      await discarded.discard();
      assert.equal(discarded.isAlive(), false);
    },
    'prepare',
  );

  it(
    'a prepared sandbox has the hostname its attach spec gives',
    async () => {
      const prepared = await prepare();
      const sandbox = await prepared.attach({
        image: subject().image,
        limits: { memoryMiB: 256, cpus: 1, pidsMax: 128 },
        network: { egress: 'none' },
        hostname: 'attached',
      });
      track(sandbox);
      const result = await collect(sandbox.exec(shell('hostname')));
      assert.equal(result.stdout.toString(), 'attached\n');
    },
    'prepare',
  );

  it(
    'pause freezes every process and resume (or any use) thaws them',
    async () => {
      const { runtime } = subject();
      const sandbox = await start();
      const pause = sandboxOperation(runtime, sandbox, 'pause');
      const resume = sandboxOperation(runtime, sandbox, 'resume');
      const counter = sandbox.exec(
        // Written aside and renamed: a read never sees the file between truncation and write.
        shell('i=0; while true; do i=$((i+1)); echo $i > next; mv next count; sleep 0.01; done'),
      );
      // Counting before it is paused (a loaded host may take a while to start it).
      const counting = Date.now() + 10_000;
      while (!(await sandbox.readFile('/workspace/count').catch(() => undefined))) {
        if (Date.now() > counting) assert.fail('the counter never started');
        await sleep(20);
      }
      await pause();
      const frozenAt = (await sandbox.readFile('/workspace/count')).toString(); // a use: wakes it
      await pause();
      await sleep(1000);
      await resume();
      const afterResume = Number((await sandbox.readFile('/workspace/count')).toString());
      // Frozen for a second, the loop (a step per 10-15 ms awake) moved on only by what ran
      // between readFile's wake-up and the second pause.
      assert.ok(afterResume - Number(frozenAt) < 25, `${frozenAt} -> ${afterResume}`);
      // Thawed, it counts on: polled, with a deadline far beyond a loaded host's delays rather
      // than a fixed wait.
      const deadline = Date.now() + 10_000;
      let counted = afterResume;
      while (counted <= afterResume + 5 && Date.now() < deadline) {
        await sleep(50);
        counted = Number((await sandbox.readFile('/workspace/count')).toString());
      }
      assert.ok(counted > afterResume + 5, `${afterResume} -> ${counted} after resume`);
      counter.signal('SIGKILL');
    },
    'pause',
  );

  it(
    'detach, list, attach: a detached sandbox runs on, is listed with its labels, and is attached again',
    async () => {
      const { runtime } = subject();
      const labels = { kind: 'contract', owner: 'alice', name: 'outlives' };
      const first = await start({ labels });
      // Paths relative to the cwd (/workspace): a runtime without a root filesystem of its own
      // (the fake) maps only that and the file calls' paths.
      await collect(first.exec(shell('echo kept > mark')));
      await sandboxOperation(runtime, first, 'detach')();
      assert.equal(first.isRunning(), false, 'a detached handle is of no use');
      const listed = (await runtimeOperation(runtime, 'list')()).find(
        (info) => info.id === first.id,
      );
      assert.deepEqual(listed?.labels, labels);
      assert.ok(!Number.isNaN(Date.parse(listed?.startedAt ?? '')), listed?.startedAt);
      const second = await runtimeOperation(runtime, 'attach')(first.id);
      track(second);
      assert.equal(second.id, first.id);
      assert.deepEqual(second.labels, labels);
      assert.equal(second.isRunning(), true);
      const result = await collect(second.exec(shell('cat mark; echo again')));
      assert.equal(result.stdout.toString(), 'kept\nagain\n');
      assert.equal(result.exitCode, 0);
      await second.stop();
      assert.equal(second.isRunning(), false);
      assert.equal(
        (await runtimeOperation(runtime, 'list')()).some((info) => info.id === first.id),
        false,
        'a stopped sandbox is no longer listed',
      );
      await assert.rejects(runtimeOperation(runtime, 'attach')(first.id), {
        code: 'sandbox_not_found',
      });
    },
    'reattach',
  );

  it(
    'a durable exec (key) runs on across a detach and is resumed from the offsets the caller has',
    async () => {
      const { runtime } = subject();
      const first = await start();
      const job = first.exec(
        shell('echo one; while [ ! -e go ]; do sleep 0.01; done; echo two; exit 3', {
          key: 'contract-job',
        }),
      );
      // This handle's view of it ends with the detach (the command runs on).
      job.exited.catch(() => {});
      // Its first line is here before the detach: the resume starts after it.
      await new Promise<void>((resolve) => {
        job.stdout.once('data', () => resolve());
      });
      await sandboxOperation(runtime, first, 'detach')();
      const second = await runtimeOperation(runtime, 'attach')(first.id);
      track(second);
      const listed = await sandboxOperation(runtime, second, 'listExecs')();
      assert.deepEqual(
        listed.map((exec) => [exec.key, exec.exited]),
        [['contract-job', false]],
      );
      const resumeExec = sandboxOperation(runtime, second, 'resumeExec');
      const resumed = resumeExec('contract-job', {
        stdoutOffset: 'one\n'.length,
      });
      await second.writeFile('/workspace/go', Buffer.from(''));
      const rest = await collect(resumed);
      assert.equal(rest.stdout.toString(), 'two\n');
      assert.equal(rest.exitCode, 3);
      assert.equal((await resumed.resumed).stdoutOffset, 'one\n'.length);
    },
    'reattach',
  );

  it(
    'forgetExec releases a durable exec nobody will resume: a running one is killed',
    async () => {
      const { runtime } = subject();
      const first = await start();
      const job = first.exec(
        shell('echo started; while true; do sleep 0.05; done', { key: 'contract-forget' }),
      );
      job.exited.catch(() => {});
      await new Promise<void>((resolve) => {
        job.stdout.once('data', () => resolve());
      });
      await sandboxOperation(runtime, first, 'detach')();
      const second = await runtimeOperation(runtime, 'attach')(first.id);
      track(second);
      const forgetExec = sandboxOperation(runtime, second, 'forgetExec');
      assert.equal(await forgetExec('contract-forget'), true);
      assert.deepEqual(await sandboxOperation(runtime, second, 'listExecs')(), []);
      assert.equal(await forgetExec('contract-forget'), false, 'an unknown key is no error');
      // Its loop is gone: nothing but the new command runs in the sandbox.
      const ps = await collect(second.exec(shell('ps -eo args | grep -c "[s]leep 0.05" || true')));
      assert.equal(ps.stdout.toString().trim(), '0');
    },
    'reattach',
  );

  it('stop() ends every process, including ones that ignore SIGTERM', async () => {
    const sandbox = await start();
    const process = sandbox.exec(shell("trap '' TERM; sleep 1000 & sleep 1000"));
    await sandbox.stop();
    const settled = await Promise.race([
      process.exited.then(
        () => 'settled',
        () => 'settled',
      ),
      sleep(5000).then(() => 'still running'),
    ]);
    assert.equal(settled, 'settled');
  });
}
