import { splitArchivePath } from '../api/archive-path.ts';
import type { DirectoryListing } from '../api/directory-listing.ts';
import type { PoolSample } from '../api/pool-events.ts';
import type {
  CreateSandboxBody,
  ExecBody,
  Health,
  HostPoolStatusInfo,
  Job,
  JobList,
  OwnerUsageInfo,
  PoolStatusInfo,
  RunJobBody,
  SandboxInfo,
  SyncResult,
  Upload,
  WorkspaceInfo,
  WorkspaceVersion,
} from '../api/schemas.ts';
import { MagsError } from '../errors/mags-error.ts';
import { errorFromResponse, unreachableError } from './api-error.ts';
import { bodyChunks } from './body-chunks.ts';

export type { HostPoolStatusInfo, OwnerUsageInfo, PoolSample, PoolStatusInfo };

import { cronClient } from './cron-client.ts';
import type { FollowChangesOptions } from './follow-changes.ts';
import {
  followJobChanges,
  followSandboxChanges,
  type JobChange,
  type JobChangesOptions,
  type SandboxChange,
} from './job-sandbox-changes.ts';
import { type FollowOptions, followJobLogs } from './log-stream.ts';
import { pathSegment } from './path-segment.ts';
import { followWorkspaceChanges, type WorkspaceChange } from './plan-workspace-changes.ts';
import { plansClient } from './plans-client.ts';
import { followPoolEvents, type PoolEventsOptions } from './pool-events.ts';
import { projectsClient } from './projects-client.ts';
import { queryString } from './query-string.ts';
import { sandboxUrlsClient } from './sandbox-urls-client.ts';
import { ticketsClient } from './tickets-client.ts';
import { triggersClient } from './triggers-client.ts';

export interface MagsOptions {
  /** The server, e.g. http://127.0.0.1:7070 */
  url: string;
  token?: string;
  /** Replaces the global fetch (tests, proxies). */
  fetch?: typeof fetch;
}

/** A file's bytes: whole, or streamed (a Node stream, a web ReadableStream, any async iterable). */
export type UploadData = Uint8Array | string | AsyncIterable<Uint8Array>;

import type { TreeProgress } from './local-tree.ts';

export type { TreeProgress };

export interface TreeCopyOptions {
  /** Called as the tar stream flows (often: throttle any drawing). */
  onProgress?: (progress: TreeProgress) => void;
  signal?: AbortSignal;
  /**
   * Downloads only: a tar stream over this many bytes is stopped there (code `too_large`) and
   * leaves nothing, so a sandbox cannot fill this machine's disk. Default: no limit.
   */
  maxBytes?: number;
}

/** A file a run gets in its /workspace before its command starts. */
export interface RunFile {
  name: string;
  data: UploadData;
  /** Permission bits (default 0o644). */
  mode?: number;
  /**
   * `data` is a tar stream of a directory whose one top-level entry is `name` (node-tar's
   * `c({ cwd, portable: true }, [name])`): the tree lands as /workspace/NAME.
   */
  archive?: boolean;
}

/** The API's run options (the server's schema), with files given as their bytes. */
export type RunOptions = Omit<RunJobBody, 'command' | 'files'> & { files?: RunFile[] };
export type StreamCallbacks = Pick<FollowOptions, 'onOutput' | 'onStdout' | 'onStderr' | 'signal'>;

export interface CompletedJob {
  job: Job;
  /** The exit code, or null when the command did not exit by itself (killed, stopped). */
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The TypeScript SDK: everything the REST API does, typed from the server's own schemas.
 * Errors are MagsError subclasses chosen by HTTP status (`errorFromResponse`).
 *
 *     const mags = new Mags({ url: 'http://127.0.0.1:7070', token: process.env.MAGS_API_TOKEN });
 *     const { exitCode, stdout } = await mags.runAndWait('npm test', { workspace: 'app' });
 */
export class Mags {
  readonly url: string;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;

