import { readFileSync } from 'node:fs';
import { z } from '@hono/zod-openapi';
import type { ModelPriceTable } from '../agents/model-prices.ts';
import { ModelIdSchema, ModelPriceSchema } from '../api/projects.ts';
import { parseDurationMs } from '../config/duration.ts';
import { InvalidInputError } from '../errors/mags-error.ts';
import type { TicketSettings } from './ticket-settings.ts';

/**
 * A server's ticket settings from its environment (README, "Tickets"); each variable is optional.
 * A value that does not parse is a clear error naming the variable, so a server refuses to start
 * with it instead of running with a default nobody asked for.
 */
export function ticketSettingsFromEnvironment(
  environment: NodeJS.ProcessEnv,
): Partial<TicketSettings> {
  const read = (name: string) => {
    const value = environment[name]?.trim();
    return value ? value : undefined;
  };
  const settings: Partial<TicketSettings> = {};
  const budget: Partial<TicketSettings['budget']> = {};

  const maxRunning = read('MAGS_TICKET_MAX_RUNNING');
  if (maxRunning) settings.maxRunning = count('MAGS_TICKET_MAX_RUNNING', maxRunning);
  const perOwner = read('MAGS_TICKET_MAX_RUNNING_PER_OWNER');
  if (perOwner) settings.maxRunningPerOwner = count('MAGS_TICKET_MAX_RUNNING_PER_OWNER', perOwner);
  const maxSteps = read('MAGS_TICKET_MAX_STEPS');
  if (maxSteps) budget.maxSteps = count('MAGS_TICKET_MAX_STEPS', maxSteps, 10_000);
  const maxCost = read('MAGS_TICKET_MAX_COST_USD');
  if (maxCost) {
    const usd = Number(maxCost);
    if (!(Number.isFinite(usd) && usd > 0)) {
      throw invalid('MAGS_TICKET_MAX_COST_USD', maxCost, 'a positive number of USD, e.g. 5');
    }
    budget.maxCostUsd = usd;
  }
  const maxWall = read('MAGS_TICKET_MAX_WALL');
  if (maxWall) {
    const ms = parseDurationMs(maxWall);
    if (ms === undefined || ms < 1000 || ms > 7 * 86_400_000) {
      throw invalid('MAGS_TICKET_MAX_WALL', maxWall, 'a duration from 1s to 7d, e.g. 30m');
    }
    budget.maxWallMs = ms;
  }
  if (Object.keys(budget).length > 0) settings.budget = budget as TicketSettings['budget'];
  const author = read('MAGS_TICKET_AUTHOR');
  if (author) {
    const parsed = parseAuthor(author);
    if (!parsed)
      throw invalid('MAGS_TICKET_AUTHOR', author, 'Name <email>, e.g. mags <mags@example.com>');
    settings.author = parsed;
  }
  const retention = read('MAGS_TICKET_CLOSED_RETENTION');
  if (retention) {
    const ms = parseDurationMs(retention);
    if (ms === undefined) {
      throw invalid('MAGS_TICKET_CLOSED_RETENTION', retention, 'a duration, e.g. 7d or 12h');
    }
    settings.closedRetentionMs = ms;
  }
  const prices = read('MAGS_MODEL_PRICES');
  if (prices) settings.prices = readPrices(prices);
  return settings;
}

/** `Name <email>` → its parts; undefined when it is not that shape. */
export function parseAuthor(value: string): { name: string; email: string } | undefined {
  const match = /^([^<>]+?)\s*<([^<>\s]+@[^<>\s]+)>$/.exec(value.trim());
  if (!match) return undefined;
  return { name: match[1] as string, email: match[2] as string };
}

const PriceFileSchema = z.record(ModelIdSchema, ModelPriceSchema);

/** The price table in the JSON file at `path`: {"provider:model": {inputPerMillionUsd, ...}}. */
function readPrices(path: string): ModelPriceTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidInputError(
      `MAGS_MODEL_PRICES: cannot read ${path}: ${(error as Error).message}`,
      { code: 'invalid_setting', hint: 'Point it at a readable JSON file, or unset it.' },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(
      `MAGS_MODEL_PRICES: ${path} is not JSON: ${(error as Error).message}`,
      { code: 'invalid_setting', hint: pricesHint },
    );
  }
  const parsed = PriceFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw new InvalidInputError(
      `MAGS_MODEL_PRICES: ${path}${where}: ${issue?.message ?? 'invalid'}`,
      { code: 'invalid_setting', hint: pricesHint },
    );
  }
  return parsed.data;
}

const pricesHint =
  'The file is {"provider:model": {"inputPerMillionUsd": 3, "outputPerMillionUsd": 15}, ...}.';

function count(name: string, value: string, max = Number.MAX_SAFE_INTEGER): number {
  const number = Number(value);
  if (!(Number.isSafeInteger(number) && number >= 1 && number <= max)) {
    const range = max === Number.MAX_SAFE_INTEGER ? 'of at least 1' : `from 1 to ${max}`;
    throw invalid(name, value, `a whole number ${range}`);
  }
  return number;
}

function invalid(name: string, value: string, expected: string): InvalidInputError {
  return new InvalidInputError(`${name}=${JSON.stringify(value)} is not valid.`, {
    code: 'invalid_setting',
    hint: `Set it to ${expected}, or unset it for the default.`,
  });
}
