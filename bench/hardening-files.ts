import { Mags } from '../src/sdk/mags.ts';
import { rssBytes } from '../test/helpers/host-measures.ts';
import { partialRequest } from '../test/helpers/partial-request.ts';
import { startServerProcess, stopServerProcess } from '../test/helpers/server-process.ts';
import { type BenchHome, benchToken, mebibyte } from './hardening-setup.ts';
import { measure, printRows } from './stats.ts';

const sandbox = 'files';

/**
 * Finding 1: the server's RSS while a 2 GiB sparse file streams through the files API; devices,
 * FIFOs and an oversized body answered as fast as a small download or a small job; RSS after.
 */
export async function filesApiCampaign(home: BenchHome): Promise<void> {
  const server = await startServerProcess(home.environment, [
    '--pool-size',
    '0',
    '--max-download-mib',
    '3072',
  ]);
  try {
    const pid = server.child.pid as number;
    const token = await benchToken(home, 'alice');
    const mags = new Mags({ url: server.url, token });
    await mags.sandboxes.create({ name: sandbox, ephemeral: true });
    const setup = await mags.sandboxes.execAndWait(
      sandbox,
      'truncate -s 2G /workspace/sparse && mkfifo /workspace/fifo && head -c 1024 /dev/urandom > /workspace/small',
    );
    if (setup.exitCode !== 0) throw new Error(`files setup failed: ${setup.stderr}`);
    const download = (path: string) =>
      fetch(`${server.url}/v1/sandboxes/${sandbox}/files?path=${encodeURIComponent(path)}`, {
        headers: { authorization: `Bearer ${token}` },
      });

    const idleBytes = await rssBytes(pid);
    let peakBytes = idleBytes;
    let received = 0;
    let nextSample = 0;
    const startedAt = performance.now();
    const response = await download('/workspace/sparse');
    // Read chunk by chunk and dropped: the bench process holds no more than one chunk either.
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      received += chunk.length;
      if (received >= nextSample) {
        nextSample += 64 * mebibyte;
        peakBytes = Math.max(peakBytes, await rssBytes(pid));
      }
    }
    const seconds = (performance.now() - startedAt) / 1000;
    if (received !== 2 * 1024 ** 3) throw new Error(`the download ended at ${received} bytes`);
    const mib = (bytes: number) => (bytes / mebibyte).toFixed(0);
    printRows(
      'hardening 1a: server RSS during a 2 GiB sparse download (streamed to /dev/null)',
      ['server', 'idle MiB', 'peak MiB', 'peak − idle MiB', 'download MiB/s', 'issue 10 (before)'],
      [
        [
          'mags server',
          mib(idleBytes),
          mib(peakBytes),
          mib(peakBytes - idleBytes),
          (2048 / seconds).toFixed(0),
          '1.5 GiB file: 274 → 5490 MB, first byte after 20 s',
        ],
      ],
    );

    const downloadStatus = (path: string) => async () => {
      const answer = await download(path);
      await answer.arrayBuffer();
      return answer.status;
    };
    // Declared 700 MiB, then at most 4 MiB sent: an answer proves the rest was never awaited.
    // The server answers and closes without reading on, so the kernel resets the connection
    // over the bytes still in flight, which can discard the answer before the client reads it:
    // such a request is counted under the error's code (EPIPE, ECONNRESET) with its time.
    const oversizedStatus = (method: string, path: string) => async () => {
      const line = await partialRequest(
        server.url,
        { method, path, token },
        700 * mebibyte,
        4 * mebibyte,
      ).catch((error: NodeJS.ErrnoException) => error.code ?? String(error));
      return /^HTTP\/1\.1 (\d+)/.exec(line)?.[1] ?? line;
    };
    const small = await timedStatus(
      'GET a 1 KiB file (baseline)',
      downloadStatus('/workspace/small'),
    );
    const jobs = await timedStatus(
      'POST /v1/jobs, 700 MiB declared, 4 MiB sent (baseline)',
      oversizedStatus('POST', '/v1/jobs'),
    );
    const rows = [
      row(small, small, ''),
      row(
        await timedStatus('GET files?path=/dev/zero', downloadStatus('/dev/zero')),
        small,
        '4 GB RSS in 9 s, then killed',
      ),
      row(await timedStatus('GET files?path=FIFO', downloadStatus('/workspace/fifo')), small, ''),
      row(jobs, jobs, '413 in 12 ms'),
      row(
        await timedStatus(
          'PATCH /v1/sandboxes/files, 700 MiB declared, 4 MiB sent',
          oversizedStatus('PATCH', '/v1/sandboxes/files'),
        ),
        jobs,
        'read whole: RSS 2.27 GB',
      ),
    ];
    printRows(
      `hardening 1b: refusals, time to answer (median of 10); server RSS after: ${mib(await rssBytes(pid))} MiB (idle ${mib(idleBytes)})`,
      ['request', 'status', 'median ms', 'vs baseline', 'issue 10 (before)'],
      rows,
    );
  } finally {
    await stopServerProcess(server.child);
  }
}

interface TimedStatus {
  name: string;
  /** Every status seen, with how often: `413 ×10`. */
  status: string;
  medianMs: number;
}

/** The status `request` answers and its median time to answer over 10 requests. */
async function timedStatus(
  name: string,
  request: () => Promise<number | string>,
): Promise<TimedStatus> {
  const statuses = new Map<number | string, number>();
  // `measure` treats a returned number as the operation's own timing: return nothing.
  const summary = await measure(
    name,
    10,
    async () => {
      const status = await request();
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      // No warm-up: every request's status is counted.
    },
    0,
  );
  return {
    name,
    status: [...statuses].map(([status, count]) => `${status} ×${count}`).join(', '),
    medianMs: summary.medianMs,
  };
}

function row(measured: TimedStatus, baseline: TimedStatus, before: string): string[] {
  const ratio =
    measured === baseline ? 'baseline' : `${(measured.medianMs / baseline.medianMs).toFixed(2)}×`;
  return [measured.name, measured.status, measured.medianMs.toFixed(1), ratio, before];
}
