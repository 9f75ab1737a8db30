import { createTestHome, sandboxSkipReason } from '../test/helpers/test-home.ts';
import { filesApiCampaign } from './hardening-files.ts';
import { crossOwnerCampaign, fairnessCampaign } from './hardening-owners.ts';
import type { BenchHome } from './hardening-setup.ts';
import { byteNamesCampaign, diskQuotaCampaign, logQuotaCampaign } from './hardening-storage.ts';

/**
 * Issue 10's attack and fault campaign, rerun against the current code: one table per finding,
 * each figure beside a baseline of the same run and the issue's own figure from before the fix.
 * Every part gets its own MAGS_HOME and its own `mags server` process.
 */
export async function hardeningBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  if (skip) {
    process.stdout.write(`\n## hardening: skipped (${skip})\n`);
    return;
  }
  for (const campaign of [
    filesApiCampaign,
    crossOwnerCampaign,
    fairnessCampaign,
    logQuotaCampaign,
    diskQuotaCampaign,
    byteNamesCampaign,
  ]) {
    const testHome = await createTestHome();
    const home: BenchHome = {
      home: testHome.home,
      environment: { ...process.env, MAGS_HOME: testHome.home },
    };
    try {
      await campaign(home);
    } finally {
      await testHome.cleanup();
    }
  }
}
