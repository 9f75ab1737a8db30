/**
 * What the end-to-end plan tests share: a real server (in-process) on the namespace runtime with
 * the real ticket parts, the real PlanGit and scripted agent models, on a home that outlives one
 * server process (`start` again after `stop`: a restart), and a project imported from a fixture
 * repository whose test command passes. Plans are driven through the server's own PlanManager.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LanguageModel } from 'ai';
import type { PlanTicketSpecInput } from '../../src/api/plans.ts';
import type { ServerInstance } from '../../src/config/server-instance.ts';
import { createMagsContext } from '../../src/context/mags-context.ts';
import { type RunningServer, startServer } from '../../src/server/start-server.ts';
import type { PlanRecord } from '../../src/state/state-repository.ts';
import { builtinTicketParts } from '../../src/tickets/builtin-ticket-parts.ts';
import { call, finish, scriptedPrice, serverEnvironment } from './end-to-end-tickets.ts';
import { type ScriptEntry, scriptedModel } from './scripted-model.ts';
import { createTestHome, type TestHome } from './test-home.ts';

export interface PlanTestBed {
  testHome: TestHome;
  /** The fixture repository on the host (a checkout on main). */
  checkout: string;
  /** The server running now (`start` makes the next). */
  running: RunningServer;
  /** Starts a server on the same home (as `instance`, default this process). */
  start(instance?: ServerInstance): Promise<RunningServer>;
  /** Closes the running server, keeping its state for the next. */
  stop(): Promise<void>;
  /** A scripted model under a new `openai:` id (priced at `scriptedPrice`); survives restarts. */
  model(script: Parameters<typeof scriptedModel>[0]): { id: string; prompts(): string[] };
  close(): Promise<void>;
}

export async function startPlanTestBed(): Promise<PlanTestBed> {
  const testHome = await createTestHome();
  const models = new Map<string, LanguageModel>();
  const prices: Record<string, typeof scriptedPrice> = {};
  const checkout = join(testHome.home, 'fixtures', 'notes');
  await mkdir(checkout, { recursive: true });
  await writeFile(join(checkout, 'README.md'), '# notes\n');
  await writeFile(join(checkout, 'sum.js'), 'exports.sum = (a, b) => a - b;\n');
  const git = (...args: string[]) => execFileSync('git', ['-C', checkout, ...args]);
  git('init', '-q', '-b', 'main');
  git('add', '.');
  git('-c', 'user.name=Fixture', '-c', 'user.email=f@example.com', 'commit', '-qm', 'notes');
  let count = 0;
  const bed: PlanTestBed = {
    testHome,
    checkout,
    running: undefined as unknown as RunningServer,
    async start(instance) {
      bed.running = await startServer({
        port: 0,
        context: createMagsContext({ ...process.env, MAGS_DISK: '64M', MAGS_HOME: testHome.home }),
        projectRoots: [testHome.home],
        scheduling: { poolSize: 0 },
        instance,
        tickets: {
          parts: builtinTicketParts({
            resolveModel: (id) => {
              const model = models.get(id);
              if (!model) throw new Error(`no scripted model ${id}`);
              return model;
            },
            retry: { initialDelayMs: 1, maxDelayMs: 20 },
          }),
          environment: serverEnvironment,
          settings: { prices, maxRunningPerOwner: 4 },
        },
      });
      return bed.running;
    },
    async stop() {
      await bed.running.close();
    },
    model(script) {
      const id = `openai:scripted-${++count}`;
      const scripted = scriptedModel(script, { provider: 'openai', modelId: id });
      models.set(id, scripted.model);
      prices[id] = scriptedPrice;
      return { id, prompts: scripted.prompts };
    },
    async close() {
      await bed.running?.close().catch(() => {});
      await testHome.cleanup();
    },
  };
  return bed;
}

/** Imports the fixture as alice's project `name` (test command: `true`, so tests pass). */
export async function importProject(bed: PlanTestBed, name: string): Promise<void> {
  const project = await bed.running.services.projects.create('alice', {
    name,
    repo: bed.checkout,
    test: 'true',
  });
  if (project.status !== 'ready') throw new Error(`the fixture project is ${project.status}`);
}

/** A script that writes `<key>.txt` (after `before`, if given) and finishes claiming its criterion. */
export function writesFile(key: string, before: ScriptEntry[] = []): ScriptEntry[] {
  return [
    ...before,
    call('write_file', { path: `${key}.txt`, content: `${key}\n` }),
    finish(`wrote ${key}.txt`, true),
  ];
}

/** A plan ticket whose criterion checks that `files` are all in its workspace. */
export function ticketSpec(
  key: string,
  model: string,
  options: { dependsOn?: string[]; files?: string[]; check?: string } = {},
): PlanTicketSpecInput {
  const files = options.files ?? [`${key}.txt`];
  return {
    key,
    title: `ticket ${key}`,
    request: `Write ${key}.txt.`,
    criteria: [
      {
        text: `${files.join(', ')} exist`,
        check: options.check ?? files.map((file) => `test -f ${file}`).join(' && '),
      },
    ],
    model,
    dependsOn: options.dependsOn ?? [],
  };
}

/** A plan's items by key. */
export function itemsByKey(plan: PlanRecord): Record<string, PlanRecord['tickets'][number]> {
  return Object.fromEntries(plan.tickets.map((item) => [item.key, item]));
}

/** Resolves once `check` is true, looking every 50 ms; rejects after `timeoutMs`. */
export async function until(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
