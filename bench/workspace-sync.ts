import { spawnSync } from 'node:child_process';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createMagsContext } from '../src/context/mags-context.ts';
import { s3TestBucket } from '../src/storage/s3/s3-test-server.ts';
import { createTestHome, sandboxSkipReason, type TestHome } from '../test/helpers/test-home.ts';

const words = [
  'function',
  'return',
  'const',
  'module',
  'exports',
  'require',
  'value',
  'options',
  'this',
  'undefined',
  'prototype',
  'callback',
  'error',
  'length',
  'object',
  'string',
];

/** Deterministic JavaScript-like text: compressible the way real packages are. */
function fakeSource(seed: number, bytes: number): Buffer {
  let state = seed * 2654435761;
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    state = (state * 1103515245 + 12345) >>> 0;
    const word = `${words[state % words.length]}${state % 7 === 0 ? `_${state % 1000}` : ''}${state % 5 === 0 ? ';\n' : ' '}`;
    parts.push(word);
    size += word.length;
  }
  return Buffer.from(parts.join('').slice(0, bytes));
}

/** A node_modules-shaped tree: 10,000 files, about 155 MB, owned by the sandbox's root. */
export async function writeNodeModules(
  root: string,
  uidBase: number,
): Promise<{ files: number; bytes: number }> {
  let bytes = 0;
  const directories = new Set<string>();
  for (let index = 0; index < 10_000; index++) {
    const packageName = `pkg-${index % 400}`;
    const size = index % 10 === 0 ? 110_000 : 5_000;
    const path = join(
      root,
      'workspace',
      'node_modules',
      packageName,
      index % 3 === 0 ? 'lib' : 'dist',
      `file-${index}.js`,
    );
    directories.add(dirname(path));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, fakeSource(index, size));
    bytes += size;
  }
  spawnSync('chown', ['-R', `${uidBase}:${uidBase}`, root]);
  return { files: 10_000, bytes };
}

function timed(operation: () => void): number {
  const startedAt = performance.now();
  operation();
  return performance.now() - startedAt;
}

async function timedAsync(operation: () => Promise<unknown>): Promise<number> {
  const startedAt = performance.now();
  await operation();
  return performance.now() - startedAt;
}

