// `npm run bench [section...]`: every section measures its baseline in the same run and prints
// ratios, because the machines are shared and noisy.
import { agentChangesBenchmark } from './agent-changes.ts';
import { dashboardBenchmark } from './dashboard.ts';
import { forwardBenchmark } from './forward.ts';
import { hardeningBenchmark } from './hardening.ts';
import { latencyBenchmark } from './latency.ts';
import { mcpBenchmark } from './mcp.ts';
import { plansBenchmark } from './plans.ts';
import { runtimesBenchmark } from './runtimes.ts';
import { sandboxStartBenchmark } from './sandbox-start.ts';
import { scaleBenchmark } from './scale.ts';
import { serverApiBenchmark } from './server-api.ts';
import { ticketsBenchmark } from './tickets.ts';
import { treeCopyBenchmark } from './tree-copy.ts';
import { urlBenchmark } from './url.ts';
import { workspaceForkBenchmark } from './workspace-fork.ts';
import { workspaceSyncBenchmark } from './workspace-sync.ts';

const sections: Record<string, () => Promise<void>> = {
  'sandbox-start': sandboxStartBenchmark,
  'workspace-sync': workspaceSyncBenchmark,
  'workspace-fork': workspaceForkBenchmark,
  'server-api': serverApiBenchmark,
  latency: latencyBenchmark,
  hardening: hardeningBenchmark,
  tickets: ticketsBenchmark,
  'agent-changes': agentChangesBenchmark,
  plans: plansBenchmark,
  dashboard: dashboardBenchmark,
  runtimes: runtimesBenchmark,
  url: urlBenchmark,
  cp: treeCopyBenchmark,
  scale: scaleBenchmark,
  forward: forwardBenchmark,
  mcp: mcpBenchmark,
};

const wanted = process.argv.slice(2);
for (const [name, run] of Object.entries(sections)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  await run();
}
