/**
 * A sandbox's data plane is the guest protocol over a byte stream, whatever carries it. The same
 * calls on a namespace sandbox give the same results through its agent socket (what
 * `Runtime.attach` uses) and through a TCP relay standing for a remote host: exec (output apart,
 * exit code, stdin), file upload and download, and a durable exec picked up again after its
 * connection dropped.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTcpRelay, type TcpRelay } from '../../../test/helpers/tcp-relay.ts';
import {
  createTestHome,
  sandboxSkipReason,
  type TestHome,
} from '../../../test/helpers/test-home.ts';
import { connectGuest, type GuestTransport } from '../../guest/connect-guest.ts';
import type { GuestClient, GuestExecRequest, GuestProcess } from '../../guest/guest-client.ts';
import type { Runtime, Sandbox } from '../runtime.ts';
import { namespaceGuestTransport } from './attach-namespace-sandbox.ts';
import { namespaceRuntimeOnHome } from './fixtures/namespace-runtime-on-home.ts';

const skip = sandboxSkipReason();
const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/root', LANG: 'C.UTF-8' };
const sh = (script: string, extra: Partial<GuestExecRequest> = {}): GuestExecRequest => ({
  argv: ['/bin/sh', '-c', script],
  env,
  cwd: '/',
  ...extra,
});
const lineCount = 200;
const numbers = `${Array.from({ length: lineCount }, (_, index) => index + 1).join('\n')}\n`;
/** Over two upload frames (256 KiB) and the read window: several frames each way. */
const fileBytes = Buffer.from(Array.from({ length: 600_000 }, (_, index) => index % 251));

async function collect(process: GuestProcess, stdout: Buffer[] = []) {
  const stderr: Buffer[] = [];
  process.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  process.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const status = await process.exited;
  return {
    stdout: Buffer.concat(stdout).toString(),
    stderr: Buffer.concat(stderr).toString(),
    ...status,
  };
}

/** Resolves once `process` has printed `text`; its output keeps flowing into `chunks`. */
function printed(process: GuestProcess, chunks: Buffer[], text: string): Promise<void> {
  return new Promise((resolve) => {
    process.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (Buffer.concat(chunks).includes(text)) resolve();
    });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    if (await check()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/**
 * Everything a caller of the data plane does, through `transport`; `drop` cuts the connection
 * the way this transport loses one. Returns what a caller sees, to compare across transports.
 */
async function exercise(transport: GuestTransport, drop: (client: GuestClient) => void) {
  const client = await connectGuest(transport);
  const exec = await collect(client.exec(sh('echo out; echo err >&2; exit 3')));
  const cat = client.exec(sh('cat', { stdin: true }));
  cat.writeStdin('through stdin\n');
  cat.closeStdin();
  const stdin = await collect(cat);

  const path = `/tmp/transport-${randomBytes(4).toString('hex')}.bin`;
  await client.writeFile(path, fileBytes, { mode: 0o640 });
  const read = await client.readFile(path);
  const mode = await collect(client.exec(sh(`stat -c %a ${path}`)));
  const missing = await client.readFile('/tmp/no-such-file').catch((error) => error.statusCode);

  // A durable exec: its connection drops mid-output; a new connection resumes it from the bytes
  // this caller has, and nothing is lost or repeated.
  const key = `job-${randomBytes(4).toString('hex')}`;
  const job = client.exec(
    sh(`for i in $(seq 1 ${lineCount}); do echo $i; sleep 0.005; done`, { key }),
  );
  const chunks: Buffer[] = [];
  await printed(job, chunks, '\n20\n');
  const received = Buffer.concat(chunks).length;
  drop(client);
  const lost = await job.exited.then(
    () => 'exited',
    (error: { code?: string }) => error.code,
  );
  await client.closed;
  const again = await connectGuest(transport);
  // The agent lets go of the exec once it has seen the old connection close.
  await waitFor(
    async () => (await again.listExecs()).some((info) => info.key === key && !info.attached),
    'the agent to see the dropped connection',
  );
  const resumed = again.resume(key, { stdoutOffset: received });
  const rest = await collect(resumed);
  const resumedAt = (await resumed.resumed).stdoutOffset;
  again.close();
  return {
    agentPid: client.agentPid,
    exec,
    stdin,
    file: {
      sha256: createHash('sha256').update(read).digest('hex'),
      sizeBytes: read.length,
      mode: mode.stdout,
      missing,
    },
    durable: {
      lost,
      resumedAtReceived: resumedAt === received,
      output: Buffer.concat(chunks).toString() + rest.stdout,
      exitCode: rest.exitCode,
    },
  };
}

const expected = {
  agentPid: 1,
  exec: { stdout: 'out\n', stderr: 'err\n', exitCode: 3, signal: null },
  stdin: { stdout: 'through stdin\n', stderr: '', exitCode: 0, signal: null },
  file: {
    sha256: createHash('sha256').update(fileBytes).digest('hex'),
    sizeBytes: fileBytes.length,
    mode: '640\n',
    missing: 404,
  },
  durable: { lost: 'guest_closed', resumedAtReceived: true, output: numbers, exitCode: 0 },
};

describe('guest transports: one namespace sandbox, through its socket and over TCP', {
  skip,
}, () => {
  let home: TestHome;
  let runtime: Runtime;
  let sandbox: Sandbox;
  let relay: TcpRelay;
  let socket: GuestTransport;
  before(async () => {
    home = await createTestHome();
    runtime = namespaceRuntimeOnHome(home.home);
    sandbox = await runtime.start({
      id: `transport-${randomBytes(4).toString('hex')}`,
      image: { name: 'default' },
      limits: { memoryMiB: 256, cpus: 1, pidsMax: 128 },
      network: { egress: 'none' },
    });
    socket = namespaceGuestTransport(home.home, sandbox.id);
    assert.equal(socket.kind, 'unix');
    relay = await startTcpRelay(socket.kind === 'unix' ? socket.socketPath : '');
  });
  after(async () => {
    await relay?.close();
    await sandbox?.stop();
    await home?.cleanup();
  });

  test('through the agent socket (what attach uses)', async () => {
    assert.deepEqual(await exercise(socket, (client) => client.close()), expected);
  });

  test('through a TCP relay (a remote host), its TCP connection cut at the relay', async () => {
    const tcp: GuestTransport = { kind: 'tcp', host: relay.host, port: relay.port };
    const before = relay.accepted;
    assert.deepEqual(await exercise(tcp, () => relay.dropAll()), expected);
    assert.equal(relay.accepted - before, 2, 'both connections went through the relay');
  });

  test('the sandbox handle of the process that started it is unaffected by the other connections', async () => {
    const result = await collect(sandbox.exec({ ...sh('echo still here'), cwd: '/' }));
    assert.deepEqual(result, { stdout: 'still here\n', stderr: '', exitCode: 0, signal: null });
  });
});
