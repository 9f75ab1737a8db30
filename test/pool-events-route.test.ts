/**
 * `GET /v1/pool/events` in-process (`app.request()`): the first sample at once, owner-scoped
 * like `/v1/pool` (host figures only for an admin token), and a new sample when a job runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createParser } from 'eventsource-parser';
import type { PoolSample } from '../src/api/pool-events.ts';
import { createTestApp, type TestApp } from './helpers/test-app.ts';

/** Reads samples from the stream until `enough` says so, then closes it. */
async function samples(
  response: Response,
  enough: (received: PoolSample[]) => boolean,
): Promise<PoolSample[]> {
  const received: PoolSample[] = [];
  const parser = createParser({
    onEvent: (message) => {
      if (message.event === 'sample') received.push(JSON.parse(message.data) as PoolSample);
    },
  });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  try {
    while (!enough(received)) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    await reader.cancel();
  }
  return received;
}

describe('GET /v1/pool/events', () => {
  let api: TestApp;
  before(async () => {
    api = await createTestApp();
  });
  after(() => api.close());

  test('an owner gets its own figures at once, without the host', async () => {
    const { token } = await api.token('alice');
    const response = await api.request(token, 'GET', '/v1/pool/events');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
    const [first] = await samples(response, (received) => received.length >= 1);
    assert.equal(first?.owner.name, 'alice');
    assert.equal(first?.host, null);
    assert.ok(!Number.isNaN(Date.parse(first?.at ?? '')));
  });

  test('an admin gets the host figures, and a new sample when a job starts', async () => {
    const { token } = await api.token('root', { admin: true });
    const response = await api.request(token, 'GET', '/v1/pool/events');
    const started = samples(response, (received) =>
      received.some(
        (sample) => (sample.host?.jobs.running ?? 0) > 0 || sample.owner.jobs.running > 0,
      ),
    );
    const job = await api.request(token, 'POST', '/v1/jobs', { command: 'sleep 3' });
    assert.equal(job.status, 201, await job.clone().text());
    const received = await started;
    assert.ok(received[0]?.host, 'host figures for an admin');
    assert.ok(received.length >= 2);
  });
});
