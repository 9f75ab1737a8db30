import type { TestContext } from 'node:test';
import type {
  ExecRequest,
  ImageReference,
  Runtime,
  RuntimeCapabilities,
  Sandbox,
  SandboxProcess,
  SandboxSpec,
} from '../runtime.ts';

/** What the contract's topic files get from `runRuntimeContract` to register their tests. */
export interface ContractHarness {
  /**
   * Registers one test: skipped when the runtime lists it by name, when the whole suite is
   * skipped on this host, or when the runtime does not declare `requires`.
   */
  it(
    title: string,
    body: (t: TestContext) => Promise<void>,
    requires?: keyof RuntimeCapabilities,
  ): void;
  /** Starts a sandbox of the runtime under test on its image; stopped when the test ends. */
  start(overrides?: Partial<SandboxSpec>): Promise<Sandbox>;
  /** The runtime under test and the image it starts (inside a test body). */
  subject(): { runtime: Runtime; image: ImageReference };
  /** Stops a sandbox a test got other than from `start` (attached, say) when the test ends. */
  track(sandbox: Sandbox): void;
}

export interface Collected {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number | null;
  signal: string | null;
}

export async function collect(process: SandboxProcess): Promise<Collected> {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  process.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  process.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  // All of the output: the exit can be known before the last chunks have been emitted.
  const [result] = await Promise.all([
    process.exited,
    streamEnded(process.stdout),
    streamEnded(process.stderr),
  ]);
  return { stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), ...result };
}

function streamEnded(stream: NodeJS.ReadableStream & { readableEnded?: boolean }): Promise<void> {
  if (stream.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
}

const baseEnvironment = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/root', LANG: 'C.UTF-8' };

export function shell(script: string, extra: Partial<ExecRequest> = {}): ExecRequest {
  return { argv: ['/bin/sh', '-c', script], env: baseEnvironment, cwd: '/workspace', ...extra };
}
