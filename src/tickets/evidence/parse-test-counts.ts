/**
 * Pass/fail counts from a test command's output, for the formats test runners print: TAP's
 * summary comments (node --test's TAP reporter, tape), node --test's spec reporter (`ℹ pass 3`),
 * JUnit XML, vitest, jest, pytest and mocha summaries. Null when nothing is recognisable: the raw
 * log is what a person reads then.
 */
import { stripVTControlCharacters } from 'node:util';

export interface TestCounts {
  passed: number;
  failed: number;
  skipped: number;
  /** tap, node, junit, vitest, jest, pytest, mocha. */
  format: string;
}

/** The readers in order: the most specific first (a JUnit report may sit in a log with TAP). */
const readers: Array<(log: string) => TestCounts | null> = [
  readJunit,
  readNodeSpec,
  readTapSummary,
  readVitest,
  readJest,
  readPytest,
  readMocha,
  readTapLines,
];

export function parseTestCounts(log: string): TestCounts | null {
  const plain = stripVTControlCharacters(log).replaceAll('\r\n', '\n');
  for (const read of readers) {
    const counts = read(plain);
    if (counts) return counts;
  }
  return null;
}

/** The value of each `label N` line (the last one wins: a summary comes at the end). */
function labelled(log: string, prefix: string): Map<string, number> {
  const values = new Map<string, number>();
  const pattern = new RegExp(`^${prefix}(\\w+)\\s+(\\d+(?:\\.\\d+)?)\\s*$`, 'gm');
  for (const match of log.matchAll(pattern)) {
    values.set(match[1] as string, Number(match[2]));
  }
  return values;
}

/** node --test's spec reporter: `ℹ tests 5`, `ℹ pass 2`, `ℹ fail 1`, `ℹ skipped 1`, `ℹ todo 1`. */
function readNodeSpec(log: string): TestCounts | null {
  const values = labelled(log, 'ℹ ');
  return fromNodeLabels(values, 'node');
}

/** TAP's summary comments, as node --test (`# pass 2`) and tape (`# pass  2`) print them. */
function readTapSummary(log: string): TestCounts | null {
  return fromNodeLabels(labelled(log, '# '), 'tap');
}

function fromNodeLabels(values: Map<string, number>, format: string): TestCounts | null {
  const passed = values.get('pass');
  const failed = values.get('fail');
  if (passed === undefined && failed === undefined) return null;
  // node counts a cancelled test (a timeout, a parent that failed) as a failure in its exit code.
  return {
    passed: passed ?? 0,
    failed: (failed ?? 0) + (values.get('cancelled') ?? 0),
    skipped: (values.get('skipped') ?? values.get('skip') ?? 0) + (values.get('todo') ?? 0),
    format,
  };
}

