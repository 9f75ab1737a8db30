import type { Job } from '../api/schemas.ts';
import type { JobRecord } from '../state/state-repository.ts';

/**
 * A job as its owner sees it (the API's `Job`): no owner field, the argv as `command`, and none
 * of what only the job system uses (the server process running it, its stored options). Its host
 * is shown: with several hosts, where it runs is worth knowing.
 */
export function toJobView(record: JobRecord): Job {
  const {
    owner: _owner,
    argv,
    host,
    server: _server,
    runOptions: _runOptions,
    origin,
    runtime,
    ...rest
  } = record;
  return {
    ...rest,
    command: argv,
    origin: origin ?? null,
    runtime: runtime ?? 'namespace',
    host: host ?? null,
  };
}
