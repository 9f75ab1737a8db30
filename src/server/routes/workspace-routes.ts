import { createRoute, z } from '@hono/zod-openapi';
import { NotFoundError } from '../../errors/mags-error.ts';
import {
  localOwner,
  ownerWorkspaceName,
  ownsStorageName,
} from '../../workspaces/owner-workspace.ts';
import type { ServerApp } from '../create-app.ts';
import {
  SyncResultSchema,
  WorkspaceNameSchema,
  WorkspaceSchema,
  WorkspaceVersionSchema,
} from '../schemas.ts';
import type { ServerServices } from '../server-env.ts';
import { errorResponses } from './error-responses.ts';

const errors = errorResponses('In use');
const nameParams = z.object({
  name: WorkspaceNameSchema.openapi({ param: { name: 'name', in: 'path' } }),
});

const list = createRoute({
  method: 'get',
  path: '/v1/workspaces',
  summary: 'Workspaces on this host, with their size',
  responses: {
    200: {
      content: {
        'application/json': { schema: z.object({ workspaces: z.array(WorkspaceSchema) }) },
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

const notFound = (name: string) =>
  new NotFoundError(`No workspace ${JSON.stringify(name)}.`, {
    code: 'workspace_not_found',
    hint: 'mags workspace list shows yours; mags run -w NAME creates one.',
  });

export function registerWorkspaceRoutes(app: ServerApp, services: ServerServices) {
  const { context, repository } = services;
  app.openapi(list, async (c) => {
    const owner = c.var.owner;
    const records = await repository.listWorkspaces(owner);
    // Only this owner's workspaces are read (the local owner, an admin, sees the host's).
    const mine = owner === localOwner ? undefined : (name: string) => ownsStorageName(owner, name);
    const onDisk = new Map((await context.workspaces.list(mine)).map((info) => [info.name, info]));
    const byName = new Map(records.map((record) => [record.name, record]));
    const names = new Set(byName.keys());
    if (owner === localOwner) {
      // The host's own workspaces include those the CLI made in-process, minus other owners'.
      const owners = new Set((await repository.listTokens()).map((token) => token.owner));
      for (const name of onDisk.keys()) {
        const prefix = /^([a-z0-9-]+)\./.exec(name)?.[1];
        if (!prefix || !owners.has(prefix) || prefix === localOwner) names.add(name);
      }
    }
    const workspaces = [...names].sort().map((name) => {
      const record = byName.get(name);
      const disk = onDisk.get(ownerWorkspaceName(owner, name));
      return {
        name,
        createdAt: record?.createdAt ?? disk?.createdAt ?? '',
        lastUsedAt: record?.lastUsedAt ?? disk?.lastRunAt ?? disk?.createdAt ?? '',
        sizeBytes: disk?.sizeBytes ?? null,
        diskBytes: disk?.diskBytes ?? null,
        remoteVersion: disk?.remoteVersion ?? null,
      };
    });
    return c.json({ workspaces }, 200);
  });

  app.openapi(versions, async (c) => {
    const { name } = c.req.valid('param');
    const stored = await context.sync.versions(ownerWorkspaceName(c.var.owner, name));
    if (
      stored.length === 0 &&
      !(await context.workspaces.get(ownerWorkspaceName(c.var.owner, name)))
    )
      throw notFound(name);
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
    const internal = ownerWorkspaceName(c.var.owner, name);
    if (!(await context.workspaces.get(internal))) throw notFound(name);
    const result = await context.sync.push(internal);
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

  app.openapi(remove, async (c) => {
    const { name } = c.req.valid('param');
    const internal = ownerWorkspaceName(c.var.owner, name);
    const local = await context.workspaces.get(internal);
    const remote = await context.sync.versions(internal);
    if (!local && remote.length === 0) throw notFound(name);
    if (local) {
      await services.scheduler.invalidate(internal); // its parked sandbox holds the workspace
      await context.workspaces.delete(internal);
    }
    if (remote.length > 0) await context.sync.deleteRemote(internal);
    await repository.deleteWorkspace(c.var.owner, name);
    return c.body(null, 204);
  });
}
