/**
 * What `mags plan` says before it asks a server anything (the URL given points at nothing):
 * a plan file's graph problems with the file and line, no editor without a terminal refused,
 * help with examples and the flags named as `mags ticket` names them.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestHome, runCli, type TestHome } from './helpers/test-home.ts';

const nowhere = ['--url', 'http://127.0.0.1:9'];

const ticket = (key: string, dependsOn = '') =>
  `  - key: ${key}\n    title: t\n    request: r\n    criteria: [{ text: c }]\n${dependsOn ? `    dependsOn: [${dependsOn}]\n` : ''}`;

describe('mags plan, before the server', () => {
  let testHome: TestHome;
  before(async () => {
    testHome = await createTestHome();
  });
  after(() => testHome.cleanup());

  test('plan create --file: a cycle, an unknown dependency, a duplicate key name the file and line', async () => {
    const cases: Array<[string, string, RegExp]> = [
      [
        'cycle.yaml',
        ticket('a', 'b') + ticket('b', 'a'),
        /cycle\.yaml, line 3: tickets\[0\]: .*a → b → a/,
      ],
      [
        'unknown.yaml',
        ticket('a') + ticket('b', 'c'),
        /unknown\.yaml, line 11: tickets\[1\]\.dependsOn\[0\]: Ticket b depends on c/,
      ],
      [
        'twice.yaml',
        ticket('a') + ticket('a'),
        /twice\.yaml, line 7: tickets\[1\]\.key: Two tickets have the key a\.\n {2}hint: Each ticket needs a key of its own/,
      ],
    ];
    for (const [name, tickets, expected] of cases) {
      const path = join(testHome.home, name);
      await writeFile(path, `summary: s\ntickets:\n${tickets}`);
      const result = await runCli(testHome.home, [
        ...nowhere,
        'plan',
        'create',
        '-p',
        'app',
        '--file',
        path,
      ]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, expected);
      assert.doesNotMatch(
        result.stderr,
        /127\.0\.0\.1:9|ECONNREFUSED/,
        'refused before any request',
      );
    }
  });

  test('plan edit with no VISUAL or EDITOR and stdin not a terminal: refused, vi not started', async () => {
    const env = { VISUAL: '', EDITOR: '' };
    const result = await runCli(testHome.home, [...nowhere, 'plan', 'edit', 'pln_x'], { env });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /No editor: .*\n {2}hint: Set EDITOR .*or use --file/);
  });

  test('plan help: examples; the wall-time flag is --max-time as for tickets (--max-wall hidden), retry takes it', async () => {
    const help = await runCli(testHome.home, ['plan', '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout.toString(), /\nExamples:\n {2}\$ mags plan create -p app/);
    const create = (await runCli(testHome.home, ['plan', 'create', '--help'])).stdout.toString();
    assert.match(create, /--max-time <duration>/);
    assert.doesNotMatch(create, /--max-wall/);
    assert.match(create, /\nExamples:\n/);
    const retry = (await runCli(testHome.home, ['plan', 'retry', '--help'])).stdout.toString();
    assert.match(retry, /--max-time <duration>/);
    for (const sub of [
      'list',
      'show',
      'edit',
      'approve',
      'watch',
      'stop',
      'close',
      'evidence',
      'apply',
    ]) {
      const text = (await runCli(testHome.home, ['plan', sub, '--help'])).stdout.toString();
      assert.match(text, /\nExamples:\n {2}\$ /, `mags plan ${sub} --help`);
    }
    const wall = await runCli(testHome.home, [
      ...nowhere,
      'plan',
      'create',
      '-p',
      'app',
      'x',
      '--max-wall',
      'forever',
    ]);
    assert.match(wall.stderr, /Invalid --max-wall "forever"/, 'the old name still parses');
  });
});
