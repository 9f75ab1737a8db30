import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { CapabilityUnsupportedError } from '../../errors/mags-error.ts';
import {
  runtimeCapabilityOf,
  runtimeOperation,
  sandboxCapabilityOf,
  sandboxOperation,
} from '../require-capability.ts';
import { type ContractHarness, collect, shell } from './contract-harness.ts';

/** The runtime's identity, its capabilities, commands and files. */
export function registerCommandContract({ it, start, subject }: ContractHarness): void {
  it('declares runtime-v2', async () => {
    assert.equal(subject().runtime.specificationVersion, 'runtime-v2');
  });

  it('keeps the labels of its spec; a capability it lacks throws with runtime and capability', async () => {
    const sandbox = await start({ labels: { kind: 'contract', owner: 'alice' } });
    assert.deepEqual(sandbox.labels, { kind: 'contract', owner: 'alice' });
    assert.equal(sandbox.workspace, undefined);
    const { runtime } = subject();
    const lacking = { ...runtime, capabilities: { ...runtime.capabilities, pause: false } };
    assert.throws(
      () => sandboxOperation(lacking, sandbox, 'pause'),
      (error: unknown) =>
        error instanceof CapabilityUnsupportedError &&
        error.runtime === runtime.name &&
        error.capability === 'pause',
    );
    // A declared capability has its members; an undeclared one is refused, never a no-op.
    for (const [member, capability] of Object.entries(sandboxCapabilityOf) as [
      keyof typeof sandboxCapabilityOf,
      (typeof sandboxCapabilityOf)[keyof typeof sandboxCapabilityOf],
    ][]) {
      // egressBlocked is on a sandbox started with an allow-list only (this one has none).
      if (member === 'egressBlocked') assert.equal(sandbox[member], undefined);
      else if (runtime.capabilities[capability]) assert.equal(typeof sandbox[member], 'function');
      else
        assert.throws(() => sandboxOperation(runtime, sandbox, member), CapabilityUnsupportedError);
    }
    for (const [member, capability] of Object.entries(runtimeCapabilityOf) as [
      keyof typeof runtimeCapabilityOf,
      (typeof runtimeCapabilityOf)[keyof typeof runtimeCapabilityOf],
    ][]) {
      if (runtime.capabilities[capability]) assert.equal(typeof runtime[member], 'function');
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
        shell('i=0; while [ $i -lt 256 ]; do printf "\\\\$(printf \'%03o\' $i)"; i=$((i+1)); done'),
      ),
    );
    assert.deepEqual(result.stdout, Buffer.from(Array.from({ length: 256 }, (_, index) => index)));
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

  it('a sandbox has the hostname its spec gives', async () => {
    const sandbox = await start({ hostname: 'contract-host' });
    const result = await collect(sandbox.exec(shell('hostname')));
    assert.equal(result.stdout.toString(), 'contract-host\n');
  });
}
