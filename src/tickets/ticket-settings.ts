import type { ModelPriceTable } from '../agents/model-prices.ts';
import type { Budget } from '../api/tickets.ts';
import { ticketSettingsFromEnvironment } from './ticket-settings-environment.ts';

/** How a server runs tickets; every field has a default that suits one host. */
export interface TicketSettings {
  /** The budget of a ticket that does not set its own (each limit separately). */
  budget: Required<Budget>;
  /** The model when neither the ticket, its role nor its project names one (MAGS_DEFAULT_MODEL). */
  defaultModel: string | undefined;
  /** The role of a ticket that names none. */
  defaultRole: string;
  /** Agents running at once on this server, and for one owner; more wait as `queued`. */
  maxRunning: number;
  maxRunningPerOwner: number;
  /** How long a closed ticket's workspace and sandbox are kept before they are deleted. */
  closedRetentionMs: number;
  /** How often closed tickets past their retention are looked for. */
  sweepEveryMs: number;
  /** Who approved commits are by, unless the approval says. */
  author: { name: string; email: string };
  /** Limits of the platform's test command and of each criterion's check. */
  evidenceTimeouts: { testMs?: number; checkMs?: number };
  /** The server's additions to the price table (a project's own come on top). */
  prices: ModelPriceTable;
}

export const defaultTicketSettings: TicketSettings = {
  budget: {
    maxSteps: 50,
    maxTokens: 2_000_000,
    maxCostUsd: 5,
    maxWallMs: 30 * 60 * 1000,
  },
  defaultModel: undefined,
  defaultRole: 'developer',
  maxRunning: 4,
  maxRunningPerOwner: 2,
  closedRetentionMs: 7 * 24 * 3600 * 1000,
  sweepEveryMs: 10 * 60 * 1000,
  author: { name: 'mags', email: 'mags@localhost' },
  evidenceTimeouts: {},
  prices: {},
};

/**
 * The defaults, what the environment says (MAGS_DEFAULT_MODEL and the MAGS_TICKET_* variables,
 * `ticketSettingsFromEnvironment`), then what is given. Throws a clear error for a bad variable.
 */
export function ticketSettings(
  given: Partial<TicketSettings> = {},
  environment: NodeJS.ProcessEnv = process.env,
): TicketSettings {
  const fromEnvironment = ticketSettingsFromEnvironment(environment);
  return {
    ...defaultTicketSettings,
    defaultModel: environment.MAGS_DEFAULT_MODEL || undefined,
    ...fromEnvironment,
    ...given,
    budget: { ...defaultTicketSettings.budget, ...fromEnvironment.budget, ...given.budget },
  };
}
