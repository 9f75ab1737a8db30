/**
 * Named skips for contract suites (Hono's `runTest({ skip: [{ reason, tests }] })`): an
 * implementation that cannot pass a test of a shared suite lists the test by its title with the
 * reason, and the suite reports it as skipped with that reason. A skip that names no test of the
 * suite fails the suite, so a renamed test cannot leave a stale skip that hides nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

export interface ContractSkip {
  /** Why the implementation cannot pass these tests, for whoever reads the test output. */
  reason: string;
  /** Test titles, exactly as the suite names them. */
  tests: string[];
}

export interface NamedSkips {
  /** The reason to skip `title`, or undefined to run it; records `title` as a test of the suite. */
  reasonFor(title: string): string | undefined;
  /** Registers the check that every skip names a test of the suite (call after the tests). */
  registerCheck(): void;
}

export function namedSkips(skips: ContractSkip[] = []): NamedSkips {
  const reasons = new Map<string, string>();
  for (const skip of skips) for (const title of skip.tests) reasons.set(title, skip.reason);
  const titles = new Set<string>();
  return {
    reasonFor(title) {
      titles.add(title);
      return reasons.get(title);
    },
    registerCheck() {
      test('every named skip names a test of this suite', () => {
        assert.deepEqual(
          [...reasons.keys()].filter((title) => !titles.has(title)),
          [],
        );
      });
    },
  };
}
