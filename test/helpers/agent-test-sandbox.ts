/**
 * A real sandbox for the agent's tests: the namespace runtime on a throw-away home (so reading
 * /etc/shadow or writing ../../ is a real escape attempt), with a writable workspace. Callers
 * skip with `sandboxSkipReason()` where it cannot run (no root, binaries or image not built).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { AgentSandbox } from '../../src/agents/agent-sandbox.ts';
import { runtimeAgentSandbox } from '../../src/agents/runtime-agent-sandbox.ts';
import { nativeBinaryPath } from '../../src/config/package-paths.ts';
import { ImageStore } from '../../src/images/image-store.ts';
import { createShiftedIdMapping } from '../../src/runtimes/namespace/id-mapping.ts';
import { createNamespaceRuntime } from '../../src/runtimes/namespace/namespace-runtime.ts';
import type { Sandbox } from '../../src/runtimes/runtime.ts';
import { createFilesystemObjectStore } from '../../src/storage/filesystem/filesystem-object-store.ts';
import { WorkspaceStore } from '../../src/workspaces/workspace-store.ts';
import { WorkspaceSync } from '../../src/workspaces/workspace-sync.ts';
import { createTestHome } from './test-home.ts';

export interface AgentTestSandbox {
  sandbox: AgentSandbox;
  runtimeSandbox: Sandbox;
  /** The image's root filesystem on the host (what the sandbox sees as /). */
  imageRootfs: string;
  cleanup(): Promise<void>;
}

export async function startAgentTestSandbox(): Promise<AgentTestSandbox> {
  const home = await createTestHome();
  const idMapping = createShiftedIdMapping();
  const workspaces = new WorkspaceStore({ home: home.home, idMapping });
  const runtime = createNamespaceRuntime({
    home: home.home,
    idMapping,
    stores: {
      images: new ImageStore({ home: home.home, idMapping }),
      workspaces,
      sync: new WorkspaceSync({
        store: createFilesystemObjectStore({ root: join(home.home, 'store') }),
        workspaces,
        home: home.home,
      }),
    },
    launcherPath: nativeBinaryPath('mags-sandbox'),
    agentPath: nativeBinaryPath('mags-agent'),
  });
  const runtimeSandbox = await runtime.start({
    id: `agent-${randomBytes(4).toString('hex')}`,
    image: { name: 'default' },
    workspace: { name: 'agent-test', access: 'writable' },
    limits: { memoryMiB: 512, cpus: 1, pidsMax: 256 },
    network: { egress: 'none' },
  });
  return {
    sandbox: runtimeAgentSandbox(runtimeSandbox),
    runtimeSandbox,
    imageRootfs: join(home.home, 'images', 'default', 'rootfs'),
    async cleanup() {
      await runtimeSandbox.stop().catch(() => {});
      await home.cleanup();
    },
  };
}

/**
 * Makes /workspace a git repository with one commit of what it holds (the agent reports file
 * changes only in a repository, as a ticket's workspace always is).
 */
export async function initWorkspaceRepository(sandbox: AgentSandbox): Promise<void> {
  const result = await sandbox.exec(
    'git init -q . && git add -A && git -c user.name=test -c user.email=test@example.com commit -q --allow-empty -m base',
    { timeoutMs: 30_000 },
  );
  if (result.exitCode !== 0) throw new Error(`git init failed: ${result.output}`);
}
