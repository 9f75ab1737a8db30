/**
 * `npm run bench plans` (issue 13): the git work of a plan (`plans-git.ts`) and a whole plan run
 * with scripted models (`plans-run.ts`).
 */
import { planGitBenchmark } from './plans-git.ts';
import { planRunBenchmark } from './plans-run.ts';

export async function plansBenchmark(): Promise<void> {
  await planRunBenchmark();
  await planGitBenchmark();
}
