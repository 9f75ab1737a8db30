import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Command } from 'commander';
import { InvalidInputError, NotFoundError } from '../../errors/mags-error.ts';
import { localServerFile } from './local-server.ts';
import { withLocalServerEnvironmentHint } from './local-server-environment.ts';

// A stand-in for this host's local server: it only has to answer /health.
const server = createServer((_request, response) => response.end('{"ok":true}'));
let home: string;
const saved = { ...process.env };

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'mags-test-local-environment-'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const address = { url: `http://127.0.0.1:${port}`, token: 'mags_x', pid: 4242 };
  await writeFile(localServerFile(home), JSON.stringify(address));
  process.env.MAGS_HOME = home;
  process.env.XDG_CONFIG_HOME = home;
  delete process.env.MAGS_URL;
});
after(async () => {
  process.env = saved;
  server.close();
  await rm(home, { recursive: true, force: true });
});

const keyMissing = () =>
  new InvalidInputError(
    'The model anthropic:x needs a key in ANTHROPIC_API_KEY, which is not set.',
    {
      code: 'model_key_missing',
      hint: "Set ANTHROPIC_API_KEY in the server's environment.",
    },
  );

test('a key set in the shell after the local server started: the hint says to stop it', async () => {
  const error = await withLocalServerEnvironmentHint(keyMissing(), new Command(), {
    ANTHROPIC_API_KEY: 'sk-set-here',
  });
  assert.ok(error instanceof InvalidInputError);
  assert.equal(error.code, 'model_key_missing');
  assert.equal(error.message, keyMissing().message);
  assert.match(
    error.hint ?? '',
    /^ANTHROPIC_API_KEY is set in this shell, but this host's local server \(pid 4242\) started before it was.*stop it \(mags server stop\)/,
  );
});

test('a key set nowhere: the server hint stays, with how the local server gets it', async () => {
  const error = await withLocalServerEnvironmentHint(keyMissing(), new Command(), {});
  assert.ok(error instanceof InvalidInputError);
  assert.match(
    error.hint ?? '',
    /^Set ANTHROPIC_API_KEY in the server's environment\. This host's local server \(pid 4242\) keeps the environment/,
  );
});

test('other errors, and a remote server, are left as they are', async () => {
  const other = new NotFoundError('No ticket "x".', { code: 'ticket_not_found' });
  assert.equal(await withLocalServerEnvironmentHint(other, new Command(), {}), other);
  const remote = new Command().option('--url <url>');
  remote.setOptionValue('url', 'http://127.0.0.1:9');
  const error = keyMissing();
  assert.equal(
    await withLocalServerEnvironmentHint(error, remote, { ANTHROPIC_API_KEY: 'sk' }),
    error,
  );
});
