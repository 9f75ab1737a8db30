/**
 * `npm run bench plans` (issue 13): the git work of a plan (`plans-git.ts`) and a whole plan run
 * with scripted models (`plans-run.ts`), and a webhook's time to its ticket's first command
 * (`plans-webhook.ts`).
 */
import { planGitBenchmark } from './plans-git.ts';
import { planRunBenchmark } from './plans-run.ts';
import { planWebhookBenchmark } from './plans-webhook.ts';

export async function plansBenchmark(): Promise<void> {
  await planRunBenchmark();
  await planGitBenchmark();
  await planWebhookBenchmark();
}
