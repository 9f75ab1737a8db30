/**
 * Recorded exchanges for the planner: a local HTTP server replays each provider's documented
 * non-streaming response (test/fixtures/provider-wire/*-structured.json, written from the
 * providers' API references) and the real @ai-sdk/* packages, pointed at it by base URL through
 * our model resolver (the planner's default), carry the planner's structured-output call: the request asks for the plan's
 * JSON schema, a refused answer goes back with its reason, and usage is read from the wire.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { costOf } from '../src/agents/model-prices.ts';
import { MagsError } from '../src/errors/mags-error.ts';
import { createModelPlanner } from '../src/plans/planner/model-planner.ts';
import { projectRecord } from './helpers/project-record.ts';

const fixtures = join(import.meta.dirname, 'fixtures', 'provider-wire');

interface RecordedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

type Reply = { status: number; body: string };

/** The fixture with the model and the answer's text (as JSON string content) filled in. */
function replayBody(fixture: string, model: string, answer: string): Reply {
  const body = readFileSync(join(fixtures, fixture), 'utf8')
    .replaceAll('{{MODEL}}', model)
    .replaceAll('{{TEXT}}', JSON.stringify(answer).slice(1, -1));
  return { status: 200, body };
}

const plan = {
  summary: 'Add a health endpoint, then document it.',
  tickets: [
    {
      key: 'health-endpoint',
      title: 'GET /health',
      request: 'Add GET /health answering {"ok":true} with status 200.',
      criteria: [{ text: 'its test passes', check: 'node --test test/health.test.js' }],
      role: null,
      dependsOn: [],
    },
    {
      key: 'health-docs',
      title: 'Document /health',
      request: 'Describe GET /health in README.md.',
      criteria: [{ text: 'README mentions /health', check: 'grep -q /health README.md' }],
      role: null,
      dependsOn: ['health-endpoint'],
    },
  ],
};
const unknownDependency = {
  ...plan,
  tickets: [plan.tickets[0], { ...plan.tickets[1], dependsOn: ['health'] }],
};

/** Every object of a JSON schema lists all its properties as required (OpenAI strict mode). */
function assertStrictCompatible(schema: unknown, path = 'schema'): void {
  if (Array.isArray(schema)) {
    for (const [index, each] of schema.entries()) assertStrictCompatible(each, `${path}[${index}]`);
    return;
  }
  if (schema === null || typeof schema !== 'object') return;
  const node = schema as Record<string, unknown>;
  if (node.type === 'object' && node.properties) {
    assert.deepEqual(
      [...((node.required as string[]) ?? [])].sort(),
      Object.keys(node.properties).sort(),
      `${path}: every property required`,
    );
    assert.equal(node.additionalProperties, false, `${path}: additionalProperties false`);
  }
  for (const keyword of ['minLength', 'maxLength', 'default']) {
    assert.ok(!(keyword in node), `${path}: ${keyword} is not for strict mode`);
  }
  for (const [key, value] of Object.entries(node)) assertStrictCompatible(value, `${path}.${key}`);
}

