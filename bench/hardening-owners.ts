import { join } from 'node:path';
import { Mags } from '../src/sdk/mags.ts';
import { hashToken } from '../src/server/tokens.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import { localOwner } from '../src/workspaces/owner-workspace.ts';
import { startServerProcess, stopServerProcess } from '../test/helpers/server-process.ts';
import { runCli } from '../test/helpers/test-home.ts';
import { type BenchHome, benchToken } from './hardening-setup.ts';
import { printRows } from './stats.ts';

const secret = 'alice-secret';

/**
 * Finding 2, the exact attack: a token for owner `local` running `{"base": "alice.aws"}`, and
 * other owners (admin or not) naming alice's workspace the same way.
 */
export async function crossOwnerCampaign(home: BenchHome): Promise<void> {
  const refused = await runCli(home.home, ['token', 'create', '--owner', localOwner]);
  const server = await startServerProcess(home.environment, ['--pool-size', '0']);
  try {
    const alice = new Mags({ url: server.url, token: await benchToken(home, 'alice') });
    const written = await alice.runAndWait(`echo ${secret} > /workspace/secret`, {
      workspace: 'aws',
    });
    if (written.exitCode !== 0) throw new Error(`alice's setup failed: ${written.stderr}`);

    // What `mags token create --owner local` stored before the fix: owner local, not admin.
    const oldLocalToken = `mags_${'L'.repeat(32)}`;
    const repository = createSqliteStateRepository(join(home.home, 'state.db'));
    await repository.insertToken({
      id: 'tok_oldlocal',
      owner: localOwner,
      name: 'default',
      hash: hashToken(oldLocalToken),
      createdAt: new Date().toISOString(),
      revokedAt: null,
      admin: false,
    });
    await repository.close();
    const attack = await fetch(`${server.url}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${oldLocalToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'cat /workspace/secret', base: 'alice.aws' }),
    });
    const attackBody = await attack.text();
    const rows = [
      [
        '`mags token create --owner local`',
        `exit ${refused.code}: ${refused.stderr.split('\n')[0]}`,
        'no',
        'accepted',
      ],
      [
        'non-admin `local` token (inserted in state.db) POST /v1/jobs `{"base": "alice.aws"}`',
        String(attack.status),
        attackBody.includes(secret) ? '**yes**' : 'no',
        "201, printed alice's secret",
      ],
    ];
    for (const admin of [false, true]) {
      const owner = admin ? 'mallory-admin' : 'mallory';
      const mallory = new Mags({
        url: server.url,
        token: await benchToken(home, owner, { admin }),
      });
      const run = await mallory.runAndWait('cat /workspace/secret', { base: 'alice.aws' });
      rows.push([
        `owner ${owner}${admin ? ' (admin token)' : ''} runs \`{"base": "alice.aws"}\``,
        `job ${run.job.status}: ${run.job.reason ?? ''}`,
        (run.stdout + run.stderr).includes(secret) ? '**yes**' : 'no',
        '',
      ]);
    }
    const own = await alice.runAndWait('cat /workspace/secret', { workspace: 'aws' });
    rows.push([
      'alice reads her own workspace (control)',
      `job ${own.job.status}`,
      own.stdout.includes(secret) ? 'yes (her own)' : '**no: the control failed**',
      '',
    ]);
    printRows(
      'hardening 2: cross-owner reads of alice.aws',
      ['attempt', 'answer', "alice's secret read", 'issue 10 (before)'],
      rows,
    );
  } finally {
    await stopServerProcess(server.child);
  }
}

const floodJobs = 500;
const jobSeconds = 2;

/**
 * Finding 3: bob's job start delay (submitted → started) while alice floods a two-slot server
 * with 500 `sleep 2` jobs, beside the same delay on the idle server; alice's 429s.
 */
export async function fairnessCampaign(home: BenchHome): Promise<void> {
  const server = await startServerProcess(home.environment, [
    '--pool-size',
    '0',
    '--park-seconds',
    '0',
    '--max-jobs',
    '2',
  ]);
  try {
    const aliceToken = await benchToken(home, 'alice');
    const bob = new Mags({ url: server.url, token: await benchToken(home, 'bob') });
    const startDelaySeconds = async () => {
      const { job } = await bob.runAndWait('echo bob');
      return (Date.parse(job.startedAt as string) - Date.parse(job.createdAt)) / 1000;
    };
    const idle: number[] = [];
    for (let index = 0; index < 5; index++) idle.push(await startDelaySeconds());
    const idleSeconds = idle.sort((a, b) => a - b)[2] as number;

    const submittedAt = performance.now();
    const responses = await Promise.all(
      Array.from({ length: floodJobs }, () =>
        fetch(`${server.url}/v1/jobs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${aliceToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ command: `sleep ${jobSeconds}` }),
        }),
      ),
    );
    const floodSeconds = (performance.now() - submittedAt) / 1000;
    const accepted = responses.filter((response) => response.status === 201).length;
    const limited = responses.filter((response) => response.status === 429);
    const retryAfter = new Set(limited.map((response) => response.headers.get('retry-after')));
    await Promise.all(responses.map((response) => response.body?.cancel()));
    const floodedSeconds = await startDelaySeconds();
    printRows(
      `hardening 3: fairness, mags server --max-jobs 2, alice submits ${floodJobs} \`sleep ${jobSeconds}\` jobs at once`,
      ['measure', 'this run', 'baseline (same run)', 'issue 10 (before)'],
      [
        [
          "bob's job start delay (created → started)",
          `${floodedSeconds.toFixed(2)} s`,
          `idle server: ${(idleSeconds * 1000).toFixed(0)} ms (median of 5); one of alice's jobs: ${jobSeconds} s, bob waited ${(floodedSeconds / jobSeconds).toFixed(2)} of it`,
          '31 s',
        ],
        [
          "alice's jobs accepted (201) / refused (429)",
          `${accepted} / ${limited.length} in ${floodSeconds.toFixed(2)} s`,
          `one ${jobSeconds} s job per slot`,
          '500 / 0 in 0.6 s',
        ],
        ['Retry-After on the 429s, s', [...retryAfter].join(', ') || '(none)', '', 'no 429'],
      ],
    );
  } finally {
    await stopServerProcess(server.child);
  }
}
