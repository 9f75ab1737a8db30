import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { ticketRecord } from '../state/record-fixtures.ts';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import type { StateRepository } from '../state/state-repository.ts';
import { followTicketEvents } from './follow-ticket-events.ts';
import { TicketEventLog } from './ticket-event-log.ts';
import { TicketRecorder } from './ticket-recorder.ts';

const directory = await mkdtemp(join(tmpdir(), 'mags-follow-'));
after(() => rm(directory, { recursive: true, force: true }));

test('a followed stream that ends on a status change ends once the ticket’s record has it too', async () => {
  const stored = createSqliteStateRepository(join(directory, 'state.db'));
  after(() => stored.close());
  // The record is written a while after its event, as over a slow network to PostgreSQL: the
  // follower reads the event first.
  const repository: StateRepository = {
    ...stored,
    async updateTicket(id, update) {
      await delay(200);
      await stored.updateTicket(id, update);
    },
  };
  const log = new TicketEventLog(repository);
  const recorder = new TicketRecorder(repository, log);
  const ticket = ticketRecord('tkt_follow', 'alice', 'app', { status: 'running', attempt: 1 });
  await repository.insertTicket(ticket);
  const followed = (async () => {
    const statuses: string[] = [];
    for await (const event of followTicketEvents(repository, log, ticket, { follow: true })) {
      if (event.data.type === 'status') statuses.push(event.data.to);
    }
    return { statuses, record: (await repository.getTicket('alice', 'tkt_follow'))?.status };
  })();
  await recorder.transition(ticket, 'awaiting_review', null);
  assert.deepEqual(await followed, { statuses: ['awaiting_review'], record: 'awaiting_review' });
});
