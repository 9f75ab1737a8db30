import { createRoute, z } from '@hono/zod-openapi';
import {
  ForkWorkspaceRequestSchema,
  SyncResultSchema,
  WorkspaceListQuerySchema,
  WorkspaceNameSchema,
  WorkspaceSchema,
  WorkspaceVersionSchema,
} from '../../api/schemas.ts';
import type { WorkspaceSummary } from '../../workspaces/workspace-manager.ts';
import type { ServerApp } from '../create-app.ts';
import { checkAndMakeDisk } from '../disk-limits.ts';
import type { ServerServices } from '../server-env.ts';
import { errorResponses } from './error-responses.ts';
import { workspaceChangesResponse } from './workspace-changes-stream.ts';

const errors = errorResponses('In use, or (delete) forks build on it');
const nameParams = z.object({
  name: WorkspaceNameSchema.openapi({ param: { name: 'name', in: 'path' } }),
});

const list = createRoute({
  method: 'get',
  path: '/v1/workspaces',
  summary:
    'Workspaces on this host, with their size; with `follow`, follow them as Server-Sent Events',
  description:
    'With `follow=true` the answer is text/event-stream: a `workspaces` event carrying the list, ' +
    'then a `workspace` event carrying a Workspace each time one is made (by a run or a fork), ' +
    'synced, or used by a run that ended (its size and last use), and ' +
    '`{"name":"...","deleted":true}` once one is deleted.',
  request: { query: WorkspaceListQuerySchema },
  responses: {
    200: {
      content: {
        'application/json': { schema: z.object({ workspaces: z.array(WorkspaceSchema) }) },
        'text/event-stream': { schema: z.string() },
      },
      description: 'All',
    },
    ...errors,
  },
});
const versions = createRoute({
  method: 'get',
  path: '/v1/workspaces/{name}/versions',
  summary: 'Versions in object storage',
  request: { params: nameParams },
  responses: {
    200: {
      content: {
        'application/json': { schema: z.object({ versions: z.array(WorkspaceVersionSchema) }) },
      },
      description: 'Oldest first',
    },
    ...errors,
  },
});
const sync = createRoute({
  method: 'post',
  path: '/v1/workspaces/{name}/sync',
  summary: 'Sync the workspace to object storage as a new version (none if unchanged)',
  request: { params: nameParams },
  responses: {
    200: { content: { 'application/json': { schema: SyncResultSchema } }, description: 'Synced' },
    ...errors,
  },
});
const remove = createRoute({
  method: 'delete',
  path: '/v1/workspaces/{name}',
  summary: 'Delete a workspace here and its stored versions (refused while in use)',
  request: { params: nameParams },
  responses: { 204: { description: 'Deleted' }, ...errors },
});

const fork = createRoute({
  method: 'post',
  path: '/v1/workspaces/{name}/fork',
  summary: 'Fork a workspace: a new one that starts as a copy of it (copy-on-write)',
  request: {
    params: nameParams,
    body: {
      content: { 'application/json': { schema: ForkWorkspaceRequestSchema } },
      required: true,
    },
  },
  responses: {
    201: { content: { 'application/json': { schema: WorkspaceSchema } }, description: 'The fork' },
    ...errorResponses(
      'The source is in use (a fork needs it idle), the new name is taken, or owner_disk_quota',
    ),
  },
});

const toWorkspace = (summary: WorkspaceSummary) => ({
  name: summary.name,
  createdAt: summary.createdAt,
  lastUsedAt: summary.lastUsedAt,
  sizeBytes: summary.sizeBytes,
  diskBytes: summary.diskBytes,
  remoteVersion: summary.remoteVersion,
  forkedFrom: summary.forkedFrom,
});

export function registerWorkspaceRoutes(app: ServerApp, services: ServerServices) {
  const { context, repository } = services;
  const workspaces = context.workspaceManager.withRecords(repository);
  app.openapi(list, async (c) => {
    if (c.req.valid('query').follow === 'true') {
      return workspaceChangesResponse(c, workspaces, c.var.owner, toWorkspace);
    }
    const summaries = await workspaces.list(c.var.owner);
    return c.json({ workspaces: summaries.map(toWorkspace) }, 200);
  });

  app.openapi(versions, async (c) => {
    const { name } = c.req.valid('param');
    const stored = await workspaces.versions(c.var.owner, name);
    return c.json(
      {
        versions: stored.map((info) => ({
          version: info.version,
          sizeBytes: info.sizeBytes,
          committedAt: info.committedAt.toISOString(),
        })),
      },
      200,
    );
  });

  app.openapi(sync, async (c) => {
    const { name } = c.req.valid('param');
    const result = await workspaces.push(c.var.owner, name);
    return c.json(
      {
        version: result.version,
        committed: result.committed,
        uploadedBytes: result.uploadedBytes,
        totalBytes: result.totalBytes,
      },
      200,
    );
  });

  app.openapi(fork, async (c) => {
    const { name } = c.req.valid('param');
    const target = c.req.valid('json').name;
    const owner = c.var.owner;
    // The fork's disk is the source's size, counted against the owner's quota like any other:
    // checked and made in one turn of the owner's (none for a source without a disk).
    const diskMiB = await workspaces.forkDiskMiB(owner, name);
    const fork = () => workspaces.fork(owner, name, target);
    const forked =
      diskMiB === undefined
        ? await fork()
        : await checkAndMakeDisk(
            context,
            services.disks,
            owner,
            { workspace: target, diskMiB },
            fork,
          );
    return c.json(toWorkspace(forked), 201);
  });

  app.openapi(remove, async (c) => {
    const { name } = c.req.valid('param');
    await workspaces.delete(c.var.owner, name);
    return c.body(null, 204);
  });
}
