/**
 * Streamed file reads against the real guest agent binary on a socketpair (no sandbox): the size
 * announced before any data, refusal of everything that is not a regular file, the size limit,
 * a growing file cut at its announced size, and cancelled reads freeing the agent's file slots.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { after, afterEach, before, describe, test } from 'node:test';
import { nativeBinaryPath } from '../config/package-paths.ts';
import { GuestClient } from './guest-client.ts';

const agentPath = nativeBinaryPath('mags-agent');
const skip = existsSync(agentPath)
  ? undefined
  : 'native/build/mags-agent not built: run npm run build';
if (skip) process.stdout.write(`# skipping guest agent file-read tests: ${skip}\n`);

/** The agent's MAX_FILES (native/agent.c): more cancelled reads than this must not exhaust it. */
const agentFileSlots = 64;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('guest agent: streamed file reads', { skip, timeout: 60_000 }, () => {
  const agents: ChildProcess[] = [];
  let directory = '';
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mags-agent-read-'));
  });
  after(() => rm(directory, { recursive: true, force: true }));
  afterEach(() => {
    for (const agent of agents.splice(0)) agent.kill('SIGKILL');
  });

  const client = () => {
    const agent = spawn(agentPath, ['--fd', '3'], {
      stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
    });
    agents.push(agent);
    return GuestClient.connect(agent.stdio[3] as Duplex);
  };

  test('the size and mode come first, then exactly that many bytes', async () => {
    const guest = await client();
    const path = join(directory, 'data.bin');
    const data = randomBytes(3 * 1024 * 1024 + 5);
    await writeFile(path, data, { mode: 0o640 });
    const file = await guest.readFileStream(path);
    assert.equal(file.sizeBytes, data.length);
    assert.equal(file.mode & 0o7777, 0o640);
    assert.ok((await readAll(file.stream)).equals(data));
    const empty = join(directory, 'empty');
    await writeFile(empty, '');
    assert.equal((await guest.readFile(empty)).length, 0);
  });

  test('directories, devices, FIFOs and sockets are refused at once with a 400', async () => {
    const guest = await client();
    const fifo = join(directory, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const socketPath = join(directory, 'socket');
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(socketPath, resolve));
    try {
      const refusals: [string, string, RegExp][] = [
        [directory, 'is_a_directory', /Is a directory/],
        ['/dev/zero', 'not_a_regular_file', /a character device/],
        [fifo, 'not_a_regular_file', /a FIFO/],
        [socketPath, 'not_a_regular_file', /No such device|socket/],
      ];
      for (const [path, code, message] of refusals) {
        await assert.rejects(
          guest.readFileStream(path),
          (error: Error & { statusCode?: number }) => {
            assert.equal((error as { code?: string }).code, code, path);
            assert.equal(error.statusCode, 400, path);
            assert.match(error.message, message, path);
            return true;
          },
        );
      }
      // A FIFO without a writer did not block the single-threaded agent.
      assert.ok((await guest.ping()) >= 0);
    } finally {
      listener.close();
    }
  });

  test('a missing file is a 404, a name over NAME_MAX a 400', async () => {
    const guest = await client();
    await assert.rejects(guest.readFileStream(join(directory, 'missing')), {
      code: 'file_not_found',
      statusCode: 404,
    });
    await assert.rejects(guest.readFileStream(join(directory, 'x'.repeat(300))), {
      code: 'name_too_long',
      statusCode: 400,
    });
  });

  test('over maxBytes is a 413 before any data, and the agent carries on', async () => {
    const guest = await client();
    const path = join(directory, 'large.bin');
    await writeFile(path, Buffer.alloc(2 * 1024 * 1024));
    await assert.rejects(guest.readFileStream(path, { maxBytes: 1024 * 1024 }), {
      code: 'file_too_large',
      statusCode: 413,
    });
    assert.equal((await guest.readFile(path)).length, 2 * 1024 * 1024);
  });

  test('a file that grows while it is read is cut at the size announced', async () => {
    const guest = await client();
    const path = join(directory, 'growing.log');
    const first = randomBytes(3 * 1024 * 1024);
    await writeFile(path, first);
    // The agent sends one flow-control window, then waits for the reader: the file grows then.
    const file = await guest.readFileStream(path);
    await appendFile(path, randomBytes(2 * 1024 * 1024));
    assert.equal(file.sizeBytes, first.length);
    assert.ok((await readAll(file.stream)).equals(first));
  });

  test('cancelled reads free their file slots: 70 aborted, then a read still works', async () => {
    const guest = await client();
    const path = join(directory, 'slots', 'big.bin');
    await mkdir(join(directory, 'slots'));
    await writeFile(path, Buffer.alloc(8 * 1024 * 1024));
    for (let index = 0; index < agentFileSlots + 6; index++) {
      const file = await guest.readFileStream(path);
      await new Promise<void>((resolve) => file.stream.once('data', () => resolve()));
      file.stream.destroy(); // a client that went away mid-download
    }
    const small = join(directory, 'slots', 'small.txt');
    await writeFile(small, 'still served\n');
    assert.equal((await guest.readFile(small)).toString(), 'still served\n');
  });
});
