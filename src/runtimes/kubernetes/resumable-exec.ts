import { PassThrough } from 'node:stream';
import { MagsError } from '../../errors/mags-error.ts';
import type { GuestClient } from '../../guest/guest-client.ts';
import type { ExecResult, SandboxProcess } from '../runtime.ts';

/** How often a resume the agent refuses as busy (the old relay not yet gone) is tried again. */
const busyRetries = 10;
const busyRetryMs = 200;

/**
 * A durable exec (one with a key) that outlives its exec stream: when the stream to the pod drops
 * (an API-server restart, an idle timeout), the agent in the pod keeps the command running; once
 * `reconnected()` gives a new connection, the exec is resumed from the bytes already passed on,
 * and the caller sees one process. `reconnected()` resolves undefined when the pod is gone: the
 * command's `exited` then rejects as it did.
 */
export function resumableExec(
  connection: GuestClient,
  key: string,
  reconnected: (closed: GuestClient) => Promise<GuestClient | undefined>,
  request: Parameters<GuestClient['exec']>[0],
): SandboxProcess {
  const first = connection.exec(request);
  let on = connection;
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let current = first;
  const offsets = { stdoutOffset: 0, stderrOffset: 0 };
  const follow = (process: SandboxProcess) => {
    // Each stream's bytes go on; the last process's end ends them (below), not a dropped one's.
    process.stdout.on('data', (chunk: Buffer) => {
      offsets.stdoutOffset += chunk.length;
      stdout.write(chunk);
    });
    process.stderr.on('data', (chunk: Buffer) => {
      offsets.stderrOffset += chunk.length;
      stderr.write(chunk);
    });
    process.stdout.on('error', () => {});
    process.stderr.on('error', () => {});
  };
  const drained = (process: SandboxProcess) =>
    Promise.all([ended(process.stdout), ended(process.stderr)]);
  follow(first);
  const exited = (async (): Promise<ExecResult> => {
    for (;;) {
      try {
        const result = await current.exited;
        await drained(current);
        return result;
      } catch (error) {
        if (!(error instanceof MagsError) || error.code !== 'guest_closed') throw error;
        const client = await reconnected(on);
        // None, or the very connection that closed (a detach or a stop): the command is over here.
        if (!client || client === on) throw error;
        on = client;
        current = await resumeWhenFree(client, key, offsets);
        follow(current);
      }
    }
  })();
  // The streams end either way; `exited` says how (as a GuestProcess's do).
  const end = () => {
    stdout.end();
    stderr.end();
  };
  void exited.then(end, end);
  return {
    stdout,
    stderr,
    writeStdin: (data) => current.writeStdin(data),
    closeStdin: () => current.closeStdin(),
    signal: (signal) => current.signal(signal),
    resize: (rows, cols) => current.resize(rows, cols),
    stdinDrained: () => current.stdinDrained?.() ?? Promise.resolve(),
    exited,
  };
}

async function resumeWhenFree(
  client: GuestClient,
  key: string,
  offsets: { stdoutOffset: number; stderrOffset: number },
): Promise<SandboxProcess> {
  for (let attempt = 0; ; attempt++) {
    const resumed = client.resume(key, { ...offsets });
    // A refusal rejects `exited` before any output: EBUSY while the agent still holds the
    // dropped relay's connection.
    const refused = await Promise.race([
      resumed.exited.then(
        () => undefined,
        (error: unknown) => error,
      ),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), busyRetryMs)),
    ]);
    const busy = refused !== undefined && /EBUSY|errno 16|busy/i.test(String(refused));
    if (!busy || attempt >= busyRetries) return resumed;
    await new Promise((resolve) => setTimeout(resolve, busyRetryMs));
  }
}

function ended(stream: NodeJS.ReadableStream & { readableEnded?: boolean }): Promise<void> {
  if (stream.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
}
