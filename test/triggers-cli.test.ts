/**
 * `mags trigger` against a real server: add (a webhook: the secret and a signing example printed
 * once), list, show, fire with a payload file, history, pause, resume, remove; usage errors.
 * The signing example printed is run through openssl and curl's equivalent here (fetch), so it
 * is known to sign the way the server checks.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageRoot } from '../src/config/package-paths.ts';
import { projectRecord } from './helpers/project-record.ts';
import { runCli } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

describe('mags trigger (CLI against a server)', () => {
  let server: TestServer;
  let env: Record<string, string>;
  let home: string;
  before(async () => {
    // A model and a key (never used: no pool runs a ticket), so the template's ticket checks out.
    server = await startTestServer({
      scheduling: { poolSize: 0 },
      tickets: {
        environment: {
          MAGS_DEFAULT_MODEL: 'anthropic:claude-sonnet-4-5',
          ANTHROPIC_API_KEY: 'sk-ant-never-used',
        },
      },
    });
    home = server.testHome.home;
    const client = await server.client('alice');
    env = { MAGS_URL: server.url, MAGS_API_TOKEN: client.token };
    await server.server.services.repository.insertProject({
      ...projectRecord('app'),
      owner: 'alice',
    });
    await writeFile(
      join(home, 'ticket.md'),
      '---\ntitle: "Issue {{payload.issue.title}}"\ncriteria: [{text: done, check: "true"}]\n---\nLook at {{payload.issue.title}}.\n',
    );
    await writeFile(join(home, 'payload.json'), '{"issue":{"title":"broken"}}');
  });
  after(() => server?.close());

  const mags = async (...args: string[]) => {
    const result = await runCli(home, args, { env });
    return { code: result.code, stdout: result.stdout.toString(), stderr: result.stderr };
  };

  test('add, list, show, fire, history, pause, resume, remove', async () => {
    const added = await mags(
      'trigger',
      'add',
      'issues',
      '-p',
      'app',
      '--template',
      join(home, 'ticket.md'),
      '--webhook',
      '--dedupe-key',
      '{{payload.issue.title}}',
      '--max-concurrent',
      '5',
    );
    assert.equal(added.code, 0, added.stderr);
    const secret = /secret: (whsec_\S+)/.exec(added.stdout)?.[1];
    assert.ok(secret, added.stdout);
    assert.match(added.stdout, /openssl dgst -sha256 -hmac/);
    // The example's signature is the server's: openssl over "<ts>.<body>" with the secret.
    const body = '{"issue":{"title":"x"}}';
    const timestamp = String(Math.floor(Date.now() / 1000));
    const digest = execFileSync('openssl', ['dgst', '-sha256', '-hmac', secret], {
      input: `${timestamp}.${body}`,
      encoding: 'utf8',
    })
      .replace(/^.* /, '')
      .trim();
    const id = /\((trg_[^)]+)\)/.exec(added.stdout)?.[1] as string;
    const delivered = await fetch(`${server.url}/v1/hooks/${id}`, {
      method: 'POST',
      headers: {
        'x-mags-signature': `sha256=${digest}`,
        'x-mags-timestamp': timestamp,
        'x-mags-delivery': 'cli-1',
      },
      body,
    });
    assert.equal(delivered.status, 202, await delivered.text());

    const list = await mags('trigger', 'list');
    assert.match(list.stdout, /issues\s+trg_\S+\s+app\s+webhook/);
    assert.equal(list.stdout.includes(secret), false);
    const shown = await mags('trigger', 'show', 'issues', '--json');
    assert.equal(JSON.parse(shown.stdout).dedupeKey, '{{payload.issue.title}}');

    const fired = await mags('trigger', 'fire', 'issues', '--payload', join(home, 'payload.json'));
    assert.equal(fired.code, 0, fired.stdout);
    assert.match(fired.stdout, /^created tkt_/);
    const history = await mags('trigger', 'history', 'issues', '--json');
    const firings = JSON.parse(history.stdout) as Array<{ source: string; payload: unknown }>;
    assert.deepEqual(
      firings.map((firing) => firing.source),
      ['manual', 'webhook'],
    );
    assert.deepEqual(firings[0]?.payload, { issue: { title: 'broken' } });

    // A new secret, once: the old one's signatures are refused, the URL stays.
    const rotated = await mags('trigger', 'rotate-secret', 'issues');
    assert.equal(rotated.code, 0, rotated.stderr);
    const newSecret = /secret: (whsec_\S+)/.exec(rotated.stdout)?.[1];
    assert.ok(newSecret && newSecret !== secret, rotated.stdout);
    assert.ok(rotated.stdout.includes(`/v1/hooks/${id}`));
    assert.equal(rotated.stdout.includes(secret), false);
    assert.match(rotated.stdout, /-hmac "\$\(cat hook\.secret\)"/, 'no secret on a command line');
    const stale = await fetch(`${server.url}/v1/hooks/${id}`, {
      method: 'POST',
      headers: {
        'x-mags-signature': `sha256=${digest}`,
        'x-mags-timestamp': timestamp,
        'x-mags-delivery': 'cli-2',
      },
      body,
    });
    assert.equal(stale.status, 401);

    assert.match((await mags('trigger', 'pause', 'issues')).stdout, /issues \(trg_\S+\) paused/);
    // A manual fire is a test-fire: it works while paused, as cron's manual run (the dedupe key
    // of an empty payload is empty, so it is not merged into the open ticket).
    const tested = await mags('trigger', 'fire', 'issues');
    assert.match(tested.stdout, /^created tkt_/);
    assert.doesNotMatch((await mags('trigger', 'resume', 'issues')).stdout, /paused/);
    const removed = await mags('trigger', 'remove', 'issues');
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stderr, /trigger issues \(trg_\S+\) removed, with its history/);
    const gone = await mags('trigger', 'show', 'issues');
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /No trigger issues/);
  });

  test("add refuses a template whose ticket could never be created (no key for its model), with ticket create's hint", async () => {
    await writeFile(
      join(home, 'openai.md'),
      '---\ntitle: t\nmodel: openai:gpt-5\ncriteria: [{text: done, check: "true"}]\n---\nbody\n',
    );
    const refused = await mags(
      'trigger',
      'add',
      'nokey',
      '-p',
      'app',
      '--template',
      join(home, 'openai.md'),
      '--webhook',
    );
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /OPENAI_API_KEY/);
    assert.doesNotMatch((await mags('trigger', 'list')).stdout, /nokey/, 'nothing stored');
  });

  test('a reader that closes stdout early (mags trigger list | head -1): a quiet exit 0, no EPIPE stack', async () => {
    for (let index = 0; index < 30; index++) {
      await mags(
        'trigger',
        'add',
        `many-${index}`,
        '-p',
        'app',
        '--template',
        join(home, 'ticket.md'),
        '--webhook',
      );
    }
    const child = spawn(
      process.execPath,
      [join(packageRoot(), 'bin', 'mags.js'), 'trigger', 'list'],
      {
        env: { ...process.env, MAGS_HOME: home, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    // The reading end is closed before the CLI prints anything: each write then fails with EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = (await once(child, 'close')) as [number | null];
    assert.equal(stderr, '');
    assert.equal(code, 0);
    for (let index = 0; index < 30; index++) await mags('trigger', 'remove', `many-${index}`);
  });

  test('flags as cron and plans say them: --catch-up alone is once, --auto-approve', async () => {
    const added = await mags(
      'trigger',
      'add',
      'nightly',
      '-p',
      'app',
      '--template',
      join(home, 'ticket.md'),
      '--schedule',
      '@daily',
      '--timezone',
      'europe/berlin',
      '--catch-up',
      '--auto-approve',
      '--json',
    );
    assert.equal(added.code, 0, added.stderr);
    const { trigger } = JSON.parse(added.stdout) as {
      trigger: { schedule: { catchUp: string; timezone: string }; autoApprove: boolean };
    };
    assert.deepEqual(
      [trigger.schedule.catchUp, trigger.schedule.timezone, trigger.autoApprove],
      ['once', 'Europe/Berlin', true],
    );
    const bad = await mags(
      'trigger',
      'add',
      'x',
      '-p',
      'app',
      '--template',
      join(home, 'ticket.md'),
      '--schedule',
      '@daily',
      '--catch-up',
      'all',
    );
    assert.match(bad.stderr, /Invalid --catch-up "all"/);
    assert.equal((await mags('trigger', 'remove', 'nightly')).code, 0);
  });

  test('usage errors: no kind or two, a bad --on, a placeholder in a check', async () => {
    const template = join(home, 'ticket.md');
    const none = await mags('trigger', 'add', 'x', '-p', 'app', '--template', template);
    assert.match(none.stderr, /exactly one of --schedule, --webhook or --on/);
    const two = await mags(
      'trigger',
      'add',
      'x',
      '-p',
      'app',
      '--template',
      template,
      '--webhook',
      '--schedule',
      '* * * * *',
    );
    assert.match(two.stderr, /exactly one/);
    const badEvent = await mags(
      'trigger',
      'add',
      'x',
      '-p',
      'app',
      '--template',
      template,
      '--on',
      'job.done',
    );
    assert.match(badEvent.stderr, /--on job\.done: not an event/);
    const badCron = await mags(
      'trigger',
      'add',
      'x',
      '-p',
      'app',
      '--template',
      template,
      '--schedule',
      'every day',
    );
    assert.match(badCron.stderr, /is not a cron schedule/);
    await writeFile(
      join(home, 'evil.md'),
      '---\ntitle: t\ncriteria: [{text: done, check: "echo {{payload.cmd}}"}]\n---\nbody\n',
    );
    const evil = await mags(
      'trigger',
      'add',
      'x',
      '-p',
      'app',
      '--template',
      join(home, 'evil.md'),
      '--webhook',
    );
    assert.match(evil.stderr, /placeholder in criteria\.0\.check/);
    assert.match((await mags('trigger', 'list')).stdout, /^NAME/);
    assert.doesNotMatch((await mags('trigger', 'list')).stdout, /\bx\b/);
  });
});