/** Plain TAP without a summary: its top-level `ok` / `not ok` lines, `# SKIP`/`# TODO` skipped. */
function readTapLines(log: string): TestCounts | null {
  if (!/^TAP version \d+|^1\.\.\d+/m.test(log)) return null;
  const counts = { passed: 0, failed: 0, skipped: 0, format: 'tap' };
  for (const match of log.matchAll(/^(not )?ok\b[^\n#]*(#\s*(\w+))?/gm)) {
    const directive = match[3]?.toUpperCase();
    if (directive === 'SKIP' || directive === 'TODO') counts.skipped += 1;
    else if (match[1]) counts.failed += 1;
    else counts.passed += 1;
  }
  return counts.passed + counts.failed + counts.skipped > 0 ? counts : null;
}

/**
 * JUnit XML: the outermost `<testsuite>` elements' `tests`, `failures`, `errors` and `skipped`
 * attributes, summed; test cases outside any counted suite (node --test's JUnit reporter puts
 * top-level tests straight under `<testsuites>`) are counted one by one from their children.
 */
function readJunit(log: string): TestCounts | null {
  const tagPattern = /<(\/?)(testsuite|testcase|failure|error|skipped)\b([^>]*?)(\/?)>/g;
  const counts = { passed: 0, failed: 0, skipped: 0, format: 'junit' };
  // For each open suite: whether its attributes were counted (then its cases are not).
  const suites: boolean[] = [];
  let found = false;
  // The test case being read: whether it counts (no counted suite around it) and how it ended.
  const testCase = {
    open: false,
    counted: false,
    status: 'passed' as 'passed' | 'failed' | 'skipped',
  };
  const closeCase = () => {
    if (testCase.open && testCase.counted) counts[testCase.status] += 1;
    testCase.open = false;
  };
  for (const match of log.matchAll(tagPattern)) {
    const [, closing, name, attributes = '', selfClosing] = match;
    if (name === 'testsuite') {
      if (closing) {
        suites.pop();
        continue;
      }
      const counted = suites.includes(true);
      const tests = attribute(attributes, 'tests');
      const countsHere = !counted && tests !== undefined;
      if (countsHere) {
        const failed =
          (attribute(attributes, 'failures') ?? 0) + (attribute(attributes, 'errors') ?? 0);
        const skipped = attribute(attributes, 'skipped') ?? attribute(attributes, 'disabled') ?? 0;
        counts.failed += failed;
        counts.skipped += skipped;
        counts.passed += Math.max(0, tests - failed - skipped);
        found = true;
      }
      if (!selfClosing) suites.push(countsHere);
    } else if (name === 'testcase') {
      closeCase();
      if (closing) continue;
      Object.assign(testCase, { open: true, counted: !suites.includes(true), status: 'passed' });
      if (testCase.counted) found = true;
      if (selfClosing) closeCase();
    } else if (testCase.open && !closing) {
      // <skipped/> marks a skip; <failure> or <error> a failure (which wins over a skip).
      if (name !== 'skipped') testCase.status = 'failed';
      else if (testCase.status === 'passed') testCase.status = 'skipped';
    }
  }
  closeCase();
  return found ? counts : null;
}

function attribute(attributes: string, name: string): number | undefined {
  const match = new RegExp(`\\b${name}\\s*=\\s*["'](\\d+)["']`).exec(attributes);
  return match ? Number(match[1]) : undefined;
}

/** vitest: ` Tests  3 passed | 1 failed | 1 skipped (5)` (not ` Test Files  ...`). */
function readVitest(log: string): TestCounts | null {
  const line = lastMatch(log, /^\s*Tests\s{2,}(\d+ \w+(?: \| \d+ \w+)*)\s*(?:\(\d+\))?\s*$/gm);
  if (!line) return null;
  const words = countWords(line);
  return {
    passed: words.get('passed') ?? 0,
    failed: words.get('failed') ?? 0,
    skipped: (words.get('skipped') ?? 0) + (words.get('todo') ?? 0),
    format: 'vitest',
  };
}

/** jest: `Tests:       1 failed, 1 skipped, 3 passed, 5 total`. */
function readJest(log: string): TestCounts | null {
  const line = lastMatch(log, /^\s*Tests:\s+(.*\d+ total)\s*$/gm);
  if (!line) return null;
  const words = countWords(line);
  return {
    passed: words.get('passed') ?? 0,
    failed: words.get('failed') ?? 0,
    skipped: (words.get('skipped') ?? 0) + (words.get('todo') ?? 0) + (words.get('pending') ?? 0),
    format: 'jest',
  };
}

/** pytest: `==== 3 passed, 1 failed, 2 skipped in 0.12s ====` (or without the rules, with -q). */
function readPytest(log: string): TestCounts | null {
  const line = lastMatch(
    log,
    /^=*\s*((?:\d+ (?:passed|failed|skipped|errors?|xfailed|xpassed|deselected|warnings?|rerun)(?:, )?)+) in [\d.]+\s*(?:s|seconds)\b.*$/gm,
  );
  if (!line) return null;
  const words = countWords(line);
  return {
    passed: (words.get('passed') ?? 0) + (words.get('xpassed') ?? 0),
    failed: (words.get('failed') ?? 0) + (words.get('error') ?? 0) + (words.get('errors') ?? 0),
    skipped: (words.get('skipped') ?? 0) + (words.get('xfailed') ?? 0),
    format: 'pytest',
  };
}

/** mocha's spec reporter: `  3 passing (12ms)`, `  1 pending`, `  1 failing`. */
function readMocha(log: string): TestCounts | null {
  const passing = lastMatch(log, /^\s*(\d+) passing\b/gm);
  const failing = lastMatch(log, /^\s*(\d+) failing\s*$/gm);
  if (passing === undefined && failing === undefined) return null;
  return {
    passed: Number(passing ?? 0),
    failed: Number(failing ?? 0),
    skipped: Number(lastMatch(log, /^\s*(\d+) pending\s*$/gm) ?? 0),
    format: 'mocha',
  };
}

function lastMatch(log: string, pattern: RegExp): string | undefined {
  let last: string | undefined;
  for (const match of log.matchAll(pattern)) last = match[1];
  return last;
}

/** `3 passed | 1 failed` or `1 failed, 3 passed` → { passed: 3, failed: 1 }. */
function countWords(text: string): Map<string, number> {
  const words = new Map<string, number>();
  for (const match of text.matchAll(/(\d+) (\w+)/g)) {
    words.set(match[2] as string, (words.get(match[2] as string) ?? 0) + Number(match[1]));
  }
  return words;
}