  constructor(options: MagsOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.#token = options.token;
    // Called unbound, a browser's fetch throws "Illegal invocation": keep it bound to its global.
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  health(): Promise<Health> {
    return this.#json('GET', '/health');
  }

  whoami(): Promise<{ owner: string; tokenId: string }> {
    return this.#json('GET', '/v1/whoami');
  }

  /**
   * The caller's own jobs, sandboxes and parked sandboxes against its limits (`owner`); with an
   * admin token also the host's pool, warm cache and counters (`host`, else null).
   */
  pool(): Promise<PoolStatusInfo> {
    return this.#json('GET', '/v1/pool');
  }

  /**
   * The figures of `pool()` as they change (a stream, no polling): a sample at once, then one
   * whenever something changed, at least every few seconds, until `signal` aborts.
   */
  poolEvents(options: PoolEventsOptions = {}): AsyncGenerator<PoolSample> {
    return followPoolEvents((path, signal) => this.#send('GET', path, undefined, signal), options);
  }

  /** Starts a command in a new sandbox and returns at once; stream it with `jobs.logs`. */
  async run(command: string | string[], options: RunOptions = {}): Promise<Job> {
    const { files, ...rest } = options;
    const staged = [];
    // Each file is streamed to the server first; the job writes them into /workspace.
    for (const file of files ?? []) {
      const upload = await this.uploads.create(file.data);
      staged.push({
        upload: upload.id,
        name: file.name,
        mode: file.mode,
        ...(file.archive ? { archive: true } : {}),
      });
    }
    const body: RunJobBody = { ...rest, command, ...(staged.length > 0 ? { files: staged } : {}) };
    return this.#json('POST', '/v1/jobs', body);
  }

  readonly uploads = {
    /** Stages a file for one run (`files: [{ upload: id, name }]` in the API's run body). */
    create: (data: UploadData): Promise<Upload> =>
      this.#json(
        'POST',
        '/v1/uploads',
        typeof data === 'string' ? new TextEncoder().encode(data) : data,
      ),
  };

  /** Runs a command and waits for it, streaming its output to the callbacks as it comes. */
  async runAndWait(
    command: string | string[],
    options: RunOptions & StreamCallbacks = {},
  ): Promise<CompletedJob> {
    const { onOutput, onStdout, onStderr, signal, ...body } = options;
    const job = await this.run(command, body);
    return this.#wait(job.id, { onOutput, onStdout, onStderr, signal });
  }

  readonly jobs = {
    get: (id: string): Promise<Job> => this.#json('GET', `/v1/jobs/${pathSegment(id, 'job id')}`),
    list: (
      query: {
        status?: Job['status'];
        workspace?: string;
        sandbox?: string;
        limit?: number;
        cursor?: string;
      } = {},
    ): Promise<JobList> => this.#json('GET', `/v1/jobs${queryString(query)}`),
    /** Stops the job and resolves once it has ended. */
    stop: (id: string): Promise<Job> =>
      this.#json('POST', `/v1/jobs/${pathSegment(id, 'job id')}/stop`),
    /** Deletes a finished job and its stored output (a running one is a ConflictError). */
    delete: async (id: string): Promise<void> => {
      await this.#send('DELETE', `/v1/jobs/${pathSegment(id, 'job id')}`);
    },
    /** Streams the output (following by default); resolves with the job when the stream ends. */
    logs: (id: string, options: FollowOptions = {}): Promise<Job> =>
      followJobLogs((path, signal) => this.#send('GET', path, undefined, signal), id, options),
    /** Waits for the job, collecting its output. */
    wait: (id: string, callbacks: StreamCallbacks = {}): Promise<CompletedJob> =>
      this.#wait(id, callbacks),
    /** The newest page, then each job as it is created, starts or finishes (`GET /v1/jobs?follow=true`). */
    follow: (options: JobChangesOptions = {}): AsyncGenerator<JobChange> =>
      followJobChanges((path, signal) => this.#send('GET', path, undefined, signal), options),
  };

  readonly sandboxes = {
    create: (body: CreateSandboxBody): Promise<SandboxInfo> =>
      this.#json('POST', '/v1/sandboxes', body),
    get: (name: string): Promise<SandboxInfo> => this.#json('GET', sandboxPath(name)),
    list: async (): Promise<SandboxInfo[]> =>
      (await this.#json<{ sandboxes: SandboxInfo[] }>('GET', '/v1/sandboxes')).sandboxes,
    start: (name: string): Promise<SandboxInfo> => this.#json('POST', `${sandboxPath(name)}/start`),
    stop: (name: string): Promise<SandboxInfo> => this.#json('POST', `${sandboxPath(name)}/stop`),
    /** Whether it sleeps (is frozen) when idle; a sleeping one is woken by any use. */
    update: (name: string, patch: { sleep: boolean }): Promise<SandboxInfo> =>
      this.#json('PATCH', sandboxPath(name), patch),
    delete: async (name: string): Promise<void> => {
      await this.#send('DELETE', sandboxPath(name));
    },
    /** Starts a command in the sandbox; the job streams like any other. */
    exec: (name: string, command: string | string[], options: Omit<ExecBody, 'command'> = {}) =>
      this.#json<Job>('POST', `${sandboxPath(name)}/exec`, { ...options, command }),
    execAndWait: async (
      name: string,
      command: string | string[],
      options: Omit<ExecBody, 'command'> & StreamCallbacks = {},
    ): Promise<CompletedJob> => {
      const { onOutput, onStdout, onStderr, signal, ...body } = options;
      const job = await this.sandboxes.exec(name, command, body);
      return this.#wait(job.id, { onOutput, onStdout, onStderr, signal });
    },
    /** The list, then each sandbox as it changes (`GET /v1/sandboxes?follow=true`). */
    follow: (options: FollowChangesOptions = {}): AsyncGenerator<SandboxChange> =>
      followSandboxChanges((path, signal) => this.#send('GET', path, undefined, signal), options),
    files: {
      /**
       * A directory's entries, sorted by name (at most 10,000, `truncated` past that); read
       * inside the sandbox without making a job.
       */
      list: (name: string, path: string): Promise<DirectoryListing> =>
        this.#json('GET', `${sandboxPath(name)}/directory${queryString({ path })}`),
      /** Reads a small file whole into memory; `stream` or `download` for large ones. */
      read: async (name: string, path: string): Promise<Uint8Array> => {
        const { body } = await this.sandboxes.files.stream(name, path);
        return new Uint8Array(await new Response(body).arrayBuffer());
      },
      /**
       * Streams a regular file: its size (known before any byte) and its bytes as they come.
       * Cancelling the stream (or `signal`) ends the read inside the sandbox too.
       */
      stream: async (
        name: string,
        path: string,
        options: { signal?: AbortSignal } = {},
      ): Promise<{ sizeBytes: number; body: ReadableStream<Uint8Array> }> => {
        const response = await this.#send(
          'GET',
          `${sandboxPath(name)}/files${queryString({ path })}`,
          undefined,
          options.signal,
        );
        return {
          sizeBytes: Number(response.headers.get('content-length')),
          // A 200 always has a body (an empty one for an empty file).
          body: response.body ?? new ReadableStream({ start: (controller) => controller.close() }),
        };
      },
      /**
       * Copies a file of the sandbox to a local file, streamed (memory stays small whatever the
       * size); returns the bytes written. A transfer cut short rejects and removes the partial file.
       */
      download: async (name: string, path: string, destination: string): Promise<number> => {
        const [{ createWriteStream }, { rm }, { Readable }, { pipeline }] = await Promise.all([
          import('node:fs'),
          import('node:fs/promises'),
          import('node:stream'),
          import('node:stream/promises'),
        ]);
        const { sizeBytes, body } = await this.sandboxes.files.stream(name, path);
        let written = 0;
        const source = Readable.fromWeb(body as import('node:stream/web').ReadableStream);
        source.on('data', (chunk: Buffer) => {
          written += chunk.length;
        });
        try {
          await pipeline(source, createWriteStream(destination));
          if (written !== sizeBytes) {
            throw new MagsError(
              `The download of ${path} ended after ${written} of ${sizeBytes} bytes.`,
              {
                code: 'download_incomplete',
                retryable: true,
              },
            );
          }
        } catch (error) {
          await rm(destination, { force: true });
          throw error;
        }
        return written;
      },
      write: async (
        name: string,
        path: string,
        data: Uint8Array | string,
        options: { mode?: number } = {},
      ): Promise<void> => {
        const mode = options.mode?.toString(8);
        await this.#send(
          'PUT',
          `${sandboxPath(name)}/files${queryString({ path, mode })}`,
          typeof data === 'string' ? new TextEncoder().encode(data) : data,
        );
      },
      ...this.#treeMethods(sandboxPath),
    },
    /** The WebSocket URL of an interactive shell (see the API docs for the frame format). */
    shellUrl: (name: string, size: { rows: number; cols: number; term?: string }): string =>
      `${this.url.replace(/^http/, 'ws')}${sandboxPath(name)}/shell${queryString(size)}`,
    /** URLs to the sandbox's ports, served by the server's proxy (`mags url`). */
    urls: sandboxUrlsClient(
      (method, path, body) => this.#json(method, path, body),
      (method, path) => this.#send(method, path),
    ),
  };

  readonly workspaces = {
    list: async (): Promise<WorkspaceInfo[]> =>
      (await this.#json<{ workspaces: WorkspaceInfo[] }>('GET', '/v1/workspaces')).workspaces,
    versions: async (name: string): Promise<WorkspaceVersion[]> =>
      (
        await this.#json<{ versions: WorkspaceVersion[] }>(
          'GET',
          `/v1/workspaces/${pathSegment(name, 'workspace name')}/versions`,
        )
      ).versions,
    sync: (name: string): Promise<SyncResult> =>
      this.#json('POST', `/v1/workspaces/${pathSegment(name, 'workspace name')}/sync`),
    delete: async (name: string): Promise<void> => {
      await this.#send('DELETE', `/v1/workspaces/${pathSegment(name, 'workspace name')}`);
    },
    /** A new workspace `target` that starts as a copy of `source` (copy-on-write; `source` idle). */
    fork: (source: string, target: string): Promise<WorkspaceInfo> =>
      this.#json('POST', `/v1/workspaces/${pathSegment(source, 'workspace name')}/fork`, {
        name: target,
      }),
    /**
     * The list, then each workspace as it is made, synced, forked or used by a run that ended
     * (`GET /v1/workspaces?follow=true`).
     */
    follow: (options: FollowChangesOptions = {}): AsyncGenerator<WorkspaceChange> =>
      followWorkspaceChanges((path, signal) => this.#send('GET', path, undefined, signal), options),
    /**
     * `sandboxes.files.uploadTree`, `downloadTree`, `putArchive` and `getArchive` for a
     * workspace: through its long-lived sandbox if one runs, else a sandbox the server starts for
     * the copy (the next run sees what it wrote); a copy out of a workspace this host does not
     * have is a 404.
     */
    ...this.#treeMethods(workspacePath),
  };

  readonly projects = projectsClient(
    (method, path, body) => this.#json(method, path, body),
    (method, path) => this.#send(method, path),
  );
  /** Cron jobs: commands run as jobs on a schedule while the server runs. */
  readonly cron = cronClient(
    (method, path, body) => this.#json(method, path, body),
    (method, path) => this.#send(method, path),
  );
  /** Tickets worked by agents: create, follow their events, review their evidence. */
  readonly tickets = ticketsClient({
    json: (method, path, body) => this.#json(method, path, body),
    send: (path, signal) => this.#send('GET', path, undefined, signal),
  });
  /** Background agents: triggers on schedules, webhooks and events. */
  readonly triggers = triggersClient(
    (method, path, body) => this.#json(method, path, body),
    (method, path) => this.#send(method, path),
  );
  /** Plans of tickets run in parallel: create, approve, follow, review the integration. */
  readonly plans = plansClient({
    json: (method, path, body) => this.#json(method, path, body),
    send: (path, signal) => this.#send('GET', path, undefined, signal),
  });

  /** The headers a WebSocket client needs (Node's WebSocket cannot set them: use `protocols`). */
  get authorization(): string | undefined {
    return this.#token && `Bearer ${this.#token}`;
  }

  /**
   * Tree copies of a sandbox (`sandboxes.files`) or a workspace (`workspaces`): `base` is its
   * API path.
   */
  #treeMethods(base: (name: string) => string) {
    return {
      /**
       * Copies a local file or directory tree to `remotePath` (it becomes that path; an existing
       * directory there is merged into), streamed as a tar archive: modes and symlinks kept,
       * links never followed. Node only. (`download` is the single-file copy out; the tree one
       * is `downloadTree`.)
       */
      uploadTree: (
        name: string,
        localPath: string,
        remotePath: string,
        options: TreeCopyOptions = {},
      ): Promise<TreeProgress> => this.#uploadTree(base(name), localPath, remotePath, options),
      /**
       * Copies a file or tree to `localPath` (it becomes that path), streamed; entries that would
       * land outside it or be written through a symlink are refused, setuid, setgid and sticky
       * bits dropped, and a refused or failed copy leaves nothing there. Node only.
       */
      downloadTree: (
        name: string,
        remotePath: string,
        localPath: string,
        options: TreeCopyOptions = {},
      ): Promise<TreeProgress> => this.#downloadTree(base(name), remotePath, localPath, options),
      /** Extracts a tar stream under `directory` (`PUT .../archive`). */
      putArchive: (
        name: string,
        directory: string,
        tar: Uint8Array | AsyncIterable<Uint8Array>,
        options: { signal?: AbortSignal } = {},
      ): Promise<void> => this.#putArchive(base(name), directory, tar, options.signal),
      /** A tar stream of `path`, one top-level entry (`GET .../archive`). */
      getArchive: (
        name: string,
        path: string,
        options: { signal?: AbortSignal } = {},
      ): Promise<ReadableStream<Uint8Array>> => this.#getArchive(base(name), path, options.signal),
    };
  }

  async #uploadTree(
    base: string,
    localPath: string,
    remotePath: string,
    options: TreeCopyOptions,
  ): Promise<TreeProgress> {
    const { packLocalTree } = await import('./local-tree.ts');
    const { parent, name } = splitArchivePath(remotePath);
    const { stream, progress } = await packLocalTree(localPath, name, options.onProgress);
    await this.#putArchive(base, parent, stream, options.signal);
    return progress;
  }

