import { createMagsContext } from '../../src/context/mags-context.ts';
import { type HostPoolStatusInfo, Mags } from '../../src/sdk/mags.ts';
import {
  type RunningServer,
  type StartServerOptions,
  startServer,
} from '../../src/server/start-server.ts';
import { createToken } from '../../src/server/tokens.ts';
import { createTestHome, type TestHome } from './test-home.ts';

export interface TestServer {
  server: RunningServer;
  testHome: TestHome;
  url: string;
  /** A new token for `owner` (an admin token with `admin`), and an SDK client using it. */
  client(
    owner: string,
    options?: { admin?: boolean },
  ): Promise<{ token: string; tokenId: string; mags: Mags }>;
  close(): Promise<void>;
}

/** A real `mags server` on a free loopback port, in-process, on a throw-away MAGS_HOME. */
export async function startTestServer(
  options: StartServerOptions = {},
  environment: Record<string, string> = {},
): Promise<TestServer> {
  const testHome = await createTestHome();
  const server = await startServer({
    port: 0,
    context: createMagsContext({ ...process.env, ...environment, MAGS_HOME: testHome.home }),
    // Owners may import the fixture repositories made under the test's home.
    projectRoots: [testHome.home],
    ...options,
  });
  return {
    server,
    testHome,
    url: server.url,
    async client(owner, options) {
      const { repository } = server.services;
      const { token, record } = await createToken(repository, owner, 'test', options);
      return { token, tokenId: record.id, mags: new Mags({ url: server.url, token }) };
    },
    async close() {
      await server.close();
      await testHome.cleanup();
    },
  };
}

/** The host-wide figures of `/v1/pool`, which only an admin token sees. */
export async function hostPool(mags: Mags): Promise<HostPoolStatusInfo> {
  const { host } = await mags.pool();
  if (!host) throw new Error('/v1/pool showed no host figures: the client needs an admin token');
  return host;
}
