import { InvalidInputError, MagsError } from '../../errors/mags-error.ts';
import { CreditedReadable } from '../../guest/credited-readable.ts';
import type { ExecResult, ResumedProcess } from '../runtime.ts';
import type { DurableExec } from './fake-durable-exec.ts';

export type OutputStream = 'stdout' | 'stderr';

/**
 * One handle's hold on a durable exec (a connection's request id, in the agent's terms): the
 * streams and exit of the exec as this handle sees them.
 */
export class ExecConnection implements ResumedProcess {
  readonly stdout: CreditedReadable;
  readonly stderr: CreditedReadable;
  readonly exited: Promise<ExecResult>;
  readonly resumed: Promise<{ pid: number; stdoutOffset: number; stderrOffset: number }>;
  /** The sandbox handle it belongs to. */
  readonly owner: object;
  readonly #stdin: boolean;
  #exec: DurableExec | undefined;
  #settleExit: { resolve: (result: ExecResult) => void; reject: (error: Error) => void };
  #settleResumed: {
    resolve: (point: { pid: number; stdoutOffset: number; stderrOffset: number }) => void;
    reject: (error: Error) => void;
  };

  constructor(owner: object, options: { stdin: boolean }) {
    this.owner = owner;
    this.#stdin = options.stdin;
    this.stdout = new CreditedReadable((bytes) => this.#exec?.acknowledge(this, 'stdout', bytes));
    this.stderr = new CreditedReadable((bytes) => this.#exec?.acknowledge(this, 'stderr', bytes));
    this.#settleExit = { resolve: () => {}, reject: () => {} };
    this.#settleResumed = { resolve: () => {}, reject: () => {} };
    this.exited = new Promise((resolve, reject) => {
      this.#settleExit = { resolve, reject };
    });
    this.resumed = new Promise((resolve, reject) => {
      this.#settleResumed = { resolve, reject };
    });
    // A caller may read only the streams, or only `exited`: neither rejection goes unhandled.
    this.exited.catch(() => {});
    this.resumed.catch(() => {});
  }

  bind(exec: DurableExec): void {
    this.#exec = exec;
  }

  deliver(stream: OutputStream, chunk: Buffer): void {
    this[stream].deliver(chunk);
  }

  resumedAt(point: { pid: number; stdoutOffset: number; stderrOffset: number }): void {
    this.#settleResumed.resolve(point);
  }

  finish(result: ExecResult): void {
    this.#end();
    this.#settleExit.resolve(result);
  }

  /** Refused (an ERROR frame): the error ends it. */
  refuse(error: Error): this {
    this.#end();
    this.#settleResumed.reject(error);
    this.#settleExit.reject(error);
    return this;
  }

  /** Its handle let go (the connection closed): the exec runs on without it. */
  close(): void {
    this.refuse(
      new MagsError('The connection to the sandbox was closed (detached).', {
        code: 'guest_closed',
      }),
    );
  }

  writeStdin(data: Buffer | string): void {
    if (!this.#stdin) throw new InvalidInputError('This command was started without stdin.');
    this.#exec?.writeStdin(this, data);
  }

  closeStdin(): void {
    this.#exec?.closeStdin(this);
  }

  signal(signal: NodeJS.Signals): void {
    this.#exec?.signal(this, signal);
  }

  resize(): void {}

  #end(): void {
    this.#exec = undefined;
    this.stdout.finish();
    this.stderr.finish();
  }
}
