import type { JobRecord } from '../state/state-repository.ts';
import type { Job } from './schemas.ts';

/** A job as its owner sees it (the API's `Job`): no owner field, the argv as `command`. */
export function toJobView(record: JobRecord): Job {
  const { owner: _owner, argv, ...rest } = record;
  return { ...rest, command: argv };
}
