/**
 * Recorded exchanges: a local HTTP server replays each provider's documented streaming wire
 * format (test/fixtures/provider-wire/*.sse, written from the providers' API references), and
 * the real @ai-sdk/* packages, pointed at it by base URL through our model resolver, drive the
 * built-in agent through a write_file and a finish in a real sandbox.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createOpenAI } from '@ai-sdk/openai';
import type { LanguageModel } from 'ai';
import { createBuiltinAgent } from '../src/agents/builtin/builtin-agent.ts';
import { costOf } from '../src/agents/model-prices.ts';
import { resolveModel } from '../src/agents/resolve-model.ts';
import { agentTestSession, agentTestTask } from './helpers/agent-session.ts';
import {
  type AgentTestSandbox,
  initWorkspaceRepository,
  startAgentTestSandbox,
} from './helpers/agent-test-sandbox.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
const fixtures = join(import.meta.dirname, 'fixtures', 'provider-wire');

type WireFormat = 'anthropic-messages' | 'openai-chat-completions' | 'openai-responses';

interface RecordedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** One step of the replay: the fixture filled in with a tool call (arguments in two deltas). */
function replayBody(
  format: WireFormat,
  model: string,
  callId: string,
  tool: string,
  input: unknown,
) {
  const argumentsJson = JSON.stringify(input);
  const half = Math.floor(argumentsJson.length / 2);
  // Inside a JSON string in the fixture: escaped as JSON string content.
  const asStringContent = (text: string) => JSON.stringify(text).slice(1, -1);
  return readFileSync(join(fixtures, `${format}.sse`), 'utf8')
    .replaceAll('{{MODEL}}', model)
    .replaceAll('{{CALL_ID}}', callId)
    .replaceAll('{{TOOL}}', tool)
    .replaceAll('{{ARGUMENTS_HEAD}}', asStringContent(argumentsJson.slice(0, half)))
    .replaceAll('{{ARGUMENTS_TAIL}}', asStringContent(argumentsJson.slice(half)))
    .replaceAll('{{ARGUMENTS}}', asStringContent(argumentsJson));
}

