import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { WorkspaceNameSchema } from '../api/run-options.ts';
import { formatBytes } from '../config/byte-sizes.ts';
import type { Mags } from '../sdk/mags.ts';
import { jsonResult, toolResult } from './tool-result.ts';

/**
 * The API's own name rule (WorkspaceNameSchema), checked before any request: a name such as "."
 * or ".." would otherwise be resolved as a URL path segment and reach another route.
 */
const workspaceName = (what: string) =>
  WorkspaceNameSchema.describe(
    `${what}: up to 100 letters, digits, ".", "_" and "-", starting with a letter or digit, no ".." (e.g. "app").`,
  );

const mebibytes = (bytes: number | null) =>
  bytes === null ? 'unknown size' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/**
 * Workspaces through the SDK (`client.workspaces`): list, versions, sync, fork. What a workspace
 * is and when a sync is needed is said in the descriptions, since a model only reads those.
 */
export function registerWorkspaceTools(server: McpServer, client: Mags): void {
  server.registerTool(
    'workspace_list',
    {
      title: 'List workspaces',
      description:
        "Lists the caller's workspaces. A workspace is a named, persistent /workspace directory " +
        '(with whatever a run installed elsewhere in the filesystem) that outlives sandboxes: ' +
        'every sandbox or run created with the same workspace name sees the files the last one ' +
        'left. Each entry has its size on this host, its disk size, the latest version synced ' +
        'to object storage (remoteVersion, null if never synced) and the workspace it was ' +
        'forked from.',
      inputSchema: z.strictObject({}),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    () =>
      toolResult(async () => {
        const workspaces = await client.workspaces.list();
        const lines = workspaces.map(
          (workspace) =>
            `${workspace.name}: ${mebibytes(workspace.sizeBytes)}, synced version ` +
            `${workspace.remoteVersion ?? 'none'}, last used ${workspace.lastUsedAt}` +
            (workspace.forkedFrom ? `, forked from ${workspace.forkedFrom}` : ''),
        );
        return jsonResult(lines.length > 0 ? lines.join('\n') : 'No workspaces yet.', {
          workspaces,
        });
      }),
  );

  server.registerTool(
    'workspace_versions',
    {
      title: 'List the synced versions of a workspace',
      description:
        'Lists the versions of a workspace stored in object storage, oldest first: each ' +
        'workspace_sync that changed something made one (version number, commit time, size in ' +
        'bytes). A workspace that was never synced has none. An unknown workspace is an error.',
      inputSchema: z.strictObject({ workspace: workspaceName('The workspace') }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ workspace }) =>
      toolResult(async () => {
        const versions = await client.workspaces.versions(workspace);
        const lines = versions.map(
          (version) =>
            `version ${version.version}: ${mebibytes(version.sizeBytes)}, committed ${version.committedAt}`,
        );
        return jsonResult(
          lines.length > 0 ? lines.join('\n') : `Workspace "${workspace}" has no synced versions.`,
          { workspace, versions },
        );
      }),
  );

  server.registerTool(
    'workspace_sync',
    {
      title: 'Sync a workspace to object storage',
      description:
        "Saves the workspace's current files to object storage as a new version, so they " +
        'survive this host and can be restored on another (or rolled back to). Files are ' +
        'already kept between sandboxes on this host without a sync; sync when the work is ' +
        'done or worth keeping. Uploads only what the last version does not hold; an unchanged ' +
        'workspace makes no new version (committed: false). The workspace must not be written ' +
        'by a running command meanwhile; a newer version synced by another host is a conflict.',
      inputSchema: z.strictObject({ workspace: workspaceName('The workspace to sync') }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
    },
    ({ workspace }) =>
      toolResult(async () => {
        const result = await client.workspaces.sync(workspace);
        const text = result.committed
          ? `Synced "${workspace}" as version ${result.version} (${formatBytes(result.totalBytes)} of files; ${formatBytes(result.uploadedBytes)} uploaded).`
          : `"${workspace}" is unchanged since version ${result.version}: no new version.`;
        // The upload counts new chunks and their framing, so it can exceed the files' size.
        return jsonResult(text, { workspace, ...result, message: text });
      }),
  );

  server.registerTool(
    'workspace_fork',
    {
      title: 'Fork a workspace',
      description:
        'Makes a new workspace that starts as a copy of an existing one, for trying something ' +
        'without touching the original (e.g. two approaches side by side). It costs almost ' +
        'nothing: copy-on-write, no files are copied, it takes well under a second whatever the ' +
        'size; later changes of either stay their own. The source must be idle: a sandbox ' +
        'running on it makes this an error (workspace_busy); stop that sandbox first. The new ' +
        'name must not exist yet.',
      inputSchema: z.strictObject({
        source: workspaceName('The workspace to copy'),
        name: workspaceName('The new workspace'),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
    },
    ({ source, name }) =>
      toolResult(async () => {
        const workspace = await client.workspaces.fork(source, name);
        const text = `Forked "${source}" as "${workspace.name}"; create a sandbox with workspace "${workspace.name}" to use it.`;
        return jsonResult(text, { workspace, message: text });
      }),
  );
}
