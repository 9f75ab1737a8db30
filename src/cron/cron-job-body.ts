import type { RunJobBody } from '../api/schemas.ts';
import type { CronJobRecord } from '../state/state-repository.ts';

/** What a run submits: the same body as `POST /v1/jobs` takes (`mags run` sends). */
export function cronJobBody(cron: CronJobRecord): RunJobBody {
  return {
    command: cron.command,
    ...(cron.workspace !== null && { workspace: cron.workspace }),
    ...(cron.persist && { persist: true }),
    network: cron.network,
    ...(cron.timeoutSeconds !== null && { timeoutSeconds: cron.timeoutSeconds }),
  };
}

/**
 * The origin its jobs carry (`mags list` shows it): the name for people, the id so that a cron
 * job removed and added again under the same name never counts the old one's jobs as its own
 * (overlap, `remove --stop`, a job found after a crash).
 */
export const cronOrigin = (cron: Pick<CronJobRecord, 'name' | 'id'>) =>
  `cron:${cron.name}:${cron.id}`;