describe('provider wire formats drive the built-in agent (recorded exchanges)', { skip }, () => {
  let box: AgentTestSandbox;
  let server: Server;
  let baseUrl: string;
  let requests: RecordedRequest[] = [];
  /** SSE bodies to stream, or an HTTP error to answer with. */
  let replies: Array<string | { status: number; headers: Record<string, string>; body: string }> =
    [];

  before(async () => {
    box = await startAgentTestSandbox();
    await initWorkspaceRepository(box.sandbox);
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        requests.push({
          path: request.url ?? '',
          headers: request.headers,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'),
        });
        const reply = replies.shift();
        if (!reply) {
          response.writeHead(500, { 'content-type': 'application/json' });
          response.end('{"error":{"message":"no more replies scripted"}}');
          return;
        }
        if (typeof reply !== 'string') {
          response.writeHead(reply.status, {
            'content-type': 'application/json',
            ...reply.headers,
          });
          response.end(reply.body);
          return;
        }
        response.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
        });
        // In pieces, as a network delivers it: the parsers must join events across chunks.
        const middle = Math.floor(reply.length / 2);
        response.write(reply.slice(0, middle));
        setTimeout(() => response.end(reply.slice(middle)), 5);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await box?.cleanup();
  });

  async function exchange(options: {
    name: string;
    model: string;
    format: WireFormat;
    resolve: (id: string) => LanguageModel;
  }) {
    const path = `wire/${options.name}.txt`;
    const content = `written through ${options.name}\n`;
    requests = [];
    replies = [
      replayBody(options.format, options.model, 'call_write_1', 'write_file', { path, content }),
      replayBody(options.format, options.model, 'call_finish_2', 'finish', {
        summary: 'Wrote the file.',
        claims: [{ criterion: 1, met: true }],
      }),
    ];
    const agent = createBuiltinAgent({ resolveModel: options.resolve, retry: { maxRetries: 0 } });
    const session = agentTestSession(box.sandbox);
    const task = agentTestTask({ model: options.model });
    const outcome = await agent.run(task, session);
    assert.equal(outcome.reason, 'finished', outcome.message);
    assert.equal((await box.sandbox.readFile(path)).toString(), content);
    assert.equal(requests.length, 2);
    assert.deepEqual(outcome.usage, {
      inputTokens: 240,
      outputTokens: 90,
      costUsd: costOf(options.model, { inputTokens: 240, outputTokens: 90 }),
      steps: 2,
    });
    const text = session.events.filter((event) => event.type === 'text').map((event) => event.text);
    assert.equal(text.join(''), 'Working on it.Working on it.');
    const change = session.events.find((event) => event.type === 'file_change');
    assert.equal(change?.path, path);
    // The second request carries the tool's result back to the provider.
    assert.match(JSON.stringify(requests[1]?.body), /Wrote \/workspace\/wire/);
    assert.match(JSON.stringify(requests[0]?.body), /write_file/);
    return { requests, outcome };
  }

  const env = (extra: Record<string, string>) => (id: string) => resolveModel(id, extra);

  test('Anthropic Messages SSE (tool_use with input_json_delta, usage in message_delta)', async () => {
    const { requests } = await exchange({
      name: 'anthropic',
      model: 'anthropic:claude-sonnet-4-5',
      format: 'anthropic-messages',
      resolve: env({ ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: baseUrl }),
    });
    assert.equal(requests[0]?.path, '/v1/messages');
    assert.equal(requests[0]?.headers['x-api-key'], 'sk-ant-test');
    assert.equal(requests[0]?.body.stream, true);
    assert.equal(requests[0]?.body.model, 'claude-sonnet-4-5');
  });

  test('OpenAI Responses SSE (function_call_arguments deltas, usage in response.completed)', async () => {
    const { requests, outcome } = await exchange({
      name: 'openai-responses',
      model: 'openai:gpt-5',
      format: 'openai-responses',
      resolve: env({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: baseUrl }),
    });
    assert.equal(requests[0]?.path, '/v1/responses');
    assert.equal(requests[0]?.headers.authorization, 'Bearer sk-test');
    assert.ok(outcome.usage.costUsd > 0);
  });

  test('OpenAI Chat Completions SSE (tool_calls deltas, usage chunk)', async () => {
    const { requests } = await exchange({
      name: 'openai-chat',
      model: 'openai:gpt-4.1',
      format: 'openai-chat-completions',
      // The openai package's Chat Completions model (openai.chat), as a proxy speaking only it.
      resolve: (id) =>
        createOpenAI({ apiKey: 'sk-test', baseURL: baseUrl }).chat(id.slice('openai:'.length)),
    });
    assert.equal(requests[0]?.path, '/v1/chat/completions');
    assert.deepEqual(requests[0]?.body.stream_options, { include_usage: true });
  });

  test('an OpenAI-compatible server (Chat Completions) with its own key', async () => {
    const { requests } = await exchange({
      name: 'compatible',
      model: 'openai-compatible:qwen3-coder',
      format: 'openai-chat-completions',
      resolve: env({
        MAGS_OPENAI_COMPATIBLE_BASE_URL: baseUrl,
        MAGS_OPENAI_COMPATIBLE_API_KEY: 'local-key',
      }),
    });
    assert.equal(requests[0]?.path, '/v1/chat/completions');
    assert.equal(requests[0]?.headers.authorization, 'Bearer local-key');
    assert.equal(requests[0]?.body.model, 'qwen3-coder');
  });

  test('Ollama through its OpenAI-compatible endpoint (model names with a colon)', async () => {
    const { requests } = await exchange({
      name: 'ollama',
      model: 'ollama:qwen3:8b',
      format: 'openai-chat-completions',
      resolve: env({ OLLAMA_BASE_URL: baseUrl }),
    });
    assert.equal(requests[0]?.body.model, 'qwen3:8b');
    assert.equal(requests[0]?.headers.authorization, undefined);
  });

  test('xAI (its Responses API)', async () => {
    const { requests } = await exchange({
      name: 'xai',
      model: 'xai:grok-4',
      format: 'openai-responses',
      resolve: env({ XAI_API_KEY: 'xai-test', XAI_BASE_URL: baseUrl }),
    });
    assert.equal(requests[0]?.path, '/v1/responses');
    assert.equal(requests[0]?.headers.authorization, 'Bearer xai-test');
  });

  test('an Anthropic 429 with Retry-After is retried; a 529 overload that persists ends the run', async () => {
    const rateLimited = {
      status: 429,
      headers: { 'retry-after': '0' },
      body: '{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}',
    };
    const overloaded = {
      status: 529,
      headers: {},
      body: '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
    };
    const resolve = env({ ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: baseUrl });
    const model = 'anthropic:claude-haiku-4-5';
    requests = [];
    replies = [
      rateLimited,
      replayBody('anthropic-messages', model, 'call_finish_1', 'finish', {
        summary: 'Nothing to do.',
        claims: [{ criterion: 1, met: false, note: 'did not try' }],
      }),
    ];
    const agent = createBuiltinAgent({
      resolveModel: resolve,
      retry: { maxRetries: 2, initialDelayMs: 1 },
    });
    const session = agentTestSession(box.sandbox);
    const outcome = await agent.run(agentTestTask({ model }), session);
    assert.equal(outcome.reason, 'finished', outcome.message);
    const retries = session.events.filter((event) => event.type === 'retry');
    assert.equal(retries.length, 1);
    assert.equal(retries[0]?.delayMs, 0);
    assert.match(retries[0]?.message ?? '', /per-minute rate limit.*429/);

    requests = [];
    replies = [overloaded, overloaded, overloaded];
    const failing = agentTestSession(box.sandbox);
    const failed = await agent.run(agentTestTask({ model }), failing);
    assert.equal(failed.reason, 'provider_error');
    assert.match(failed.message, /failed 3 times: Overloaded \(HTTP 529\)/);
    assert.equal(requests.length, 3);
    assert.deepEqual(
      failing.events.filter((event) => event.type === 'retry').map((event) => event.delayMs),
      [1, 2],
    );
  });
});