const median = (values: number[]) =>
  [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? 0;

/** Rewrites `count` files of the tree (spread over its packages), as a changed dependency would. */
async function changeFiles(upperDir: string, uidBase: number, count: number, round: number) {
  for (let changed = 0; changed < count; changed++) {
    const index = 7 + changed * Math.floor(10_000 / count);
    const path = join(
      upperDir,
      'workspace',
      'node_modules',
      `pkg-${index % 400}`,
      index % 3 === 0 ? 'lib' : 'dist',
      `file-${index}.js`,
    );
    // A first line of its own: fakeSource's seeds repeat contents, and a content already stored
    // would cost nothing to sync.
    const header = `// round ${round}, change ${changed}\n`;
    await writeFile(path, Buffer.concat([Buffer.from(header), fakeSource(index + round, 5_000)]));
    await chown(path, uidBase, uidBase);
  }
}

/**
 * Issues 3 and 16: full sync, restore on a fresh host and incremental sync of a 10,000-file
 * `node_modules` workspace, packed (small files in pack objects) and in the layout before packs
 * (one object per file: `smallFileBytes: 0`, the code path every version used before), beside
 * `rclone sync` / `rclone copy` of the same tree to the same bucket.
 */
export async function workspaceSyncBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  const bucket = await s3TestBucket();
  const rclone = spawnSync('rclone', ['version']).status === 0;
  if (skip || 'skip' in bucket || !rclone) {
    const reason =
      skip ?? ('skip' in bucket ? bucket.skip : 'rclone is not installed (apt-get install rclone)');
    process.stdout.write(`\n## workspace sync: skipped (${reason})\n`);
    return;
  }
  const environment = {
    ...process.env,
    MAGS_S3_BUCKET: bucket.bucket,
    MAGS_S3_ENDPOINT: bucket.endpoint,
    MAGS_S3_ACCESS_KEY_ID: bucket.accessKeyId,
    MAGS_S3_SECRET_ACCESS_KEY: bucket.secretAccessKey,
  };
  const hostA = await createTestHome();
  const freshHosts: TestHome[] = [];
  const scratch = await mkdtemp(join(tmpdir(), 'mags-bench-rclone-'));
  try {
    const a = createMagsContext({ ...environment, MAGS_HOME: hostA.home });
    const freshHost = async () => {
      const home = await createTestHome();
      freshHosts.push(home);
      return createMagsContext({ ...environment, MAGS_HOME: home.home });
    };
    const uidBase = a.workspaces.idMapping.toHost(0);
    const packed = await a.workspaces.ensure('bench', 'default');
    const shape = await writeNodeModules(packed.upperDir, uidBase);
    const legacy = await a.workspaces.ensure('bench-legacy', 'default');
    await writeNodeModules(legacy.upperDir, uidBase);
    const pushLegacy = () => a.sync.push('bench-legacy', undefined, { smallFileBytes: 0 });
    const remote = `:s3:${bucket.bucket}`;
    // The same parallelism for both: mags pushes 32 chunks at a time.
    const rcloneFlags = [
      '--transfers',
      '32',
      '--checkers',
      '32',
      '--s3-upload-concurrency',
      '4',
      '-q',
    ];
    const rcloneRun = (command: 'sync' | 'copy', from: string, to: string) => {
      // AWS_CA_BUNDLE (set on some machines) makes rclone's S3 client refuse a plain-HTTP endpoint.
      const { AWS_CA_BUNDLE: _ignored, ...rcloneEnvironment } = process.env;
      const result = spawnSync('rclone', [command, from, to, ...rcloneFlags], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {
          ...rcloneEnvironment,
          RCLONE_S3_PROVIDER: 'Ceph',
          RCLONE_S3_ENDPOINT: bucket.endpoint,
          RCLONE_S3_ACCESS_KEY_ID: bucket.accessKeyId,
          RCLONE_S3_SECRET_ACCESS_KEY: bucket.secretAccessKey,
          RCLONE_S3_FORCE_PATH_STYLE: 'true',
        },
      });
      if (result.status !== 0) throw new Error(`rclone failed: ${result.stderr}`);
    };

    const full = {
      legacy: await timedAsync(pushLegacy),
      packed: await timedAsync(() => a.sync.push('bench')),
      rclone: timed(() => rcloneRun('sync', packed.upperDir, `${remote}/rclone`)),
    };
    const restoreOn = async (name: string) => {
      const host = await freshHost();
      return timedAsync(() => host.sync.pull(name, { image: 'default' }));
    };
    const restore = {
      legacy: await restoreOn('bench-legacy'),
      packed: await restoreOn('bench'),
      rclone: timed(() => rcloneRun('copy', `${remote}/rclone`, join(scratch, 'restore'))),
    };

    const rounds = 5;
    const incremental = async (count: number, offset: number) => {
      const times = { legacy: [] as number[], packed: [] as number[], rclone: [] as number[] };
      for (let round = 0; round < rounds; round++) {
        await changeFiles(packed.upperDir, uidBase, count, offset + round);
        await changeFiles(legacy.upperDir, uidBase, count, offset + round);
        // Alternately first: the second sync pays for collecting the first one's garbage.
        const pushes = [
          async () => times.legacy.push(await timedAsync(pushLegacy)),
          async () => times.packed.push(await timedAsync(() => a.sync.push('bench'))),
        ];
        for (const push of round % 2 === 0 ? pushes : pushes.reverse()) await push();
        times.rclone.push(timed(() => rcloneRun('sync', packed.upperDir, `${remote}/rclone`)));
      }
      return {
        legacy: median(times.legacy),
        packed: median(times.packed),
        rclone: median(times.rclone),
      };
    };
    const oneFile = await incremental(1, 0);
    const onePercent = await incremental(100, 100);

    // What a restore of a version many syncs later costs: its packs are partly the first one's.
    const laterRestore = await restoreOn('bench');

    const storedBytes = async (prefixes: string[]) => {
      let bytes = 0;
      for (const prefix of prefixes)
        for await (const object of a.sync.store.list(prefix)) bytes += object.size;
      return bytes;
    };
    const versions = (await a.sync.versions('bench')).length;

    const row = (
      name: string,
      times: { legacy: number; packed: number; rclone: number },
      target: string,
    ) =>
      `| ${name} | ${times.legacy.toFixed(0)} | ${times.packed.toFixed(0)} | ${times.rclone.toFixed(0)} | ${(times.rclone / times.packed).toFixed(2)}× | ${(times.legacy / times.packed).toFixed(2)}× | ${target} |`;
    process.stdout.write(
      `${[
        `\n## workspace sync (${shape.files} files, ${(shape.bytes / 1e6).toFixed(0)} MB, Ceph RGW on loopback, rclone --transfers 32; load average ${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} cores)\n`,
        '| operation | before packs ms | packs ms | rclone ms | rclone / packs | before / packs | target |',
        '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
        row('full sync', full, 'rclone / packs ≥ 3×'),
        row('restore on a fresh host (rclone copy)', restore, 'packs ≤ 1000 ms'),
        row(`incremental sync, one file changed (median of ${rounds})`, oneFile, '≥ 10×'),
        row(
          `incremental sync, 1% of files changed (median of ${rounds})`,
          onePercent,
          'before / packs ≥ 1×',
        ),
        `| restore on a fresh host after ${versions} versions | | ${laterRestore.toFixed(0)} | | | | |`,
        '',
        `"before packs" is the layout every version had before packs (one object per file), written by the same code with packing off (\`smallFileBytes: 0\`) and restored by this code. Stored after ${versions} versions: ${((await storedBytes(['packs/', 'workspaces/bench/'])) / 1e6).toFixed(1)} MB for packs (packs and manifests), ${((await storedBytes(['chunks/', 'workspaces/bench-legacy/'])) / 1e6).toFixed(1)} MB before packs (chunks and manifests), all compressed.`,
      ].join('\n')}\n`,
    );
  } finally {
    await hostA.cleanup();
    for (const home of freshHosts) await home.cleanup();
    await rm(scratch, { recursive: true, force: true });
  }
}
