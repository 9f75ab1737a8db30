/**
 * The contract every runtime passes (like Hono's `runTest({ newRouter })`): a runtime's own test
 * file calls `runRuntimeContract` with a factory, and gets the same checks as every other runtime.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { after, before, describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ContractSkip, namedSkips } from '../config/contract-skips.ts';
import { CapabilityUnsupportedError } from '../errors/mags-error.ts';
import { runtimeOperation, sandboxOperation } from './require-capability.ts';
import type {
  ExecRequest,
  ImageReference,
  Runtime,
  RuntimeCapabilities,
  Sandbox,
  SandboxProcess,
  SandboxSpec,
} from './runtime.ts';

export interface RuntimeContractOptions {
  /**
   * Creates the runtime and names an image it can start (the runtime's layer provider finds it),
   * or returns a reason to skip the whole suite on this host (a missing image, not root, ...).
   */
  setup: () => Promise<
    { runtime: Runtime; image: ImageReference; cleanup: () => Promise<void> } | { skip: string }
  >;
  /**
   * Tests this runtime cannot pass, by title, with the reason. Tests of an optional feature skip
   * by themselves when the runtime does not declare its capability.
   */
  skip?: ContractSkip[];
}

export interface Collected {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number | null;
  signal: string | null;
}

export async function collect(process: SandboxProcess): Promise<Collected> {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  process.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  process.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const result = await process.exited;
  return { stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), ...result };
}

/** Free bytes of the filesystem the runtime's state lives on (the host's disk). */
async function hostFreeBytes(): Promise<number> {
  const stats = await statfs(tmpdir());
  return stats.bavail * stats.bsize;
}

const baseEnvironment = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/root', LANG: 'C.UTF-8' };

export function shell(script: string, extra: Partial<ExecRequest> = {}): ExecRequest {
  return { argv: ['/bin/sh', '-c', script], env: baseEnvironment, cwd: '/workspace', ...extra };
}

