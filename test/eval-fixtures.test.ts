/**
 * The evaluation fixtures themselves (eval/fixtures): on a host copy of each repository, every
 * hidden FAIL_TO_PASS test fails and every PASS_TO_PASS test passes before the known fix; with
 * the fix applied all of them pass, the tests.json lists exactly the tests the hidden files hold,
 * and every criterion's check passes (while before the fix at least one fails, so an agent that
 * changes nothing cannot meet the ticket).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Fixture, type FixtureFile, loadFixtures } from '../eval/fixture.ts';
import { gradeWithHiddenTests, parseTapResults } from '../eval/grade.ts';
import { hostDirectorySandbox } from '../eval/host-directory-sandbox.ts';
import type { AgentSandbox } from '../src/agents/agent-sandbox.ts';

const fixtures = await loadFixtures();

test('there are at least six fixtures, JavaScript and TypeScript', () => {
  assert.ok(fixtures.length >= 6, `${fixtures.length} fixtures`);
  const sources = fixtures.flatMap((fixture) => fixture.repository.map((file) => file.path));
  assert.ok(sources.some((path) => path.startsWith('src/') && path.endsWith('.ts')));
  assert.ok(sources.some((path) => path.startsWith('src/') && path.endsWith('.js')));
});

for (const fixture of fixtures) {
  test(`fixture ${fixture.name}: hidden tests fail before the known fix and pass after it`, async (t) => {
    assert.ok(fixture.fix.length > 0, 'the fixture has a fix/ overlay');
    for (const file of fixture.fix) {
      const original = fixture.repository.find((candidate) => candidate.path === file.path);
      assert.notDeepEqual(original?.content, file.content, `${file.path} changes with the fix`);
    }
    assert.ok(
      fixture.repository.some((file) => file.path.startsWith('tests/')),
      'the repository has visible tests in tests/',
    );

    const before = await repositoryCopy(t, fixture.repository);
    const checksBefore = await runChecks(before.sandbox, fixture);
    assert.ok(
      checksBefore.some((exitCode) => exitCode !== 0),
      `some criterion's check fails before the fix (exit codes ${checksBefore.join(', ')})`,
    );
    const unfixed = await gradeWithHiddenTests(before.sandbox, fixture.hidden, {
      root: before.root,
    });
    const reported = parseTapResults(unfixed.log);
    for (const name of [...fixture.hidden.failToPass, ...fixture.hidden.passToPass]) {
      assert.ok(reported.has(name), `the hidden test "${name}" ran before the fix\n${unfixed.log}`);
    }
    assert.deepEqual(
      { grade: unfixed.grade, failToPass: unfixed.failToPass, passToPass: unfixed.passToPass },
      {
        grade: 'NO',
        failToPass: { passed: 0, total: fixture.hidden.failToPass.length },
        passToPass: {
          passed: fixture.hidden.passToPass.length,
          total: fixture.hidden.passToPass.length,
        },
      },
      unfixed.log,
    );

    const after = await repositoryCopy(t, overlay(fixture.repository, fixture.fix));
    const fixed = await gradeWithHiddenTests(after.sandbox, fixture.hidden, { root: after.root });
    assert.equal(fixed.grade, 'FULL', fixed.log);
    assert.deepEqual(
      [...parseTapResults(fixed.log).keys()].sort(),
      [...fixture.hidden.failToPass, ...fixture.hidden.passToPass].sort(),
      'tests.json lists exactly the hidden tests',
    );
    const checksAfter = await runChecks(after.sandbox, fixture);
    assert.deepEqual(
      checksAfter,
      fixture.ticket.criteria.map(() => 0),
      'every check passes after the fix',
    );
    const config = JSON.parse(await readFile(join(after.root, '.mags/project.json'), 'utf8'));
    const projectTest = await after.sandbox.exec(config.test, { timeoutMs: 60_000 });
    assert.equal(projectTest.exitCode, 0, projectTest.output);
  });
}

async function repositoryCopy(
  t: { after(callback: () => Promise<void>): void },
  files: FixtureFile[],
): Promise<{ root: string; sandbox: AgentSandbox }> {
  const root = await mkdtemp(join(tmpdir(), 'mags-eval-fixture-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const sandbox = hostDirectorySandbox(root);
  for (const file of files) await sandbox.writeFile(file.path, file.content);
  return { root, sandbox };
}

function overlay(files: FixtureFile[], fix: FixtureFile[]): FixtureFile[] {
  const byPath = new Map(files.map((file) => [file.path, file]));
  for (const file of fix) byPath.set(file.path, file);
  return [...byPath.values()];
}

async function runChecks(sandbox: AgentSandbox, fixture: Fixture): Promise<(number | null)[]> {
  const exitCodes: (number | null)[] = [];
  for (const criterion of fixture.ticket.criteria) {
    assert.ok(criterion.check, `every criterion of ${fixture.name} has a check`);
    exitCodes.push((await sandbox.exec(criterion.check, { timeoutMs: 60_000 })).exitCode);
  }
  return exitCodes;
}
