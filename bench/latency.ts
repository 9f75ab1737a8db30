import { type ChildProcess, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageRoot } from '../src/config/package-paths.ts';
import { createMagsContext } from '../src/context/mags-context.ts';
import { runCommand } from '../src/jobs/run-command.ts';
import { Mags } from '../src/sdk/mags.ts';
import { startServerProcess, stopServerProcess } from '../test/helpers/server-process.ts';
import { createTestHome, sandboxSkipReason } from '../test/helpers/test-home.ts';
import { hostPool } from '../test/helpers/test-server.ts';
import { measureFloors, spawnOrThrow } from './floors.ts';
import { measure, printTable, type Summary } from './stats.ts';

const iterations = Number(process.env.MAGS_BENCH_ITERATIONS ?? 30);
const densityCount = Number(process.env.MAGS_BENCH_PARKED ?? 100);
const mib = 1024 * 1024;

/**
 * Issue 5: `mags run -w W 'true'` through a real server (a) cold: no pool, no warm cache,
 * (b) claimed from the pool, (c) a warm hit on the parked sandbox, for a small workspace and
 * one with a 10,000-file node_modules, at the API (SDK) and end to end (CLI); beside the bwrap
 * and `node -e 0` floors of the same run. Then density: memory per parked sandbox.
 */
export async function latencyBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  if (skip) {
    process.stdout.write(`\n## latency: skipped (${skip})\n`);
    return;
  }
  const testHome = await createTestHome();
  const environment = { ...process.env, MAGS_HOME: testHome.home };
  const cli = join(packageRoot(), 'bin', 'mags.js');
  const token = spawnSync(
    process.execPath,
    [cli, 'token', 'create', '--owner', 'bench', '--admin'],
    {
      env: environment,
    },
  )
    .stdout.toString()
    .trim();
  let server: { child: ChildProcess; url: string } | undefined;
  const serve = async (flags: readonly string[]) => {
    await stopServerProcess(server?.child);
    server = await startServerProcess(environment, flags);
    return new Mags({ url: server.url, token });
  };
  try {
    const { bwrap, node } = await measureFloors(iterations);
    // The workspaces, made once: a small one and a node_modules-shaped one (10,000 files).
    const setup = await serve(['--pool-size', '0', '--park-seconds', '0']);
    await setup.runAndWait('echo small > README', { workspace: 'small' });
    const made = await setup.runAndWait(
      `node -e "const fs=require('fs');for(let p=0;p<500;p++){const d='node_modules/pkg'+p+'/lib';fs.mkdirSync(d,{recursive:true});for(let f=0;f<20;f++)fs.writeFileSync(d+'/f'+f+'.js','module.exports='+f+';\\n'.repeat(20))}" && find node_modules -type f | wc -l`,
      // Persistent, so that a fresh host can restore it: the seeds' cold path.
      { workspace: 'modules', persist: true, timeoutSeconds: 300 },
    );
    if (made.stdout.trim() !== '10000') throw new Error(`node_modules setup: ${made.stderr}`);
    const freshHost = await freshHostRun(join(testHome.home, 'store'), 'bench.modules');

    const modes = [
      {
        key: 'a',
        label: 'cold (no pool, no warm cache)',
        flags: ['--pool-size', '0', '--park-seconds', '0'],
      },
      { key: 'b', label: 'pool', flags: ['--pool-size', '2', '--park-seconds', '0'] },
      { key: 'c', label: 'warm hit', flags: ['--pool-size', '0', '--park-seconds', '300'] },
    ] as const;
    const results = new Map<string, { api: Summary; cli: Summary }>();
    for (const mode of modes) {
      const mags = await serve(mode.flags);
      const cliEnvironment = { ...environment, MAGS_URL: server?.url, MAGS_API_TOKEN: token };
      for (const workspace of ['small', 'modules']) {
        // The pool refills in the background: each run waits for a full pool first, so what
        // is timed is a claim, not a refill running beside it.
        const ready = async () => {
          if (mode.key !== 'b') return;
          for (;;) {
            const { pool } = await hostPool(mags);
            if (pool.idle >= pool.size) return;
            await sleep(5);
          }
        };
        const api = await measure(
          `${mode.key}) API ${mode.label}: -w ${workspace}`,
          iterations,
          async () => {
            await ready();
            const startedAt = performance.now();
            const result = await mags.runAndWait('true', { workspace });
            if (result.exitCode !== 0) throw new Error(`run failed: ${result.stderr}`);
            return performance.now() - startedAt;
          },
        );
        const viaCli = await measure(
          `${mode.key}) CLI ${mode.label}: mags run -w ${workspace} true`,
          iterations,
          async () => {
            await ready();
            const startedAt = performance.now();
            spawnOrThrow(process.execPath, [cli, 'run', '-w', workspace, 'true'], cliEnvironment);
            return performance.now() - startedAt;
          },
        );
        results.set(`${mode.key}-${workspace}`, { api, cli: viaCli });
      }
      const status = await hostPool(mags);
      process.stdout.write(
        `\n${mode.key}) counters: pool ${status.counters.poolHits} hits / ${JSON.stringify(status.counters.poolMisses)} misses; warm ${status.counters.warmHits} hits / ${JSON.stringify(status.counters.warmMisses)} misses\n`,
      );
    }
    const row = (key: string) => results.get(key) as { api: Summary; cli: Summary };
    for (const workspace of ['small', 'modules']) {
      const [a, b, c] = ['a', 'b', 'c'].map((key) => row(`${key}-${workspace}`));
      if (!a || !b || !c) continue;
      const restoring = workspace === 'modules' ? [{ summary: freshHost, floor: bwrap }] : [];
      printTable(`latency through mags server, -w ${workspace} (${iterations} runs each)`, [
        { summary: bwrap },
        { summary: node },
        ...restoring,
        { summary: a.api, floor: bwrap },
        { summary: b.api, floor: bwrap },
        { summary: c.api, floor: bwrap, target: '≤ 3× bwrap' },
        { summary: a.cli, floor: node },
        { summary: b.cli, floor: node },
        { summary: c.cli, floor: node, target: '≤ 2× node -e 0' },
      ]);
      const ratio = (x: Summary, y: Summary) => {
        const value = x.medianMs / y.medianMs;
        return value < 0.01 ? `1/${Math.round(1 / value)}` : value.toFixed(3);
      };
      process.stdout.write(
        [
          '',
          `| -w ${workspace}: ratio of medians | API | CLI | seeds (~4 s → ~300 ms / ~100 ms) | target |`,
          '| --- | ---: | ---: | ---: | --- |',
          `| (b) pool / (a) cold | ${ratio(b.api, a.api)} | ${ratio(b.cli, a.cli)} | 0.075 | |`,
          `| (c) warm / (a) cold | ${ratio(c.api, a.api)} | ${ratio(c.cli, a.cli)} | 0.025 (1/40) | ≤ 0.1 (10× faster) at the API |`,
          ...(workspace === 'modules'
            ? [
                `| (c) warm / cold on a fresh host (restore, then run) | ${ratio(c.api, freshHost)} | | 0.025 (1/40) | |`,
              ]
            : []),
          '',
        ].join('\n'),
      );
    }
    await density(
      await serve([
        '--pool-size',
        '0',
        '--park-max',
        String(densityCount * 2),
        '--park-memory',
        '8g',
      ]),
    );
  } finally {
    await stopServerProcess(server?.child);
    await testHome.cleanup();
  }
}

