import type { LogChunk, StateRepository } from '../state/state-repository.ts';

export interface JobLogOptions {
  /** Output is stored in batches at most this old, so a crash loses at most this much of it. */
  flushDelayMs?: number;
  /** Output beyond this is dropped (with one notice on stderr) so a runaway job cannot fill the disk. */
  maxBytes?: number;
  /**
   * Asked before more output is kept (the owner's quota, see log-retention.ts): returns why it
   * may not be, and the output is truncated there like at `maxBytes`; undefined keeps it.
   */
  refuse?: (bytes: number) => string | undefined;
  /** Told after a batch is stored, with its size. */
  onStored?: (bytes: number) => void;
  /** Bytes already stored (a job another server process started): appends continue after them. */
  startOffset?: number;
}

/** Stored rows are capped at this size so readers can page through them. */
const maxChunkBytes = 64 * 1024;

/**
 * The output of one running job: appended as it is produced, stored in small batches, readable
 * from any byte offset while it grows. Readers pull (`read`, then `waitBeyond`) instead of being
 * pushed to, so a slow or disconnected client never holds output in memory and a reconnecting
 * one resumes at its offset with nothing lost or repeated.
 */
export class JobLog {
  readonly jobId: string;
  readonly #repository: StateRepository;
  readonly #flushDelayMs: number;
  readonly #maxBytes: number;
  readonly #refuse: JobLogOptions['refuse'];
  readonly #onStored: JobLogOptions['onStored'];
  /** Appended but not yet committed; `#flushing` is being committed right now. */
  #pending: LogChunk[] = [];
  #flushing: LogChunk[] = [];
  #end = 0;
  #truncated = false;
  #finished = false;
  #timer: NodeJS.Timeout | undefined;
  #flushed: Promise<void> = Promise.resolve();
  #waiters = new Set<() => void>();

  constructor(repository: StateRepository, jobId: string, options: JobLogOptions = {}) {
    this.#repository = repository;
    this.jobId = jobId;
    this.#flushDelayMs = options.flushDelayMs ?? 50;
    this.#maxBytes = options.maxBytes ?? 1024 * 1024 * 1024;
    this.#refuse = options.refuse;
    this.#onStored = options.onStored;
    this.#end = options.startOffset ?? 0;
  }

  get endOffset(): number {
    return this.#end;
  }

  get finished(): boolean {
    return this.#finished;
  }

  append(stream: LogChunk['stream'], data: Buffer): void {
    if (this.#finished || data.length === 0 || this.#truncated) return;
    const refused =
      this.#end + data.length > this.#maxBytes
        ? `the limit of one job's output`
        : this.#refuse?.(data.length);
    if (refused !== undefined) {
      this.#truncated = true;
      data = Buffer.from(
        `\nmags: output truncated at ${this.#end} bytes (${refused}); the rest was discarded\n`,
      );
      stream = 'stderr';
    }
    const last = this.#pending.at(-1);
    if (last && last.stream === stream && last.data.length + data.length <= maxChunkBytes) {
      last.data = Buffer.concat([last.data, data]);
    } else {
      // Copy: the stream may reuse its buffer.
      this.#pending.push({ offset: this.#end, stream, data: Buffer.from(data) });
    }
    this.#end += data.length;
    this.#timer ??= setTimeout(() => void this.flush(), this.#flushDelayMs);
    this.#wake();
  }

  /** Stores everything appended so far. Flushes run one at a time, in order. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // After a failed flush too (its caller had the error): a chain of `then` alone would hand
    // every later flush that same rejection and never store anything again.
    this.#flushed = this.#flushed
      .catch(() => {})
      .then(async () => {
        if (this.#pending.length === 0) return;
        this.#flushing = this.#pending;
        this.#pending = [];
        try {
          await this.#repository.appendLog(this.jobId, this.#flushing);
          this.#onStored?.(this.#flushing.reduce((sum, chunk) => sum + chunk.data.length, 0));
        } catch (error) {
          // Keep the batch for the next flush; a full disk must not lose what was produced.
          this.#pending = [...this.#flushing, ...this.#pending];
          throw error;
        } finally {
          this.#flushing = [];
        }
      });
    return this.#flushed;
  }

  /**
   * Stores the rest, then runs `ended` (the job's end put on its record), then marks the log
   * finished and wakes every follower for the last time: a follower that sees the log finished
   * reads the job's end, never a record still running (`ended` before the flag and the wake,
   * not after `finish` resolves, which is microtasks later than the followers it woke).
   */
  async finish(ended?: () => void): Promise<void> {
    // Output appended while a batch was being stored goes too: nothing is left unstored.
    do await this.flush();
    while (this.#pending.length > 0);
    ended?.();
    this.#finished = true;
    this.#wake();
  }

  /** Chunks from `fromOffset` on (the first one trimmed to start there), up to ~`maxBytes`. */
  async read(fromOffset: number, maxBytes: number): Promise<LogChunk[]> {
    const stored = await this.#repository.readLog(this.jobId, fromOffset, maxBytes);
    const chunks = stored.map((chunk) => trimChunk(chunk, fromOffset));
    let next = chunks.length > 0 ? endOf(chunks.at(-1) as LogChunk) : fromOffset;
    // What is not stored yet is in memory; take only what continues the stored part exactly, so
    // a flush finishing between the two reads can never open a gap or repeat bytes.
    for (const chunk of [...this.#flushing, ...this.#pending]) {
      if (endOf(chunk) <= next) continue;
      if (chunk.offset > next) break;
      chunks.push(trimChunk(chunk, next));
      next = endOf(chunk);
    }
    return chunks;
  }

  /** Resolves once there is output beyond `offset`, the log finishes, or `signal` aborts. */
  waitBeyond(offset: number, signal?: AbortSignal): Promise<void> {
    if (this.#end > offset || this.#finished || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

const endOf = (chunk: LogChunk) => chunk.offset + chunk.data.length;

function trimChunk(chunk: LogChunk, fromOffset: number): LogChunk {
  if (chunk.offset >= fromOffset) return chunk;
  return { ...chunk, offset: fromOffset, data: chunk.data.subarray(fromOffset - chunk.offset) };
}