  async #downloadTree(
    base: string,
    remotePath: string,
    localPath: string,
    options: TreeCopyOptions,
  ): Promise<TreeProgress> {
    const { extractLocalTree } = await import('./local-tree.ts');
    const body = await this.#getArchive(base, remotePath, options.signal);
    return extractLocalTree(bodyChunks(body), localPath, {
      onProgress: options.onProgress,
      maxBytes: options.maxBytes,
    });
  }

  async #putArchive(
    base: string,
    directory: string,
    tar: Uint8Array | AsyncIterable<Uint8Array>,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    await this.#send(
      'PUT',
      `${base}/archive${queryString({ path: directory })}`,
      tar,
      signal,
      'application/x-tar',
    );
  }

  async #getArchive(
    base: string,
    path: string,
    signal: AbortSignal | undefined,
  ): Promise<ReadableStream<Uint8Array>> {
    const response = await this.#send(
      'GET',
      `${base}/archive${queryString({ path })}`,
      undefined,
      signal,
    );
    return response.body ?? new ReadableStream({ start: (controller) => controller.close() });
  }

  async #wait(id: string, callbacks: StreamCallbacks): Promise<CompletedJob> {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const job = await followJobLogs(
      (path, signal) => this.#send('GET', path, undefined, signal),
      id,
      {
        ...callbacks,
        onStdout: (text) => {
          stdout.push(text);
          callbacks.onStdout?.(text);
        },
        onStderr: (text) => {
          stderr.push(text);
          callbacks.onStderr?.(text);
        },
      },
    );
    return { job, exitCode: job.exitCode, stdout: stdout.join(''), stderr: stderr.join('') };
  }

  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.#send(method, path, body === undefined ? undefined : body);
    return (await response.json()) as T;
  }

  async #send(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
    binaryType = 'application/octet-stream',
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let payload: Uint8Array | string | AsyncIterable<Uint8Array> | undefined;
    if (body instanceof Uint8Array || isAsyncIterable(body)) {
      payload = body;
      headers['content-type'] = binaryType;
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    let response: Response;
    try {
      response = await this.#fetch(`${this.url}${path}`, {
        method,
        headers,
        body: payload as RequestInit['body'],
        signal,
        // A streamed body (an upload) is sent as it is read.
        ...(isAsyncIterable(payload) ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (error) {
      if (signal?.aborted) throw error;
      throw unreachableError(this.url, error);
    }
    if (!response.ok) {
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { error: { message: text.slice(0, 500) || undefined } };
      }
      throw errorFromResponse(response.status, parsed, response.headers);
    }
    return response;
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return (
    typeof (value as AsyncIterable<Uint8Array> | undefined)?.[Symbol.asyncIterator] === 'function'
  );
}

const sandboxPath = (name: string) => `/v1/sandboxes/${pathSegment(name, 'sandbox name')}`;
const workspacePath = (name: string) => `/v1/workspaces/${pathSegment(name, 'workspace name')}`;