/**
 * The cold path the seeds measure (~4 s): a host that has never seen the workspace restores it
 * from the store, then runs. Each sample is a new MAGS_HOME (no layer, no chunk cache) sharing
 * the store; the run is in-process (the API's few milliseconds do not matter here).
 */
async function freshHostRun(storeDirectory: string, workspace: string): Promise<Summary> {
  const sink = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });
  return measure(
    "cold on a fresh host: restore -w modules (10,000 files) from the store, run 'true'",
    5,
    async () => {
      const host = await createTestHome();
      try {
        const context = createMagsContext({
          ...process.env,
          MAGS_HOME: host.home,
          MAGS_STORE_DIR: storeDirectory,
        });
        const startedAt = performance.now();
        const result = await runCommand(context, {
          argv: ['true'],
          workspace,
          persist: true,
          timeoutMs: 600_000,
          limits: context.defaults.limits,
          network: false,
          image: 'default',
          stdout: sink(),
          stderr: sink(),
        });
        if (result.exitCode !== 0) throw new Error('the run on the restored workspace failed');
        return performance.now() - startedAt;
      } finally {
        await host.cleanup();
      }
    },
    0,
  );
}

/** Parks `densityCount` sandboxes and reads what they cost: host memory and cgroup charge. */
async function density(mags: Mags): Promise<void> {
  await sleep(500);
  const before = await memAvailable();
  for (let index = 0; index < densityCount; index += 10) {
    await Promise.all(
      Array.from({ length: 10 }, (_, offset) =>
        mags.runAndWait('true', { workspace: `parked-${index + offset}` }),
      ),
    );
  }
  await sleep(500);
  const after = await memAvailable();
  const status = await hostPool(mags);
  const hostPer = (before - after) / status.warm.parked;
  const chargedPer = status.warm.memoryBytes / status.warm.parked;
  const fit = (bytes: number) => Math.floor((4096 * mib) / bytes);
  process.stdout.write(
    [
      '',
      `## density: ${status.warm.parked} parked sandboxes`,
      '',
      '| measure | per parked sandbox | parked sandboxes in 4 GiB |',
      '| --- | ---: | ---: |',
      `| host MemAvailable drop (processes, page tables, kernel objects, page cache) | ${(hostPer / mib).toFixed(2)} MiB | ${fit(hostPer)} |`,
      `| charged to its cgroup (what the warm cache's memory limit counts) | ${(chargedPer / mib).toFixed(2)} MiB | ${fit(chargedPer)} |`,
      '',
    ].join('\n'),
  );
}

async function memAvailable(): Promise<number> {
  const text = await readFile('/proc/meminfo', 'utf8');
  return Number(/^MemAvailable:\s+(\d+)/m.exec(text)?.[1] ?? 0) * 1024;
}
