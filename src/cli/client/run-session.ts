import { createReadStream } from 'node:fs';
import type { RunOptions } from '../../jobs/run-options.ts';
import type { Mags } from '../../sdk/mags.ts';
import type { Job } from '../../server/schemas.ts';

/** A host file `-f` uploads: its path here, the name it gets in /workspace, its mode. */
export interface LocalFile {
  path: string;
  name: string;
  mode: number;
}

/**
 * What `mags run` asks of the job system, the same whether it is a server (remote or this host's
 * local one, through the SDK) or embedded in this process: submit a run job with its files,
 * follow its output to the end, stop it.
 */
export interface RunSession {
  submit(argv: string[], options: RunOptions, files: LocalFile[]): Promise<Job>;
  /** Resolves with the finished job once its output has all been delivered. */
  follow(
    jobId: string,
    onOutput: (stream: 'stdout' | 'stderr', data: Uint8Array) => void,
  ): Promise<Job>;
  stop(jobId: string): Promise<void>;
  close(): Promise<void>;
}

/** Through a server's API: files are streamed up first (`POST /v1/uploads`). */
export function serverSession(mags: Mags): RunSession {
  return {
    submit: (argv, options, files) =>
      mags.run(argv, {
        ...options,
        files: files.map((file) => ({
          name: file.name,
          data: createReadStream(file.path),
          mode: file.mode,
        })),
      }),
    follow: (jobId, onOutput) => mags.jobs.logs(jobId, { follow: true, onOutput }),
    stop: async (jobId) => {
      await mags.jobs.stop(jobId);
    },
    close: async () => {},
  };
}

/**
 * The embedded server: the job manager of this process, on the host's state database. Its files
 * are staged like a server's uploads, and its job is read back as the API shows it.
 */
export async function embeddedSession(): Promise<RunSession> {
  const [{ startEmbeddedServer }, { toJobView }] = await Promise.all([
    import('../../server/embedded-server.ts'),
    import('../../server/job-view.ts'),
  ]);
  const server = startEmbeddedServer();
  const { jobs, uploads } = server.services;
  const owner = server.owner;
  return {
    async submit(argv, options, files) {
      const staged = [];
      for (const file of files) {
        const upload = await uploads.receive(owner, createReadStream(file.path));
        staged.push({ upload: upload.id, name: file.name, mode: file.mode });
      }
      const record = await jobs.submitRun(owner, {
        ...options,
        argv,
        ...(staged.length > 0 ? { files: staged } : {}),
      });
      return toJobView(record);
    },
    async follow(jobId, onOutput) {
      for await (const chunk of jobs.readLog(owner, jobId, { offset: 0, follow: true })) {
        onOutput(chunk.stream, chunk.data);
      }
      return toJobView(await jobs.wait(owner, jobId));
    },
    async stop(jobId) {
      await jobs.stop(owner, jobId);
    },
    close: () => server.close(),
  };
}
