import { spawnSync } from 'node:child_process';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createMagsContext } from '../src/context/mags-context.ts';
import { s3TestBucket } from '../src/storage/s3/s3-test-server.ts';
import { createTestHome, sandboxSkipReason } from '../test/helpers/test-home.ts';

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

/** Issue 3: full sync, restore and incremental sync of a realistic workspace, beside rclone. */
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
  const hostB = await createTestHome();
  const scratch = await mkdtemp(join(tmpdir(), 'mags-bench-rclone-'));
  try {
    const a = createMagsContext({ ...environment, MAGS_HOME: hostA.home });
    const b = createMagsContext({ ...environment, MAGS_HOME: hostB.home });
    const paths = await a.workspaces.ensure('bench', 'default');
    const shape = await writeNodeModules(paths.upperDir, a.workspaces.idMapping.toHost(0));
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
    const rcloneRun = (from: string, to: string) => {
      // AWS_CA_BUNDLE (set on some machines) makes rclone's S3 client refuse a plain-HTTP endpoint.
      const { AWS_CA_BUNDLE: _ignored, ...rcloneEnvironment } = process.env;
      const result = spawnSync('rclone', ['sync', from, to, ...rcloneFlags], {
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

    const magsFull = await timedAsync(() => a.sync.push('bench'));
    const rcloneFull = timed(() => rcloneRun(paths.upperDir, `${remote}/rclone`));
    const magsRestore = await timedAsync(() => b.sync.pull('bench', { image: 'default' }));
    const rcloneRestore = timed(() => rcloneRun(`${remote}/rclone`, join(scratch, 'restore')));

    const changed = join(paths.upperDir, 'workspace', 'node_modules', 'pkg-7', 'dist', 'file-7.js');
    const magsIncremental: number[] = [];
    const rcloneIncremental: number[] = [];
    for (let round = 0; round < 10; round++) {
      await writeFile(changed, fakeSource(1000 + round, 5_000));
      await chown(changed, a.workspaces.idMapping.toHost(0), a.workspaces.idMapping.toHost(0));
      magsIncremental.push(await timedAsync(() => a.sync.push('bench')));
      rcloneIncremental.push(timed(() => rcloneRun(paths.upperDir, `${remote}/rclone`)));
    }
    const median = (values: number[]) =>
      [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? 0;

    let storedBytes = 0;
    for (const prefix of ['chunks/', 'workspaces/']) {
      for await (const object of a.sync.store.list(prefix)) storedBytes += object.size;
    }
    let firstVersionBytes = 0;
    const manifest = (await import('../src/workspaces/sync/versions.ts')).loadManifest;
    const first = await manifest(a.sync.store, 'bench', 1);
    const chunkSizes = new Map<string, number>();
    for await (const object of a.sync.store.list('chunks/'))
      chunkSizes.set(object.key.split('/').at(-1) ?? '', object.size);
    for (const entry of first.entries)
      if (entry.type === 'file')
        for (const hash of entry.chunks) firstVersionBytes += chunkSizes.get(hash) ?? 0;
    const versions = (await a.sync.versions('bench')).length;

    const row = (name: string, mags: number, baseline: number, target: string) =>
      `| ${name} | ${mags.toFixed(0)} | ${baseline.toFixed(0)} | ${(baseline / mags).toFixed(2)}× | ${target} |`;
    process.stdout.write(
      `${[
        `\n## workspace sync (${shape.files} files, ${(shape.bytes / 1e6).toFixed(0)} MB, Ceph RGW on loopback, rclone --transfers 32)\n`,
        '| operation | mags ms | rclone ms | rclone / mags | target |',
        '| --- | ---: | ---: | ---: | --- |',
        row('full sync', magsFull, rcloneFull, '≥ 1×'),
        row('full restore (fresh home)', magsRestore, rcloneRestore, '≥ 1×'),
        row(
          'incremental sync, one file changed (median of 10)',
          median(magsIncremental),
          median(rcloneIncremental),
          '≥ 10×',
        ),
        '',
        `Stored by mags after ${versions} versions (one file changed in each): ${(storedBytes / 1e6).toFixed(1)} MB, chunks and manifests (compressed), vs ${(firstVersionBytes / 1e6).toFixed(1)} MB of chunks for version 1 alone: ${(storedBytes / firstVersionBytes).toFixed(3)}×.`,
      ].join('\n')}\n`,
    );
  } finally {
    await hostA.cleanup();
    await hostB.cleanup();
    await rm(scratch, { recursive: true, force: true });
  }
}