describe('the planner over provider wire formats (recorded exchanges)', () => {
  let server: Server;
  let baseUrl: string;
  let requests: RecordedRequest[] = [];
  let replies: Reply[] = [];

  before(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        requests.push({
          path: request.url ?? '',
          headers: request.headers,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'),
        });
        const reply = replies.shift() ?? {
          status: 500,
          body: '{"error":{"message":"no more replies scripted"}}',
        };
        response.writeHead(reply.status, { 'content-type': 'application/json' });
        response.end(reply.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  async function planWith(model: string, environment: Record<string, string>) {
    const attempts: Array<{ attempt: number; accepted: boolean; message: string }> = [];
    const planner = createModelPlanner({ maxRetries: 0 });
    const result = await planner({
      project: projectRecord('service', { test: 'npm test' }),
      request: 'Add a health endpoint and document it',
      model,
      environment,
      onAttempt: (attempt) => attempts.push(attempt),
    });
    return { ...result, attempts };
  }

  test('OpenAI Responses: json_schema strict output, a refusal sent back, usage read', async () => {
    requests = [];
    replies = [
      replayBody(
        'openai-responses-structured.json',
        'gpt-5-2025-08-07',
        JSON.stringify(unknownDependency),
      ),
      replayBody('openai-responses-structured.json', 'gpt-5-2025-08-07', JSON.stringify(plan)),
    ];
    const { spec, usage, attempts } = await planWith('openai:gpt-5', {
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: baseUrl,
    });
    assert.deepEqual(
      spec.tickets.map((ticket) => [ticket.key, ticket.dependsOn]),
      [
        ['health-endpoint', []],
        ['health-docs', ['health-endpoint']],
      ],
    );
    assert.deepEqual(spec.tickets[0]?.criteria, [
      { text: 'its test passes', check: 'node --test test/health.test.js' },
    ]);
    assert.deepEqual(
      attempts.map((each) => each.accepted),
      [false, true],
    );
    assert.match(attempts[0]?.message ?? '', /health-docs depends on health/);
    assert.deepEqual(usage, {
      inputTokens: 1624,
      outputTokens: 602,
      costUsd: 2 * costOf('openai:gpt-5', { inputTokens: 812, outputTokens: 301 }),
      steps: 2,
    });
    assert.equal(requests.length, 2);
    assert.equal(requests[0]?.path, '/v1/responses');
    assert.equal(requests[0]?.headers.authorization, 'Bearer sk-test');
    assert.equal(requests[0]?.body.model, 'gpt-5');
    const format = (requests[0]?.body.text as { format?: Record<string, unknown> })?.format;
    assert.equal(format?.type, 'json_schema');
    assert.equal(format?.name, 'plan');
    assert.equal(format?.strict, true);
    // OpenAI refuses a strict schema with an optional property: the answer schema has none.
    assertStrictCompatible(format?.schema);
    // The second request carries the refused answer and the reason back.
    const second = JSON.stringify(requests[1]?.body);
    assert.ok(second.includes('That plan was refused'), second.slice(0, 500));
    assert.ok(second.includes('which is not a ticket of the plan'));
  });

  test('Anthropic Messages: the plan schema in the request, the text answer read', async () => {
    requests = [];
    replies = [
      replayBody(
        'anthropic-messages-structured.json',
        'claude-sonnet-4-5-20250929',
        JSON.stringify(plan),
      ),
    ];
    const { spec, usage, attempts } = await planWith('anthropic:claude-sonnet-4-5', {
      ANTHROPIC_API_KEY: 'sk-ant-test',
      ANTHROPIC_BASE_URL: baseUrl,
    });
    assert.equal(spec.tickets.length, 2);
    assert.deepEqual(attempts, [{ attempt: 1, accepted: true, message: 'a plan of 2 tickets' }]);
    assert.deepEqual(usage, {
      inputTokens: 812,
      outputTokens: 301,
      costUsd: costOf('anthropic:claude-sonnet-4-5', { inputTokens: 812, outputTokens: 301 }),
      steps: 1,
    });
    assert.equal(requests[0]?.path, '/v1/messages');
    assert.equal(requests[0]?.headers['x-api-key'], 'sk-ant-test');
    assert.equal(requests[0]?.body.model, 'claude-sonnet-4-5');
    // Native structured output (output_config.format) with the answer's schema.
    const format = (requests[0]?.body.output_config as { format?: Record<string, unknown> })
      ?.format;
    assert.equal(format?.type, 'json_schema');
    assert.match(JSON.stringify(format?.schema), /"dependsOn"/);
    assert.match(JSON.stringify(requests[0]?.body.system), /You are the planner/);
  });

  test('a provider’s error answer is the planner error in the provider’s words', async () => {
    requests = [];
    replies = [
      {
        status: 400,
        body: JSON.stringify({
          error: {
            message: "Invalid schema for response_format 'plan'.",
            type: 'invalid_request_error',
            param: 'text.format.schema',
            code: 'invalid_json_schema',
          },
        }),
      },
    ];
    const error = await planWith('openai:gpt-5', {
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: baseUrl,
    }).then(
      () => assert.fail('the planner succeeded'),
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof MagsError);
    assert.equal(error.code, 'planner_provider_error');
    assert.equal(error.retryable, false);
    assert.match(error.message, /Invalid schema for response_format 'plan'\. \(HTTP 400\)/);
    assert.equal(requests.length, 1, 'a 400 is not retried');
  });
});
