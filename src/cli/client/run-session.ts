import { createReadStream } from 'node:fs';
import type { RunOptions } from '../../api/run-options.ts';
import type { Job } from '../../api/schemas.ts';
import { definedFields } from '../../config/defined-fields.ts';
import type { Mags } from '../../sdk/mags.ts';
import type { SyncProgress } from '../../workspaces/sync/push-workspace.ts';

/** A host file `-f` uploads: its path here, the name it gets in /workspace, its mode. */
export interface LocalFile {
  path: string;
  name: string;
  mode: number;
  /** A directory: sent as a tar stream of its tree, which lands as /workspace/NAME. */
  directory?: boolean;
}

/** A `-f` directory as the tar stream a run's `archive` file is (its top-level entry NAME). */
async function packedDirectory(file: LocalFile): Promise<AsyncIterable<Uint8Array>> {
  const { packLocalTree } = await import('../../sdk/local-tree.ts');
  return (await packLocalTree(file.path, file.name)).stream;
}

/** What a followed run reports besides how it ended. */
export interface RunFollower {
  onOutput(stream: 'stdout' | 'stderr', data: Uint8Array): void;
  /** Its sandbox is up: once, before its command's output. */
  onStarted(sandboxId: string): void;
  /** A persistent workspace's sync (or restore) is under way. */
  onSyncProgress(progress: SyncProgress): void;
}

/**
 * What `mags run` asks of the job system, the same whether it is a server (remote or this host's
 * local one, through the SDK) or embedded in this process: submit a run job with its files,
 * follow it to the end, stop it.
 */
export interface RunSession {
  submit(argv: string[], options: RunOptions, files: LocalFile[]): Promise<Job>;
  /** Resolves with the finished job once its output has all been delivered. */
  follow(jobId: string, follower: RunFollower): Promise<Job>;
  stop(jobId: string): Promise<void>;
  /**
   * The user insists on leaving (a second Ctrl-C): what this process itself runs ends now. A
   * server carries out the stop already asked for; the embedded job system stops the run's
   * sandbox at once, which would otherwise outlive this process.
   */
  abandon(jobId: string): Promise<void>;
  /** The run is over and this process leaves right after. */
  close(): Promise<void>;
}

/** Through a server's API: files are streamed up first (`POST /v1/uploads`). */
export function serverSession(mags: Mags): RunSession {
  return {
    submit: async (argv, options, files) =>
      mags.run(argv, {
        ...options,
        files: await Promise.all(
          files.map(async (file) =>
            file.directory
              ? { name: file.name, data: await packedDirectory(file), archive: true }
              : { name: file.name, data: createReadStream(file.path), mode: file.mode },
          ),
        ),
      }),
    follow: (jobId, follower) =>
      mags.jobs.logs(jobId, {
        follow: true,
        onOutput: follower.onOutput,
        onStarted: follower.onStarted,
        onSyncProgress: follower.onSyncProgress,
      }),
    stop: async (jobId) => {
      await mags.jobs.stop(jobId);
    },
    abandon: async () => {},
    close: async () => {},
  };
}

/**
 * The embedded server: the job manager of this process, on the host's state database. Its files
 * are staged like a server's uploads, and its job is read back as the API shows it.
 */
export async function embeddedSession(options: RunOptions): Promise<RunSession> {
  const [{ createMagsContext }, { HeadStart }, { selectRuntime }] = await Promise.all([
    import('../../context/mags-context.ts'),
    import('../../scheduling/head-start.ts'),
    import('../../context/select-runtime.ts'),
  ]);
  const context = createMagsContext();
  // The sandbox's launcher sets up its namespaces while this process loads the job system and
  // records the job; the run then attaches its layers (or starts afresh: another image). On the
  // runtime the run asked for (an unknown name fails here, before anything starts).
  const headStart = new HeadStart({
    runtime: selectRuntime(context, options.runtime),
    image: options.image ?? context.defaults.image,
    limits: { ...context.defaults.limits, ...definedFields(options.limits) },
  });
  context.headStart = headStart;
  await headStart.spawned();
  const [{ startEmbeddedServer }, { toJobView }] = await Promise.all([
    import('../../server/embedded-server.ts'),
    import('../../server/job-view.ts'),
  ]);
  const { jobs, uploads, owner, sweep, close } = startEmbeddedServer({ context });
  // What a killed run left (a sandbox holding the workspace this run may want) goes first.
  await sweep();
  return {
    async submit(argv, options, files) {
      // Staged without a copy (a hard link, or the file read where it is by the job): this
      // process's own job system runs on this host.
      const staged = [];
      try {
        for (const file of files) {
          if (file.directory) {
            // A tree is packed once into the upload store (streamed to disk, not held here).
            const upload = await uploads.receive(owner, await packedDirectory(file));
            staged.push({ upload: upload.id, name: file.name, archive: true });
            continue;
          }
          const upload = await uploads.stageLocal(owner, file.path);
          staged.push({ upload: upload.id, name: file.name, mode: file.mode });
        }
        const record = await jobs.submitRun(owner, {
          ...options,
          argv,
          ...(staged.length > 0 ? { files: staged } : {}),
        });
        return toJobView(record);
      } catch (error) {
        await uploads.remove(
          owner,
          staged.map((file) => file.upload),
        );
        throw error;
      }
    },
    async follow(jobId, follower) {
      const unwatch = await jobs.watch(owner, jobId, (event) => {
        if (event.type === 'started') follower.onStarted(event.sandboxId);
        else follower.onSyncProgress(event.progress);
      });
      try {
        for await (const chunk of jobs.readLog(owner, jobId, { offset: 0, follow: true })) {
          follower.onOutput(chunk.stream, chunk.data);
        }
        return toJobView(await jobs.wait(owner, jobId));
      } finally {
        unwatch();
      }
    },
    async stop(jobId) {
      await jobs.stop(owner, jobId);
    },
    async abandon(jobId) {
      await jobs.kill(owner, jobId);
    },
    async close() {
      await headStart.close();
      await close();
    },
  };
}
