import { isEmbedded, type ServerInstance, serverIsAlive } from '../config/server-instance.ts';
import type { MagsContext } from '../context/mags-context.ts';
import type { JobManager } from '../jobs/job-manager.ts';
import { runtimeOperation } from '../runtimes/require-capability.ts';
import { runtimeLabel } from '../sandboxes/sandbox-spec.ts';
import type { JobRecord, StateRepository } from '../state/state-repository.ts';

export const goneRunReason =
  'the mags run that ran this job was killed before the job ended, and no server was running to continue it; a later run on this host stopped its sandbox';

/**
 * What `mags run` processes of this host that were killed mid-run (SIGKILL, a closed terminal)
 * left behind: their jobs still read queued or running, and their sandboxes, which outlive the
 * process that started them (capability reattach), still run and hold their workspace's lock. The
 * job system embedded in a later run takes each such process's work over (once: a server starting
 * at the same moment may take it instead, and then continues the jobs, as its recovery does),
 * stops its sandboxes and fails its jobs with `goneRunReason`. It continues nothing (a run does
 * not wait for another's command) and never touches a server's work, dead or alive: that is for
 * the next server's recovery. The usual case, nothing left behind, is one query of the state.
 */
export async function sweepGoneRuns(options: {
  context: MagsContext;
  repository: StateRepository;
  jobs: JobManager;
  instance: ServerInstance;
  log?: (line: string) => void;
}): Promise<JobRecord[]> {
  const { context, repository, jobs, instance } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`mags: ${line}\n`));
  const gone = (await repository.unfinishedServers(instance.host)).filter(
    (server) => isEmbedded(server) && server !== instance.server && !serverIsAlive(server),
  );
  if (gone.length === 0) return [];
  const taken: JobRecord[] = [];
  const ours = new Set<string>();
  for (const server of gone) {
    const got = await repository.takeOverServer({
      server,
      host: instance.host,
      successor: instance.server,
      at: new Date().toISOString(),
    });
    if (!got) continue; // a server (or another run) starting now was first
    ours.add(server);
    taken.push(...got.jobs);
  }
  if (taken.length === 0) return [];
  for (const runtime of Object.values(context.runtimes)) {
    if (!runtime.capabilities.reattach) continue;
    // By label: the job's sandbox may be up before its id was recorded on the job. The job label
    // also finds the sandboxes of a run that was killed while it swept another's.
    const jobIds = new Set(taken.map((record) => record.id));
    for (const info of await runtimeOperation(runtime, 'list')()) {
      if ((info.labels[runtimeLabel] ?? runtime.name) !== runtime.name) continue; // another runtime's
      if (!ours.has(info.labels.server ?? '') && !jobIds.has(info.labels.job ?? '')) continue;
      try {
        await (await runtimeOperation(runtime, 'attach')(info.id)).stop();
      } catch (error) {
        log(`cannot stop sandbox ${info.id} of a killed run: ${(error as Error).message}`);
      }
    }
  }
  for (const record of taken) {
    await jobs.failAdopted(record, goneRunReason);
    log(
      `job ${record.id}, left running by a mags run that was killed, is failed (its sandbox is stopped)`,
    );
  }
  return taken;
}
