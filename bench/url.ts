import { spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { packageRoot } from '../src/config/package-paths.ts';
import { Mags } from '../src/sdk/mags.ts';
import { sandboxWebApp } from '../test/helpers/sandbox-web-app.ts';
import { startServerProcess, waitUntil } from '../test/helpers/server-process.ts';
import { createTestHome, sandboxSkipReason } from '../test/helpers/test-home.ts';
import { summarize } from './stats.ts';

const latencyRequests = Number(process.env.MAGS_BENCH_ITERATIONS ?? 300);
const throughputRequests = 2000;
const concurrency = 10;
const downloadBytes = 100 * 1024 * 1024;
const downloads = 3;

interface Target {
  name: string;
  base: string;
  headers: Record<string, string>;
  agent: Agent;
}

/**
 * Issue 16: what a sandbox URL adds. The same web app (test/helpers/sandbox-web-app.ts) runs
 * inside a long-lived sandbox, reached through its URL on a real `mags server` (the owner's
 * token, keep-alive), and on the host's loopback, reached directly: latency of small answers
 * one at a time (p50, p95), requests per second with 10 at once, and a 100 MB download (MB/s).
 */
export async function urlBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  if (skip) {
    process.stdout.write(`\n## sandbox URLs: skipped (${skip})\n`);
    return;
  }
  const testHome = await createTestHome();
  const environment = { ...process.env, MAGS_HOME: testHome.home };
  const server = await startServerProcess(environment, ['--pool-size', '0', '--sleep-after', '0']);
  const appPath = join(testHome.home, 'app.js');
  await writeFile(appPath, sandboxWebApp);
  const hostApp = spawn(process.execPath, [appPath, '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const token = spawnSync(
      process.execPath,
      [join(packageRoot(), 'bin', 'mags.js'), 'token', 'create', '--owner', 'bench'],
      { env: environment },
    )
      .stdout.toString()
      .trim();
    const mags = new Mags({ url: server.url, token });
    await mags.sandboxes.create({ name: 'bench', ephemeral: true, sleep: false });
    await mags.sandboxes.files.write('bench', '/tmp/app.js', sandboxWebApp);
    await mags.sandboxes.execAndWait('bench', [
      'sh',
      '-c',
      'setsid node /tmp/app.js 8080 > /tmp/app.log 2>&1 < /dev/null &',
    ]);
    const made = await mags.sandboxes.urls.create('bench', { port: 8080 });
    const throughUrl: Target = {
      name: 'through the sandbox URL',
      base: `${server.url}/u/${made.id}`,
      headers: { authorization: `Bearer ${token}` },
      agent: new Agent({ keepAlive: true, maxSockets: concurrency }),
    };
    await waitUntil(async () => (await fetchBody(throughUrl, '/hello')).status === 200, 30_000);
    // The app on the host listens on a free port (`0`) and logs it through the one line it prints.
    const hostPort = await hostAppPort(hostApp);
    const direct: Target = {
      name: 'direct on the host loopback',
      base: `http://127.0.0.1:${hostPort}`,
      headers: {},
      agent: new Agent({ keepAlive: true, maxSockets: concurrency }),
    };

    const rows: string[][] = [];
    const results = new Map<string, { p50: number; p95: number; rps: number; mbps: number }>();
    for (const target of [direct, throughUrl]) {
      for (let index = 0; index < 20; index++) await fetchBody(target, '/hello'); // warm up
      const samples: number[] = [];
      for (let index = 0; index < latencyRequests; index++) {
        const startedAt = performance.now();
        const { status } = await fetchBody(target, '/hello');
        if (status !== 200) throw new Error(`${target.name}: status ${status}`);
        samples.push(performance.now() - startedAt);
      }
      const latency = summarize(target.name, samples);
      let next = 0;
      const startedAt = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next++ < throughputRequests) await fetchBody(target, '/hello');
        }),
      );
      const rps = throughputRequests / ((performance.now() - startedAt) / 1000);
      const rates: number[] = [];
      for (let index = 0; index < downloads; index++) {
        const began = performance.now();
        const { bytes } = await fetchBody(target, `/bytes/${downloadBytes}`);
        if (bytes !== downloadBytes) throw new Error(`${target.name}: ${bytes} bytes downloaded`);
        rates.push(downloadBytes / 1e6 / ((performance.now() - began) / 1000));
      }
      rates.sort((a, b) => a - b);
      results.set(target.name, {
        p50: latency.medianMs,
        p95: latency.p95Ms,
        rps,
        mbps: rates[Math.floor(rates.length / 2)] ?? 0,
      });
    }
    const base = results.get(direct.name);
    const url = results.get(throughUrl.name);
    if (!base || !url) return;
    const row = (label: string, a: number, b: number, digits: number) =>
      rows.push([label, a.toFixed(digits), b.toFixed(digits), `${(b / a).toFixed(2)}×`]);
    row('small answer, one at a time: p50 ms', base.p50, url.p50, 2);
    row('small answer, one at a time: p95 ms', base.p95, url.p95, 2);
    row(`small answers, ${concurrency} at once: requests/s`, base.rps, url.rps, 0);
    row('100 MB download: MB/s (median of 3)', base.mbps, url.mbps, 0);
    process.stdout.write(
      [
        '\n## sandbox URLs: the same web app in a sandbox through its URL vs on the host loopback\n',
        `added latency per small request: p50 +${(url.p50 - base.p50).toFixed(2)} ms, p95 +${(url.p95 - base.p95).toFixed(2)} ms (${latencyRequests} requests, keep-alive)\n`,
        '| measure | direct on the host loopback | through the sandbox URL | URL / direct |',
        '| --- | ---: | ---: | ---: |',
        ...rows.map((cells) => `| ${cells.join(' | ')} |`),
        '',
      ].join('\n'),
    );
    direct.agent.destroy();
    throughUrl.agent.destroy();
  } finally {
    hostApp.kill();
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
    await testHome.cleanup();
  }
}

/** One GET, its body counted (not kept: the download is 100 MB). */
function fetchBody(target: Target, path: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    request(`${target.base}${path}`, { agent: target.agent, headers: target.headers }, (answer) => {
      let bytes = 0;
      answer.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      answer.on('end', () => resolve({ status: answer.statusCode ?? 0, bytes }));
      answer.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

/** The host app's port: it listens on `0` (a free port) and prints `listening PORT`. */
async function hostAppPort(child: ReturnType<typeof spawn>): Promise<number> {
  let output = '';
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const port = /listening (\d+)/.exec(output)?.[1];
      if (port) resolve(Number(port));
    });
    child.once('exit', () => reject(new Error(`the host app exited: ${output}`)));
  });
}