export function runRuntimeContract(name: string, options: RuntimeContractOptions): void {
  describe(`runtime contract: ${name}`, () => {
    let context:
      | Exclude<Awaited<ReturnType<RuntimeContractOptions['setup']>>, { skip: string }>
      | undefined;
    let skipReason: string | undefined;
    const sandboxes: Sandbox[] = [];

    before(async () => {
      const result = await options.setup();
      if ('skip' in result) skipReason = result.skip;
      else context = result;
    });
    after(async () => {
      await Promise.all(sandboxes.map((sandbox) => sandbox.stop()));
      await context?.cleanup();
    });

    async function start(overrides: Partial<SandboxSpec> = {}): Promise<Sandbox> {
      if (!context) throw new Error('no runtime');
      const sandbox = await context.runtime.start({
        id: `contract-${randomBytes(4).toString('hex')}`,
        image: context.image,
        limits: { memoryMiB: 512, cpus: 1, pidsMax: 256 },
        network: { egress: 'none' },
        ...overrides,
      });
      sandboxes.push(sandbox);
      return sandbox;
    }

    const skips = namedSkips(options.skip);
    const it = (
      title: string,
      body: (t: TestContext) => Promise<void>,
      requires?: keyof RuntimeCapabilities,
    ) =>
      test(title, { skip: skips.reasonFor(title) ?? false }, async (t) => {
        if (skipReason) return t.skip(skipReason);
        if (requires && !context?.runtime.capabilities[requires]) {
          return t.skip(`the runtime does not declare the capability ${requires}`);
        }
        await body(t);
      });

    it('declares runtime-v2', async () => {
      assert.equal(context?.runtime.specificationVersion, 'runtime-v2');
    });

    it('keeps the labels of its spec; a capability it lacks throws with runtime and capability', async () => {
      const sandbox = await start({ labels: { kind: 'contract', owner: 'alice' } });
      assert.deepEqual(sandbox.labels, { kind: 'contract', owner: 'alice' });
      assert.equal(sandbox.workspace, undefined);
      const runtime = context?.runtime as Runtime;
      const lacking = { ...runtime, capabilities: { ...runtime.capabilities, pause: false } };
      assert.throws(
        () => sandboxOperation(lacking, sandbox, 'pause'),
        (error: unknown) =>
          error instanceof CapabilityUnsupportedError &&
          error.runtime === runtime.name &&
          error.capability === 'pause',
      );
      const capabilityOf = {
        setLimits: 'setLimits',
        pause: 'pause',
        resume: 'pause',
        detach: 'reattach',
        resumeExec: 'reattach',
        listExecs: 'reattach',
      } as const;
      for (const [member, capability] of Object.entries(capabilityOf) as [
        keyof typeof capabilityOf,
        keyof RuntimeCapabilities,
      ][]) {
        // A declared capability has its member; an undeclared one is refused, never a no-op.
        if (runtime.capabilities[capability]) assert.equal(typeof sandbox[member], 'function');
        else
          assert.throws(
            () => sandboxOperation(runtime, sandbox, member),
            CapabilityUnsupportedError,
          );
      }
      for (const member of ['list', 'attach'] as const) {
        if (runtime.capabilities.reattach) assert.equal(typeof runtime[member], 'function');
        else assert.throws(() => runtimeOperation(runtime, member), CapabilityUnsupportedError);
      }
    });

    it('runs a command with separate stdout and stderr and its exit code', async () => {
      const sandbox = await start();
      const result = await collect(sandbox.exec(shell('echo out; echo err >&2; exit 7')));
      assert.equal(result.stdout.toString(), 'out\n');
      assert.equal(result.stderr.toString(), 'err\n');
      assert.equal(result.exitCode, 7);
    });

    it('passes binary output through unchanged', async () => {
      const sandbox = await start();
      const result = await collect(
        sandbox.exec(
          shell(
            'i=0; while [ $i -lt 256 ]; do printf "\\\\$(printf \'%03o\' $i)"; i=$((i+1)); done',
          ),
        ),
      );
      assert.deepEqual(
        result.stdout,
        Buffer.from(Array.from({ length: 256 }, (_, index) => index)),
      );
    });

    it('writes and reads files', async () => {
      const sandbox = await start();
      const data = randomBytes(3 * 1024 * 1024 + 17);
      await sandbox.writeFile('/workspace/data.bin', data, { mode: 0o640 });
      assert.deepEqual(await sandbox.readFile('/workspace/data.bin'), data);
      const result = await collect(sandbox.exec(shell('sha256sum data.bin; stat -c %a data.bin')));
      const expected = createHash('sha256').update(data).digest('hex');
      assert.equal(result.stdout.toString(), `${expected}  data.bin\n640\n`);
    });

    it('streams a regular file with its size first; refuses the rest; a cancelled read ends', async () => {
      const sandbox = await start();
      await collect(sandbox.exec(shell('truncate -s 3G sparse && mkfifo fifo && echo hi > small')));
      const file = await sandbox.readFileStream('/workspace/sparse');
      assert.equal(file.sizeBytes, 3 * 1024 ** 3);
      file.stream.destroy(); // cancelled after nothing: the sandbox's agent lets go of it
      await assert.rejects(sandbox.readFileStream('/workspace/sparse', { maxBytes: 1024 }), {
        statusCode: 413,
      });
      for (const path of ['/dev/zero', '/workspace/fifo', '/workspace']) {
        await assert.rejects(sandbox.readFileStream(path), { statusCode: 400 }, path);
      }
      await assert.rejects(sandbox.readFileStream('/workspace/missing'), { statusCode: 404 });
      assert.deepEqual(await sandbox.readFile('/workspace/small'), Buffer.from('hi\n'));
    });

    it('runs as root inside, but root is not root outside', async () => {
      const sandbox = await start();
      const result = await collect(sandbox.exec(shell('id -u; cat /proc/self/uid_map')));
      const [uid, map] = result.stdout.toString().split('\n');
      assert.equal(uid, '0');
      const hostUid = Number(map?.trim().split(/\s+/)[1]);
      assert.ok(hostUid > 0, `sandbox root must map to an unprivileged host uid, got ${map}`);
    });

    it('does not see host files or host processes', async () => {
      const sandbox = await start();
      const marker = `/root/.mags-contract-${randomBytes(4).toString('hex')}`;
      const { writeFile, rm } = await import('node:fs/promises');
      await writeFile(marker, 'secret');
      try {
        const result = await collect(
          sandbox.exec(shell(`test -e ${marker} && echo visible; ls /proc | grep -c '^[0-9]'`)),
        );
        assert.doesNotMatch(result.stdout.toString(), /visible/);
        // Only the agent, the shell and ls (and grep): a handful, never the host's hundreds.
        assert.ok(Number(result.stdout.toString().trim()) < 10, result.stdout.toString());
      } finally {
        await rm(marker, { force: true });
      }
    });

    it('has no network but loopback unless asked', async () => {
      const sandbox = await start();
      const result = await collect(
        sandbox.exec(shell('cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "')),
      );
      assert.equal(result.stdout.toString().trim(), 'lo');
    });

    it(
      'stops a fork bomb with the process limit',
      async () => {
        const sandbox = await start({ limits: { memoryMiB: 512, cpus: 1, pidsMax: 64 } });
        const result = await collect(
          sandbox.exec(
            shell('bomb() { bomb | bomb & }; bomb; sleep 1; echo survived', { cwd: '/' }),
          ),
        );
        assert.match(result.stdout.toString(), /survived/);
      },
      'resourceLimits',
    );

    it(
      'kills a memory hog at the memory limit and reports it',
      async () => {
        const sandbox = await start({ limits: { memoryMiB: 64, cpus: 1, pidsMax: 64 } });
        const result = await collect(
          sandbox.exec(
            shell('head -c 400000000 /dev/zero | tail -c 300000000 > /dev/null; echo $?'),
          ),
        );
        const usage = await sandbox.usage();
        assert.ok(
          usage.oomKills > 0,
          `expected an OOM kill, got ${JSON.stringify(usage)} / ${result.stdout}`,
        );
      },
      'resourceLimits',
    );

    it(
      'limits the throw-away layer to diskMiB: ENOSPC past it, usable again after deleting',
      async () => {
        const hostFreeBefore = await hostFreeBytes();
        const sandbox = await start({
          limits: { memoryMiB: 512, cpus: 1, pidsMax: 64, diskMiB: 64 },
        });
        const full = await collect(
          sandbox.exec(shell('dd if=/dev/zero of=/big bs=1M count=100 2>&1; echo "exit $?"')),
        );
        assert.match(full.stdout.toString(), /No space left on device/);
        assert.match(full.stdout.toString(), /exit [1-9]/);
        const hostDropBytes = hostFreeBefore - (await hostFreeBytes());
        assert.ok(
          hostDropBytes <= 64 * 1024 * 1024,
          `the host lost ${hostDropBytes} bytes of free disk, more than the 64 MiB limit`,
        );
        const again = await collect(
          sandbox.exec(
            shell('rm /big && dd if=/dev/zero of=/small bs=1M count=8 2>/dev/null && echo ok'),
          ),
        );
        assert.equal(again.stdout.toString(), 'ok\n');
      },
      'resourceLimits',
    );

    it('counts processes left running besides the agent, and reports an ended sandbox', async () => {
      // A runtime that cannot count them lists this test as skipped: callers then never reuse
      // its sandboxes (the parking policy), which this test does not check.
      const sandbox = await start();
      assert.equal(sandbox.isRunning(), true);
      await collect(sandbox.exec(shell('true')));
      assert.equal((await sandbox.usage()).processes, 0);
      await collect(sandbox.exec(shell('sleep 1000 > /dev/null 2>&1 &')));
      assert.equal((await sandbox.usage()).processes, 1);
      await sandbox.stop();
      assert.equal(sandbox.isRunning(), false);
    });

    it(
      'prepare then attach: a sandbox started ahead of time runs on the layers it is given',
      async () => {
        if (!context) throw new Error('no runtime');
        const { runtime, image } = context;
        const prepare = () =>
          runtimeOperation(
            runtime,
            'prepare',
          )({
            id: `contract-${randomBytes(4).toString('hex')}`,
            limits: { memoryMiB: 512, cpus: 1, pidsMax: 256 },
          });
        const attachSpec = {
          image,
          limits: { memoryMiB: 256, cpus: 1, pidsMax: 128 },
          network: { egress: 'none' },
          labels: { kind: 'pooled' },
        } as const;
        const prepared = await prepare();
        assert.equal(prepared.isAlive(), true);
        const sandbox = await prepared.attach(attachSpec);
        sandboxes.push(sandbox);
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

    it('a sandbox has the hostname its spec gives', async () => {
      const sandbox = await start({ hostname: 'contract-host' });
      const result = await collect(sandbox.exec(shell('hostname')));
      assert.equal(result.stdout.toString(), 'contract-host\n');
    });

    it(
      'a prepared sandbox has the hostname its attach spec gives',
      async () => {
        if (!context) throw new Error('no runtime');
        const prepared = await runtimeOperation(
          context.runtime,
          'prepare',
        )({
          id: `contract-${randomBytes(4).toString('hex')}`,
          limits: { memoryMiB: 512, cpus: 1, pidsMax: 256 },
        });
        const sandbox = await prepared.attach({
          image: context.image,
          limits: { memoryMiB: 256, cpus: 1, pidsMax: 128 },
          network: { egress: 'none' },
          hostname: 'attached',
        });
        sandboxes.push(sandbox);
        const result = await collect(sandbox.exec(shell('hostname')));
        assert.equal(result.stdout.toString(), 'attached\n');
      },
      'prepare',
    );

    it(
      'pause freezes every process and resume (or any use) thaws them',
      async () => {
        if (!context) throw new Error('no runtime');
        const sandbox = await start();
        const pause = sandboxOperation(context.runtime, sandbox, 'pause');
        const resume = sandboxOperation(context.runtime, sandbox, 'resume');
        const counter = sandbox.exec(
          shell('i=0; while true; do i=$((i+1)); echo $i > count; sleep 0.01; done'),
        );
        await sleep(200);
        await pause();
        const frozenAt = (await sandbox.readFile('/workspace/count')).toString(); // a use: wakes it
        await pause();
        await sleep(1000);
        await resume();
        const afterResume = Number((await sandbox.readFile('/workspace/count')).toString());
        // Frozen for a second, the loop (a step per 10-15 ms awake) moved on only by what ran
        // between readFile's wake-up and the second pause.
        assert.ok(afterResume - Number(frozenAt) < 25, `${frozenAt} -> ${afterResume}`);
        // Thawed, it counts on: polled (an empty read is the shell between truncating and
        // writing), with a deadline far beyond a loaded host's delays rather than a fixed wait.
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
        if (!context) throw new Error('no runtime');
        const { runtime } = context;
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
        sandboxes.push(second);
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
        if (!context) throw new Error('no runtime');
        const { runtime } = context;
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
        sandboxes.push(second);
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

    skips.registerCheck();
  });
}
