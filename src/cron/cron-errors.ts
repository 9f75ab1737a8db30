import { ConflictError, NotFoundError, QuotaExceededError } from '../errors/mags-error.ts';

export function cronNotFound(name: string): NotFoundError {
  return new NotFoundError(`No cron job ${JSON.stringify(name)}.`, {
    code: 'cron_not_found',
    hint: 'mags cron list shows your cron jobs.',
  });
}

export function cronExists(name: string): ConflictError {
  return new ConflictError(`A cron job named ${JSON.stringify(name)} exists already.`, {
    code: 'cron_exists',
    hint: `Pick another name, or remove it first (mags cron remove ${name}).`,
  });
}

export function cronLimit(maxPerOwner: number): QuotaExceededError {
  return new QuotaExceededError(
    `You have ${maxPerOwner} cron jobs, the most this server allows an owner (${maxPerOwner}).`,
    {
      code: 'cron_limit',
      hint: 'Remove one you no longer need (mags cron remove NAME); the server sets the limit with MAGS_CRON_MAX_PER_OWNER.',
    },
  );
}
