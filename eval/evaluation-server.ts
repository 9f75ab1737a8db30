/**
 * A mags server in this process for the evaluation and the tickets benchmark, on a throw-away
 * MAGS_HOME that shares the built images: the real ticket layer, the real built-in agent loop,
 * with scripted models answering for `scripted:NAME` ids (real providers for the rest).
 */
import { tmpdir } from 'node:os';
import type { LanguageModel } from 'ai';
import type { Agent } from '../src/agents/agent.ts';
import { checkModel, resolveModel } from '../src/agents/resolve-model.ts';
import { createMagsContext } from '../src/context/mags-context.ts';
import { Mags } from '../src/sdk/mags.ts';
import {
  type PerOwnerLimits,
  type RunningServer,
  startServer,
} from '../src/server/start-server.ts';
import { createToken } from '../src/server/tokens.ts';
import { builtinTicketParts } from '../src/tickets/builtin-ticket-parts.ts';
import type { TicketSettings } from '../src/tickets/ticket-settings.ts';
import { createTestHome } from '../test/helpers/test-home.ts';

export const scriptedProvider = 'scripted';

export interface EvaluationServerOptions {
  /** Models for `scripted:NAME` ids, by NAME. */
  scripted?: Record<string, LanguageModel>;
  /** Wraps the built-in agent (the benchmark times what it emits). */
  wrapAgent?: (agent: Agent) => Agent;
  tickets?: Partial<TicketSettings>;
  /** Pooled sandboxes kept ready (the server's default when absent). */
  poolSize?: number;
  /** Each ticket keeps its sandbox: many tickets of one owner need more than the default. */
  perOwner?: PerOwnerLimits;
}

export interface EvaluationServer {
  server: RunningServer;
  home: string;
  /** A client for a new owner (each run of the suite is its own owner: projects do not clash). */
  client(owner: string): Promise<Mags>;
  close(): Promise<void>;
}

export async function startEvaluationServer(
  options: EvaluationServerOptions = {},
): Promise<EvaluationServer> {
  const testHome = await createTestHome();
  const scripted = options.scripted ?? {};
  // The server's own parts, with the scripted models beside the real providers.
  const parts = builtinTicketParts({
    resolveModel: (id) => {
      if (!id.startsWith(`${scriptedProvider}:`)) return resolveModel(id);
      const model = scripted[id.slice(scriptedProvider.length + 1)];
      if (!model) throw new Error(`no scripted model ${id}`);
      return model;
    },
  });
  let server: RunningServer;
  try {
    server = await startServer({
      port: 0,
      context: createMagsContext({ ...process.env, MAGS_HOME: testHome.home }),
      // The fixture repositories are made in a temporary directory (eval/run.ts): a throw-away
      // server of this process, not a shared one.
      projectRoots: [tmpdir()],
      ...(options.poolSize !== undefined ? { scheduling: { poolSize: options.poolSize } } : {}),
      ...(options.perOwner ? { perOwner: options.perOwner } : {}),
      tickets: {
        settings: options.tickets,
        parts: {
          ...parts,
          agent: options.wrapAgent ? options.wrapAgent(parts.agent) : parts.agent,
          // A scripted model needs no key; any other id is checked as the server would.
          checkModel: (id, environment) =>
            id.startsWith(`${scriptedProvider}:`) ? undefined : checkModel(id, environment),
        },
      },
    });
  } catch (error) {
    await testHome.cleanup();
    throw error;
  }
  return {
    server,
    home: testHome.home,
    async client(owner) {
      const { token } = await createToken(server.services.repository, owner, 'evaluation');
      return new Mags({ url: server.url, token });
    },
    async close() {
      await server.close();
      await testHome.cleanup();
    },
  };
}
