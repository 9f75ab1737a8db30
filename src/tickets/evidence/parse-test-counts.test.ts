/**
 * Test counts from each runner's summary, on output as the runners print it: node --test's own
 * (produced here, with each of its reporters), and the documented summaries of tape, vitest,
 * jest, pytest, mocha and JUnit XML writers (Maven Surefire, pytest --junitxml).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { capText } from './cap-text.ts';
import { parseTestCounts } from './parse-test-counts.ts';

describe('parseTestCounts: node --test, run here', () => {
  let directory: string;
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mags-test-counts-'));
    await writeFile(
      join(directory, 'sample.test.mjs'),
      `import { describe, test } from 'node:test';
import assert from 'node:assert';
test('passes', () => {});
test('fails', () => { assert.equal(1, 2); });
test('skipped', { skip: 'no network' }, () => {});
test('todo', { todo: true }, () => {});
describe('suite', () => { test('inner', () => {}); test('inner fails', () => { throw new Error('x'); }); });
`,
    );
  });
  after(() => rm(directory, { recursive: true, force: true }));

  // 6 tests: 2 pass (passes, inner), 2 fail, 1 skipped, 1 todo (counted as skipped).
  const expected = { passed: 2, failed: 2, skipped: 2 };
  for (const [reporter, format] of [
    ['spec', 'node'],
    ['tap', 'tap'],
    ['junit', 'junit'],
  ] as const) {
    test(`the ${reporter} reporter`, async () => {
      const output = await new Promise<string>((resolve) => {
        execFile(
          process.execPath,
          ['--test', `--test-reporter=${reporter}`, 'sample.test.mjs'],
          { cwd: directory, env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
          (_error, stdout, stderr) => resolve(stdout + stderr),
        );
      });
      assert.deepEqual(parseTestCounts(output), { ...expected, format }, output);
    });
  }
});

describe('parseTestCounts: documented summaries', () => {
  test('tape (TAP with "# pass  N" comments)', () => {
    const log = `TAP version 13
# beep
ok 1 should be strictly equal
not ok 2 should be strictly equal
  ---
    operator: equal
    expected: 2
    actual:   3
  ...

1..2
# tests 2
# pass  1
# fail  1
`;
    assert.deepEqual(parseTestCounts(log), { passed: 1, failed: 1, skipped: 0, format: 'tap' });
  });

  test('TAP without a summary: its ok / not ok lines, SKIP and TODO directives', () => {
    const log = `TAP version 14
1..4
ok 1 - adds
not ok 2 - subtracts
ok 3 - fetches # SKIP no network
not ok 4 - divides # TODO later
`;
    assert.deepEqual(parseTestCounts(log), { passed: 1, failed: 1, skipped: 2, format: 'tap' });
  });

  test('vitest, plain and in colour', () => {
    const plain = ` ✓ src/basic.test.ts (4 tests) 2ms
 ❯ src/failing.test.ts (3 tests | 1 failed | 1 skipped) 4ms

 Test Files  1 failed | 1 passed (2)
      Tests  1 failed | 5 passed | 1 skipped (7)
   Start at  12:34:56
   Duration  350ms (transform 20ms, setup 0ms, collect 30ms, tests 6ms)
`;
    assert.deepEqual(parseTestCounts(plain), {
      passed: 5,
      failed: 1,
      skipped: 1,
      format: 'vitest',
    });
    const coloured =
      '\x1b[2m Test Files \x1b[22m \x1b[1m\x1b[32m1 passed\x1b[39m\x1b[22m\x1b[90m (1)\x1b[39m\n' +
      '\x1b[2m      Tests \x1b[22m \x1b[1m\x1b[32m3 passed\x1b[39m\x1b[22m\x1b[90m (3)\x1b[39m\n';
    assert.deepEqual(parseTestCounts(coloured), {
      passed: 3,
      failed: 0,
      skipped: 0,
      format: 'vitest',
    });
  });

  test('jest', () => {
    const log = `PASS  src/sum.test.js
FAIL  src/other.test.js
  ● other › fails

Test Suites: 1 failed, 1 passed, 2 total
Tests:       1 failed, 1 skipped, 3 passed, 5 total
Snapshots:   0 total
Time:        1.234 s
Ran all test suites.
`;
    assert.deepEqual(parseTestCounts(log), { passed: 3, failed: 1, skipped: 1, format: 'jest' });
  });

  test('pytest, with the rules and with -q', () => {
    const log = `============================= test session starts ==============================
platform linux -- Python 3.11.2, pytest-7.2.1, pluggy-1.0.0
rootdir: /workspace
collected 6 items

test_sample.py ..F.sE                                                    [100%]

=========================== short test summary info ============================
FAILED test_sample.py::test_answer - assert 4 == 5
ERROR test_sample.py::test_fixture - fixture 'db' not found
============= 1 failed, 3 passed, 1 skipped, 1 error in 0.12s =============
`;
    assert.deepEqual(parseTestCounts(log), { passed: 3, failed: 2, skipped: 1, format: 'pytest' });
    assert.deepEqual(parseTestCounts('..F.\n1 failed, 3 passed, 2 warnings in 0.05s\n'), {
      passed: 3,
      failed: 1,
      skipped: 0,
      format: 'pytest',
    });
  });

  test('mocha', () => {
    const log = `
  Array
    #indexOf()
      ✓ should return -1 when the value is not present
      ✓ should return the index
      1) should fail
      - pending test


  2 passing (9ms)
  1 pending
  1 failing

  1) Array
       #indexOf()
         should fail:
     AssertionError [ERR_ASSERTION]: expected 1 to equal 2
`;
    assert.deepEqual(parseTestCounts(log), { passed: 2, failed: 1, skipped: 1, format: 'mocha' });
  });

  test('JUnit XML: the suites attributes summed across reports', () => {
    const log = `[INFO] Running com.example.AppTest
<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.example.AppTest" tests="4" failures="1" errors="1" skipped="1" time="0.02">
  <testcase name="adds" classname="com.example.AppTest" time="0.001"/>
  <testcase name="fails" classname="com.example.AppTest"><failure message="expected 2">trace</failure></testcase>
  <testcase name="breaks" classname="com.example.AppTest"><error type="NullPointerException"/></testcase>
  <testcase name="skips" classname="com.example.AppTest"><skipped/></testcase>
</testsuite>
<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="3" time="0.05"><testcase classname="t" name="a"/><testcase classname="t" name="b"/><testcase classname="t" name="c"/></testsuite></testsuites>
`;
    assert.deepEqual(parseTestCounts(log), { passed: 4, failed: 2, skipped: 1, format: 'junit' });
  });

  test('JUnit XML without counts on its suites: the test cases counted one by one', () => {
    const log = `<testsuites><testsuite name="s">
<testcase name="a"/><testcase name="b"><failure/></testcase><testcase name="c"><skipped/></testcase>
</testsuite></testsuites>`;
    assert.deepEqual(parseTestCounts(log), { passed: 1, failed: 1, skipped: 1, format: 'junit' });
  });

  test('nothing recognisable is null', () => {
    assert.equal(parseTestCounts(''), null);
    assert.equal(parseTestCounts('npm error Missing script: "test"\n'), null);
    assert.equal(parseTestCounts('Building...\ndone in 3 passes\n# Heading\n'), null);
  });
});

describe('capText', () => {
  test('short text is kept whole; long text keeps its head and tail with a note', () => {
    assert.equal(capText('hello', 10), 'hello');
    const long = `${'a'.repeat(1000)}SUMMARY`;
    const capped = capText(long, 100);
    assert.ok(capped.endsWith('SUMMARY'), capped);
    assert.ok(capped.startsWith('a'.repeat(25)));
    assert.match(capped, /\[… 907 bytes cut; 1007 bytes in all …\]/);
  });
});
