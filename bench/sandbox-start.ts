import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { packageRoot } from '../src/config/package-paths.ts';
import { createMagsContext } from '../src/context/mags-context.ts';
import { runCommand } from '../src/jobs/run-command.ts';
import { createTestHome, sandboxSkipReason } from '../test/helpers/test-home.ts';
import { measureFloors, spawnOrThrow } from './floors.ts';
import { measure, printTable } from './stats.ts';

const iterations = Number(process.env.MAGS_BENCH_ITERATIONS ?? 30);

/** Issue 2: start-to-exit of `true` in a sandbox, in-process and through the CLI, beside the floors. */
export async function sandboxStartBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  if (skip) {
    process.stdout.write(`\n## sandbox start: skipped (${skip})\n`);
    return;
  }
  const testHome = await createTestHome();
  const environment = { ...process.env, MAGS_HOME: testHome.home };
  const context = createMagsContext(environment);
  const sink = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const run = (workspace?: string) =>
    runCommand(context, {
      argv: ['true'],
      workspace,
      timeoutMs: 60_000,
      limits: context.defaults.limits,
      network: false,
      image: 'default',
      stdout: sink(),
      stderr: sink(),
    });
  const workspace = `bench-${randomBytes(3).toString('hex')}`;
  await run(workspace);
  const cli = join(packageRoot(), 'bin', 'mags.js');
  try {
    const { bwrap, node } = await measureFloors(iterations);
    const runtimeCold = await measure(
      'runtime API: run true (fresh layer)',
      iterations,
      async () => {
        await run();
      },
    );
    const runtimeWorkspace = await measure('runtime API: run -w W true', iterations, async () => {
      await run(workspace);
    });
    const cliCold = await measure("mags run 'true'", iterations, () =>
      spawnOrThrow(process.execPath, [cli, 'run', 'true'], environment),
    );
    const cliWorkspace = await measure("mags run -w W 'true'", iterations, () =>
      spawnOrThrow(process.execPath, [cli, 'run', '-w', workspace, 'true'], environment),
    );
    printTable(`sandbox start (Node ${process.versions.node}, ${iterations} runs each)`, [
      { summary: bwrap },
      { summary: node },
      { summary: runtimeCold, floor: bwrap, target: '≤ 10× bwrap' },
      { summary: runtimeWorkspace, floor: bwrap, target: '≤ 10× bwrap' },
      { summary: cliCold, floor: node, target: '≤ 2.5× node -e 0' },
      { summary: cliWorkspace, floor: node, target: '≤ 2.5× node -e 0' },
    ]);
  } finally {
    await testHome.cleanup();
  }
}
