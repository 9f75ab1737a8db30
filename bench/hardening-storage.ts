import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Mags } from '../src/sdk/mags.ts';
import { freeBytes } from '../test/helpers/host-measures.ts';
import { s3StoreEnvironment } from '../test/helpers/s3-store-environment.ts';
import {
  startServerProcess,
  stopServerProcess,
  waitUntil,
} from '../test/helpers/server-process.ts';
import { createTestHome, runCli } from '../test/helpers/test-home.ts';
import { type BenchHome, benchToken, mebibyte } from './hardening-setup.ts';
import { printRows } from './stats.ts';

const outputJobs = 5;
const outputMiB = 100;

/** Finding 4: state.db after five 100 MiB outputs under `--log-owner-quota 200m`. */
export async function logQuotaCampaign(home: BenchHome): Promise<void> {
  const stateBytes = () =>
    ['', '-wal'].reduce(
      (sum, suffix) =>
        sum +
        (statSync(join(home.home, `state.db${suffix}`), { throwIfNoEntry: false })?.size ?? 0),
      0,
    );
  const server = await startServerProcess(home.environment, [
    '--pool-size',
    '0',
    '--log-owner-quota',
    '200m',
  ]);
  try {
    const alice = new Mags({ url: server.url, token: await benchToken(home, 'alice') });
    const before = stateBytes();
    for (let index = 0; index < outputJobs; index++) {
      // Waited for by polling, not followed: the bench never holds the 100 MiB output.
      const job = await alice.run(`head -c ${outputMiB * mebibyte} /dev/zero`);
      await waitUntil(async () => (await alice.jobs.get(job.id)).finishedAt !== null, 120_000);
    }
    const grownBytes = stateBytes() - before;
    const producedBytes = outputJobs * outputMiB * mebibyte;
    printRows(
      `hardening 4: stored output, ${outputJobs} jobs of ${outputMiB} MiB each, --log-owner-quota 200m`,
      ['measure', 'MiB', 'ratio to output produced', 'issue 10 (before)'],
      [
        ['output produced (baseline)', (producedBytes / mebibyte).toFixed(0), '1.00', ''],
        [
          'state.db + WAL growth',
          (grownBytes / mebibyte).toFixed(0),
          (grownBytes / producedBytes).toFixed(2),
          '2 GB printed: 1 GiB stored, state.db +1.1 GB (0.55), no retention',
        ],
      ],
    );
  } finally {
    await stopServerProcess(server.child);
  }
}

/** Finding 4, disks: `mags run -w quota --disk 256m` writing 1 GiB, then room again after rm. */
export async function diskQuotaCampaign(home: BenchHome): Promise<void> {
  const diskMiB = 256;
  const hostFreeBefore = await freeBytes(home.home);
  const full = await runCli(home.home, [
    'run',
    '-w',
    'quota',
    '--disk',
    `${diskMiB}m`,
    'dd if=/dev/zero of=/workspace/big bs=1M count=1024',
  ]);
  const hostDropBytes = hostFreeBefore - (await freeBytes(home.home));
  // dd's summary line: "N bytes (...) copied, ...".
  const writtenBytes = Number(/(\d+) bytes .* copied/.exec(full.stderr)?.[1] ?? Number.NaN);
  const notice = /mags: the workspace's disk is full[^\n]*/.exec(full.stderr)?.[0] ?? '(none)';
  const again = await runCli(home.home, [
    'run',
    '-w',
    'quota',
    'rm /workspace/big && dd if=/dev/zero of=/workspace/small bs=1M count=8 2>/dev/null && echo written',
  ]);
  const diskBytes = diskMiB * mebibyte;
  const ratio = (bytes: number) => `${(bytes / diskBytes).toFixed(2)} of the disk`;
  printRows(
    `hardening 5: mags run -w quota --disk ${diskMiB}m writing 1 GiB`,
    ['measure', 'this run', 'vs the disk size', 'issue 10 (before)'],
    [
      [
        'bytes written before ENOSPC',
        `${(writtenBytes / mebibyte).toFixed(1)} MiB`,
        ratio(writtenBytes),
        '3 GiB written, no quota',
      ],
      [
        "host's free disk drop",
        `${(hostDropBytes / mebibyte).toFixed(1)} MiB`,
        ratio(hostDropBytes),
        'df +3 GB',
      ],
      ['exit code, notice', `${full.code}: ${notice}`, '', ''],
      [
        'after `rm`, an 8 MiB write',
        again.code === 0 && again.stdout.toString() === 'written\n'
          ? 'works'
          : `fails: ${again.stderr}`,
        '',
        '',
      ],
    ],
  );
}

/**
 * Finding 5, the repro on each store: `printf x > $(printf 'bad\377name')`, sync, then
 * restore on a fresh home (a second host) and compare the bytes the sandbox sees.
 */
export async function byteNamesCampaign(home: BenchHome): Promise<void> {
  const stores: Array<[string, Record<string, string> | { skip: string }]> = [
    ['filesystem', { MAGS_STORE_DIR: join(home.home, 'shared-store'), MAGS_S3_BUCKET: '' }],
    ['S3 (Ceph RGW)', await s3StoreEnvironment()],
  ];
  const expected = Buffer.from('xbad\xffname\n', 'latin1');
  const rows: string[][] = [];
  for (const [label, environment] of stores) {
    if ('skip' in environment) {
      rows.push([label, 'skipped', environment.skip, '']);
      continue;
    }
    const workspace = `u8-${label.slice(0, 2).toLowerCase()}`;
    const write = await runCli(
      home.home,
      ['run', '-w', workspace, "printf x > $(printf 'bad\\377name')"],
      { env: environment },
    );
    const sync = await runCli(home.home, ['sync', workspace], { env: environment });
    const freshHost = await createTestHome();
    try {
      const read = await runCli(
        freshHost.home,
        ['run', '-w', workspace, '-p', 'cat /workspace/bad*name; ls /workspace'],
        { env: environment },
      );
      const exact = write.code === 0 && sync.code === 0 && read.stdout.equals(expected);
      rows.push([
        label,
        `write ${write.code}, sync ${sync.code}, restore ${read.code}`,
        exact ? 'yes' : `**no**: ${JSON.stringify(read.stdout.toString('latin1'))} ${read.stderr}`,
        'sync: unexpected error: ENOENT',
      ]);
    } finally {
      await freshHost.cleanup();
    }
  }
  printRows(
    'hardening 6: a file named bad\\377name, synced and restored on a fresh home',
    ['store', 'exit codes', 'byte-exact after restore', 'issue 10 (before)'],
    rows,
  );
}
