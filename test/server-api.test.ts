/**
 * The REST API through real HTTP: a real server on a loopback port, real sandboxes, the SDK as
 * the client (and plain fetch where the SDK would hide what is tested).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AuthenticationError,
  type InvalidInputError,
  type Mags,
  NotFoundError,
} from '../src/sdk/index.ts';
import { waitUntil } from './helpers/server-process.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping server API tests: ${skip}\n`);

describe('mags server REST API', { skip }, () => {
  let server: TestServer;
  let alice: { token: string; tokenId: string; mags: Mags };
  let bob: { token: string; tokenId: string; mags: Mags };
  const call = (path: string, init: RequestInit & { token?: string } = {}) =>
    fetch(`${server.url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${init.token ?? alice.token}`,
        'content-type': 'application/json',
        ...(init.headers as Record<string, string>),
      },
    });
  const errorOf = async (response: Response) =>
    ((await response.json()) as { error: { code: string; message: string } }).error;

  before(async () => {
    server = await startTestServer({ maxUploadBytes: 1024 * 1024 });
    alice = await server.client('alice');
    bob = await server.client('bob');
  });
  after(() => server.close());

  test('runAndWait streams stdout and stderr apart and reports the exit code', async () => {
    const seen: string[] = [];
    const result = await alice.mags.runAndWait('echo out; echo err >&2; exit 3', {
      onStdout: (text) => seen.push(text),
    });
    assert.equal(result.stdout, 'out\n');
    assert.equal(result.stderr, 'err\n');
    assert.equal(result.exitCode, 3);
    assert.equal(result.job.status, 'failed');
    assert.equal(result.job.reason, 'exited with code 3');
    assert.deepEqual(seen.join(''), 'out\n');
  });

  test('binary output arrives byte-exact', async () => {
    const chunks: Uint8Array[] = [];
    const result = await alice.mags.runAndWait(
      'head -c 300000 /dev/urandom | tee /tmp/x | sha256sum >&2; cat /tmp/x',
      {
        onOutput: (stream, data) => {
          if (stream === 'stdout') chunks.push(data);
        },
      },
    );
    const { createHash } = await import('node:crypto');
    const bytes = Buffer.concat(chunks);
    assert.equal(bytes.length, 300_000);
    assert.equal(`${createHash('sha256').update(bytes).digest('hex')}  -\n`, result.stderr);
  });

  test('no token, a wrong token and a revoked token are 401; health needs none', async () => {
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
    assert.equal((await fetch(`${server.url}/v1/jobs`)).status, 401);
    const wrong = await call('/v1/jobs', { token: `mags_${'x'.repeat(32)}` });
    assert.equal(wrong.status, 401);
    assert.equal((await errorOf(wrong)).code, 'unauthorized');
    const carol = await server.client('carol');
    assert.equal((await carol.mags.whoami()).owner, 'carol');
    await server.server.services.repository.revokeToken(carol.tokenId, new Date().toISOString());
    await assert.rejects(carol.mags.whoami(), AuthenticationError);
  });

  test("another owner's job, logs, sandbox and workspace are 404, and never listed", async () => {
    const job = await alice.mags.runAndWait('echo secret > /workspace/s; echo done', {
      workspace: 'app',
    });
    assert.equal(job.exitCode, 0);
    await alice.mags.sandboxes.create({ name: 'private', ephemeral: true });
    try {
      await assert.rejects(bob.mags.jobs.get(job.job.id), NotFoundError);
      await assert.rejects(bob.mags.jobs.logs(job.job.id), NotFoundError);
      await assert.rejects(bob.mags.jobs.stop(job.job.id), NotFoundError);
      await assert.rejects(bob.mags.sandboxes.get('private'), NotFoundError);
      await assert.rejects(bob.mags.sandboxes.exec('private', 'true'), NotFoundError);
      await assert.rejects(
        bob.mags.sandboxes.files.read('private', '/etc/hostname'),
        NotFoundError,
      );
      await assert.rejects(bob.mags.workspaces.versions('app'), NotFoundError);
      await assert.rejects(bob.mags.workspaces.delete('app'), NotFoundError);
      const listed = await bob.mags.jobs.list({ limit: 500 });
      assert.ok(listed.jobs.every((entry) => entry.id !== job.job.id));
      assert.deepEqual(await bob.mags.sandboxes.list(), []);
      assert.deepEqual(await bob.mags.workspaces.list(), []);
      // Bob's "app" is his own: it does not hold Alice's file.
      const bobs = await bob.mags.runAndWait('cat /workspace/s 2>/dev/null || echo absent', {
        workspace: 'app',
      });
      assert.equal(bobs.stdout, 'absent\n');
      const again = await alice.mags.runAndWait('cat /workspace/s', { workspace: 'app' });
      assert.equal(again.stdout, 'secret\n');
    } finally {
      await alice.mags.sandboxes.delete('private');
    }
  });

  test('invalid input is 400 naming the field, and creates nothing', async () => {
    const before = (await alice.mags.jobs.list({ limit: 500 })).jobs.length;
    const cases: Array<[string, RegExp]> = [
      ['{"command": "true",', /json|malformed/i],
      ['{"command": 42}', /body\.command/],
      ['{"command": "true", "timeoutSeconds": "soon"}', /body\.timeoutSeconds/],
      ['{"command": "true", "bogus": 1}', /bogus/],
      ['{"command": "true", "workspace": "../etc"}', /body\.workspace/],
      ['{"command": "true", "limits": {"memoryMiB": -5}}', /body\.limits\.memoryMiB/],
      ['{"command": "true", "env": {"BAD-NAME": "x"}}', /body\.env/],
      ['[]', /body/],
      ['{"command": "true", "workspace": "a", "base": "b"}', /not both/],
    ];
    for (const [body, message] of cases) {
      const response = await call('/v1/jobs', { method: 'POST', body });
      assert.equal(response.status, 400, body);
      assert.match((await errorOf(response)).message, message, body);
    }
    const bad = await call('/v1/jobs?limit=0');
    assert.equal(bad.status, 400);
    assert.match((await errorOf(bad)).message, /query\.limit/);
    assert.equal((await call('/v1/jobs/not-a-job')).status, 400);
    assert.equal((await alice.mags.jobs.list({ limit: 500 })).jobs.length, before);
  });

  test('an oversized body is 413 before anything runs', async () => {
    const response = await call('/v1/jobs', {
      method: 'POST',
      body: JSON.stringify({ command: 'true', env: { BIG: 'x'.repeat(2 * 1024 * 1024) } }),
    });
    assert.equal(response.status, 413);
    assert.equal((await errorOf(response)).code, 'too_large');
  });

  test('files: round trip with mode, traversal refused, oversized upload refused whole', async () => {
    await alice.mags.sandboxes.create({ name: 'files', ephemeral: true });
    try {
      const data = new Uint8Array(200_000).map((_, index) => index % 251);
      await alice.mags.sandboxes.files.write('files', '/workspace/run.sh', data, { mode: 0o750 });
      assert.deepEqual(await alice.mags.sandboxes.files.read('files', '/workspace/run.sh'), data);
      const mode = await alice.mags.sandboxes.execAndWait('files', 'stat -c %a /workspace/run.sh');
      assert.equal(mode.stdout, '750\n');
      for (const path of ['/workspace/../../etc/passwd', 'relative.txt', '/workspace/', '/a\0b']) {
        const response = await call(`/v1/sandboxes/files/files?path=${encodeURIComponent(path)}`, {
          method: 'PUT',
          body: 'x',
        });
        assert.equal(response.status, 400, path);
        assert.match((await errorOf(response)).message, /query\.path/, path);
      }
      await assert.rejects(
        alice.mags.sandboxes.files.write(
          'files',
          '/workspace/big',
          new Uint8Array(2 * 1024 * 1024),
        ),
        (error: InvalidInputError) => error.statusCode === 413,
      );
      const listing = await alice.mags.sandboxes.execAndWait('files', 'ls -A /workspace');
      assert.equal(listing.stdout, 'run.sh\n', 'no partial file is left behind');
      await assert.rejects(
        alice.mags.sandboxes.files.read('files', '/workspace/missing'),
        (error: Error) => /missing|No such file/.test(error.message),
      );
    } finally {
      await alice.mags.sandboxes.delete('files');
    }
  });

  test('a dropped log stream resumes from its offset with nothing lost or repeated', async () => {
    const job = await alice.mags.run('for i in $(seq 1 60); do echo "line $i"; sleep 0.02; done');
    let received = '';
    let lastOffset = 0;
    // Read a few events over raw HTTP, then drop the connection mid-stream.
    const abort = new AbortController();
    const response = await call(`/v1/jobs/${job.id}/logs?follow=true`, { signal: abort.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    // Complete output events: they carry an id (the offset after them), `started` does not.
    const outputEvents = () =>
      text
        .split('\n\n')
        .slice(0, -1)
        .filter((event) => /^id: /m.test(event));
    while (outputEvents().length < 3) {
      text += new TextDecoder().decode((await reader.read()).value);
    }
    abort.abort();
    for (const event of outputEvents().slice(0, 3)) {
      const id = /^id: (\d+)$/m.exec(event)?.[1];
      const data = /^data: (.*)$/m.exec(event)?.[1];
      received += (JSON.parse(data as string) as { text: string }).text;
      lastOffset = Number(id);
    }
    assert.equal(lastOffset, Buffer.byteLength(received));
    // The job goes on without its reader; resuming at the offset completes the output exactly.
    const rest = await alice.mags.jobs.wait(job.id);
    assert.equal(rest.job.status, 'succeeded');
    let tail = '';
    await alice.mags.jobs.logs(job.id, {
      offset: lastOffset,
      onStdout: (chunk) => (tail += chunk),
    });
    const expected = Array.from({ length: 60 }, (_, index) => `line ${index + 1}\n`).join('');
    assert.equal(received + tail, expected);
    // Last-Event-ID works the same way as ?offset=.
    const resumed = await call(`/v1/jobs/${job.id}/logs`, {
      headers: { 'last-event-id': String(expected.length - 8) },
    });
    assert.match(await resumed.text(), /"text":"line 60\\n"/);
  });

  test('50 concurrent clients each receive exactly their own output', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, index) => {
        const result = await alice.mags.runAndWait(`seq 1 2000 | sed 's/^/client-${index}:/'`);
        return { index, result };
      }),
    );
    for (const { index, result } of results) {
      const expected = Array.from({ length: 2000 }, (_, line) => `client-${index}:${line + 1}\n`);
      assert.equal(result.exitCode, 0);
      assert.equal(result.stdout, expected.join(''), `client ${index}`);
    }
  });

  test('stop ends a running job as stopped; the workspace is usable again', async () => {
    const job = await alice.mags.run('sleep 60', { workspace: 'stoppable' });
    await waitUntil(async () => (await alice.mags.jobs.get(job.id)).status === 'running', 10_000);
    const busy = await call('/v1/jobs', {
      method: 'POST',
      body: JSON.stringify({ command: 'true', workspace: 'stoppable' }),
    });
    assert.equal(busy.status, 409);
    const stopped = await alice.mags.jobs.stop(job.id);
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.reason, 'stopped on request');
    const next = await alice.mags.runAndWait('echo free', { workspace: 'stoppable' });
    assert.equal(next.stdout, 'free\n');
  });

  test('sandboxes: new, exec, stop refuses exec, start again keeps the workspace', async () => {
    await alice.mags.sandboxes.create({ name: 'dev' });
    await alice.mags.sandboxes.execAndWait('dev', 'echo kept > /workspace/k');
    await assert.rejects(alice.mags.sandboxes.create({ name: 'dev' }), /already exists/);
    await alice.mags.sandboxes.stop('dev');
    await assert.rejects(alice.mags.sandboxes.exec('dev', 'true'), /stopped/);
    await alice.mags.sandboxes.start('dev');
    const result = await alice.mags.sandboxes.execAndWait('dev', 'cat /workspace/k; hostname');
    assert.equal(result.stdout, 'kept\ndev\n');
    const jobs = await alice.mags.jobs.list({ sandbox: 'dev' });
    assert.equal(jobs.jobs.length, 2);
    await alice.mags.sandboxes.delete('dev');
    await assert.rejects(alice.mags.sandboxes.get('dev'), NotFoundError);
  });

  test('shell: a PTY over WebSocket with resize, Ctrl-C, colours and the exit code', async () => {
    await alice.mags.sandboxes.create({ name: 'tty', ephemeral: true });
    try {
      const socket = new WebSocket(alice.mags.sandboxes.shellUrl('tty', { rows: 30, cols: 90 }), {
        headers: { authorization: `Bearer ${alice.token}` },
      } as unknown as string[]);
      socket.binaryType = 'arraybuffer';
      let output = '';
      let exit: { exitCode: number } | undefined;
      socket.addEventListener('message', (event) => {
        if (typeof event.data === 'string') exit = JSON.parse(event.data);
        else output += Buffer.from(event.data as ArrayBuffer).toString();
      });
      const closed = new Promise((resolve) => socket.addEventListener('close', resolve));
      await new Promise((resolve) => socket.addEventListener('open', resolve));
      const type = (text: string) => socket.send(new TextEncoder().encode(text));
      type('stty size; sleep 100\n');
      await waitUntil(async () => output.includes('30 90'), 10_000);
      type('\x03'); // Ctrl-C interrupts the sleep, not the shell
      socket.send(JSON.stringify({ type: 'resize', rows: 40, cols: 120 }));
      type('stty size; printf "\\033[31mred\\033[0m\\n"; exit 5\n');
      await closed;
      assert.match(output, /\^C/);
      assert.match(output, /40 120/);
      assert.ok(output.includes('\x1b[31mred\x1b[0m'), 'colours pass through');
      assert.equal(exit?.exitCode, 5);
    } finally {
      await alice.mags.sandboxes.delete('tty');
    }
  });
});
