/**
 * SWE-bench's grading: FULL when every FAIL_TO_PASS and every PASS_TO_PASS test passes, PARTIAL
 * when some (not all) FAIL_TO_PASS pass and every PASS_TO_PASS still passes, NO otherwise (a
 * broken PASS_TO_PASS test makes it NO whatever else passed).
 */
import type { AgentSandbox } from '../src/agents/agent-sandbox.ts';
import type { HiddenTests } from './fixture.ts';

export type Grade = 'FULL' | 'PARTIAL' | 'NO';

export interface GradeResult {
  grade: Grade;
  failToPass: { passed: number; total: number };
  passToPass: { passed: number; total: number };
  /** Listed tests that did not pass (failed, or never reported: a file that did not load). */
  failing: string[];
  /** The test run's TAP output, for a person to read. */
  log: string;
}

/**
 * Results of the top-level tests in `node --test --test-reporter=tap` output: `ok N - name` and
 * `not ok N - name` at the start of a line (subtests are indented). A name that appears twice
 * passes only if it passed every time.
 */
export function parseTapResults(tap: string): Map<string, boolean> {
  const results = new Map<string, boolean>();
  for (const line of tap.split('\n')) {
    const match = /^(not ok|ok) \d+ - (.*?)(?: # (?:SKIP|TODO)\b.*)?$/.exec(line);
    if (!match) continue;
    // TAP escapes `#` and `\` in names with a backslash (node's tap reporter does).
    const name = (match[2] ?? '').replace(/\\([#\\])/g, '$1');
    const passed = match[1] === 'ok';
    results.set(name, (results.get(name) ?? true) && passed);
  }
  return results;
}

export function gradeResults(
  tests: Pick<HiddenTests, 'failToPass' | 'passToPass'>,
  results: Map<string, boolean>,
  log = '',
): GradeResult {
  const passes = (name: string) => results.get(name) === true;
  const failToPass = tests.failToPass.filter(passes).length;
  const passToPass = tests.passToPass.filter(passes).length;
  const allPassToPass = passToPass === tests.passToPass.length;
  const grade: Grade =
    allPassToPass && failToPass === tests.failToPass.length
      ? 'FULL'
      : allPassToPass && failToPass > 0
        ? 'PARTIAL'
        : 'NO';
  return {
    grade,
    failToPass: { passed: failToPass, total: tests.failToPass.length },
    passToPass: { passed: passToPass, total: tests.passToPass.length },
    failing: [...tests.failToPass, ...tests.passToPass].filter((name) => !passes(name)),
    log,
  };
}

/** How long the hidden tests may run: an agent's change can make them hang. */
export const hiddenTestsTimeoutMs = 60_000;

/**
 * Copies the hidden tests into the repository (at /workspace, or `root`) and runs them there, in
 * whatever `sandbox` is: the ticket's sandbox after its agent has ended, or a host directory for
 * the fixtures' own check.
 */
export async function gradeWithHiddenTests(
  sandbox: Pick<AgentSandbox, 'exec' | 'writeFile'>,
  hidden: HiddenTests,
  options: { root?: string } = {},
): Promise<GradeResult> {
  const root = options.root ?? '/workspace';
  for (const file of hidden.files) await sandbox.writeFile(`${root}/${file.path}`, file.content);
  const paths = hidden.files.map((file) => quoteShell(file.path)).join(' ');
  const result = await sandbox.exec(`node --test --test-reporter=tap ${paths}`, {
    timeoutMs: hiddenTestsTimeoutMs,
    cwd: root,
  });
  const log = result.timedOut
    ? `${result.output}\n(the hidden tests were stopped after ${hiddenTestsTimeoutMs} ms)`
    : result.output;
  return gradeResults(hidden, parseTapResults(result.output), log);
}

function quoteShell(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
