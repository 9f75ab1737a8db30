import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sandboxSkipReason } from '../test/helpers/test-home.ts';
import { startTestServer } from '../test/helpers/test-server.ts';
import { measure, printTable } from './stats.ts';
import { writeNodeModules } from './workspace-sync.ts';

/**
 * Issue 16 item 1: a tree copied into a sandbox and out of it through a real server
 * (`uploadTree`/`downloadTree`, what `mags cp` runs), beside the floor: the same tree through
 * GNU tar piped into GNU tar on this host, no sandbox, no HTTP. Two shapes: 10,000 small files
 * (a node_modules) and one 256 MiB file.
 */
export async function treeCopyBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  if (skip) {
    process.stdout.write(`\n## tree copy: skipped (${skip})\n`);
    return;
  }
  const server = await startTestServer({
    maxUploadBytes: 2 * 1024 ** 3,
    scheduling: { poolSize: 0 },
  });
  try {
    const { mags } = await server.client('bench');
    await mags.sandboxes.create({ name: 'copies' });
    const home = server.testHome.home;
    const small = join(home, 'small');
    const shape = await writeNodeModules(small, process.getuid?.() ?? 0);
    const big = join(home, 'big');
    await mkdir(big);
    await writeFile(join(big, 'blob.bin'), Buffer.alloc(256 * 1024 * 1024, 7));
    const shapes = [
      { name: `${shape.files} files, ${(shape.bytes / 1e6).toFixed(0)} MB`, tree: small },
      { name: 'one 256 MiB file', tree: big },
    ];
    for (const { name, tree } of shapes) {
      let round = 0;
      const floor = await measure(
        'tar piped into tar on this host',
        3,
        async () => {
          const target = join(home, `floor-${round++}`);
          await mkdir(target);
          const startedAt = performance.now();
          const result = spawnSync('sh', [
            '-c',
            'tar -cf - -C "$1" . | tar -xf - -C "$2"',
            'sh',
            tree,
            target,
          ]);
          const elapsed = performance.now() - startedAt;
          if (result.status !== 0) throw new Error(`tar failed: ${result.stderr}`);
          await rm(target, { recursive: true });
          return elapsed;
        },
        1,
      );
      const upload = await measure(
        'uploadTree into a sandbox',
        3,
        async () => {
          const startedAt = performance.now();
          await mags.sandboxes.files.uploadTree('copies', tree, `/tmp/in-${round}`);
          const elapsed = performance.now() - startedAt;
          await mags.sandboxes.execAndWait('copies', `rm -rf /tmp/in-${round++}`);
          return elapsed;
        },
        1,
      );
      await mags.sandboxes.files.uploadTree('copies', tree, '/tmp/out');
      const download = await measure(
        'downloadTree out of it',
        3,
        async () => {
          const target = join(home, `out-${round++}`);
          const startedAt = performance.now();
          await mags.sandboxes.files.downloadTree('copies', '/tmp/out', target);
          const elapsed = performance.now() - startedAt;
          await rm(target, { recursive: true });
          return elapsed;
        },
        1,
      );
      await mags.sandboxes.execAndWait('copies', 'rm -rf /tmp/out');
      printTable(`tree copy (${name})`, [
        { summary: floor },
        { summary: upload, floor },
        { summary: download, floor },
      ]);
    }
  } finally {
    await server.close();
  }
}
