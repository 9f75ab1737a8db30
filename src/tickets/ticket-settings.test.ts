import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InvalidInputError } from '../errors/mags-error.ts';
import { defaultTicketSettings, ticketSettings } from './ticket-settings.ts';
import { parseAuthor } from './ticket-settings-environment.ts';

test('every MAGS_TICKET_* setting is read from the environment; what is given wins', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'mags-prices-'));
  try {
    const prices = join(directory, 'prices.json');
    await writeFile(
      prices,
      JSON.stringify({ 'acme:big': { inputPerMillionUsd: 2, outputPerMillionUsd: 8 } }),
    );
    const settings = ticketSettings(
      { maxRunningPerOwner: 1 },
      {
        MAGS_TICKET_MAX_RUNNING: '8',
        MAGS_TICKET_MAX_RUNNING_PER_OWNER: '3',
        MAGS_TICKET_MAX_STEPS: '20',
        MAGS_TICKET_MAX_COST_USD: '1.5',
        MAGS_TICKET_MAX_WALL: '45m',
        MAGS_TICKET_AUTHOR: 'Build Bot <bot@example.com>',
        MAGS_TICKET_CLOSED_RETENTION: '2d',
        MAGS_MODEL_PRICES: prices,
        MAGS_DEFAULT_MODEL: 'acme:big',
      },
    );
    assert.equal(settings.maxRunning, 8);
    assert.equal(settings.maxRunningPerOwner, 1);
    assert.deepEqual(settings.budget, {
      maxSteps: 20,
      maxTokens: defaultTicketSettings.budget.maxTokens,
      maxCostUsd: 1.5,
      maxWallMs: 45 * 60_000,
    });
    assert.deepEqual(settings.author, { name: 'Build Bot', email: 'bot@example.com' });
    assert.equal(settings.closedRetentionMs, 2 * 86_400_000);
    assert.deepEqual(settings.prices, {
      'acme:big': { inputPerMillionUsd: 2, outputPerMillionUsd: 8 },
    });
    assert.equal(settings.defaultModel, 'acme:big');
    assert.deepEqual(ticketSettings({}, {}), defaultTicketSettings);

    // A bad file is a clear error naming the variable and what is wrong.
    await writeFile(prices, JSON.stringify({ 'acme:big': { inputPerMillionUsd: -1 } }));
    assert.throws(
      () => ticketSettings({}, { MAGS_MODEL_PRICES: prices }),
      (error: unknown) => {
        assert.ok(error instanceof InvalidInputError);
        assert.equal(error.code, 'invalid_setting');
        assert.match(error.message, /^MAGS_MODEL_PRICES: \S+prices\.json at acme:big\./);
        return true;
      },
    );
    await writeFile(prices, '{ not json');
    assert.throws(
      () => ticketSettings({}, { MAGS_MODEL_PRICES: prices }),
      /MAGS_MODEL_PRICES: \S+ is not JSON/,
    );
    assert.throws(
      () => ticketSettings({}, { MAGS_MODEL_PRICES: join(directory, 'missing.json') }),
      /MAGS_MODEL_PRICES: cannot read \S+missing\.json/,
    );
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('a MAGS_TICKET_* value that does not parse is a clear error naming it', () => {
  const cases: Array<[string, string]> = [
    ['MAGS_TICKET_MAX_RUNNING', '0'],
    ['MAGS_TICKET_MAX_RUNNING', 'lots'],
    ['MAGS_TICKET_MAX_RUNNING_PER_OWNER', '1.5'],
    ['MAGS_TICKET_MAX_STEPS', '20000'],
    ['MAGS_TICKET_MAX_COST_USD', '-2'],
    ['MAGS_TICKET_MAX_WALL', 'forever'],
    ['MAGS_TICKET_MAX_WALL', '8d'],
    ['MAGS_TICKET_AUTHOR', 'just a name'],
    ['MAGS_TICKET_CLOSED_RETENTION', 'a week'],
  ];
  for (const [name, value] of cases) {
    assert.throws(
      () => ticketSettings({}, { [name]: value }),
      (error: unknown) => {
        assert.ok(error instanceof InvalidInputError, `${name}=${value}`);
        assert.equal(error.message, `${name}=${JSON.stringify(value)} is not valid.`);
        assert.match(error.hint ?? '', /^Set it to .+, or unset it for the default\.$/);
        return true;
      },
    );
  }
});

test('an author is "Name <email>"', () => {
  assert.deepEqual(parseAuthor('Ada Lovelace <ada@example.com>'), {
    name: 'Ada Lovelace',
    email: 'ada@example.com',
  });
  assert.equal(parseAuthor('<ada@example.com>'), undefined);
  assert.equal(parseAuthor('Ada <not an email>'), undefined);
  assert.equal(parseAuthor('Ada ada@example.com'), undefined);
});
