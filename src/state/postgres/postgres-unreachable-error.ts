import { DependencyMissingError } from '../../errors/mags-error.ts';
import type { StateRepository } from '../state-repository.ts';

/**
 * Error codes that mean the database could not be reached, not that a statement was wrong:
 * errno of the socket, postgres.js's own (node_modules/postgres/src/errors.js), and SQLSTATEs of
 * a server shutting down or full (https://www.postgresql.org/docs/current/errcodes-appendix.html).
 */
const unreachableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, in recovery)
  '53300', // too_many_connections
]);

/** Whether `error` says the database is unreachable (down, restarting, full). */
export function isPostgresUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && unreachableCodes.has(code);
}

/**
 * The repository with every method's "unreachable" failure as a DependencyMissingError (503,
 * code `state_unavailable`, with a hint) instead of the client's raw error: a server keeps
 * running while PostgreSQL is down, and its pool connects again at the next query
 * (postgres.js), so a client or log reader learns the state is unreachable and that trying again
 * later works. Other errors pass unchanged.
 */
export function reportUnreachable(repository: StateRepository, where: string): StateRepository {
  const methods = repository as unknown as Record<string, unknown>;
  const wrapped: Record<string, unknown> = { ...methods };
  for (const [name, method] of Object.entries(methods)) {
    if (typeof method !== 'function') continue;
    wrapped[name] = (...args: unknown[]) => {
      const result = method.apply(repository, args);
      if (!(result instanceof Promise)) return result;
      return result.catch((error: unknown) => {
        if (!isPostgresUnreachable(error)) throw error;
        throw new DependencyMissingError(
          `The PostgreSQL state database at ${where} is unreachable: ${error instanceof Error ? error.message : String(error)} (${(error as { code: string }).code}).`,
          {
            cause: error,
            code: 'state_unavailable',
            hint: `Check that PostgreSQL runs at ${where} and accepts connections (max_connections, the network); the server reconnects by itself, so try again once it does.`,
          },
        );
      });
    };
  }
  return wrapped as unknown as StateRepository;
}
