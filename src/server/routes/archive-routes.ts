import { Readable } from 'node:stream';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { SandboxNameSchema, SandboxPathSchema, WorkspaceNameSchema } from '../../api/schemas.ts';
import type { ExtractArchiveRequest } from '../../sandboxes/sandbox-archive.ts';
import { isUploadTooLarge } from '../../sandboxes/sandbox-files.ts';
import type { SandboxManager } from '../../sandboxes/sandbox-manager.ts';
import {
  extractArchiveInWorkspace,
  packArchiveFromWorkspace,
} from '../../sandboxes/workspace-archive.ts';
import { ownerWorkspaceName } from '../../workspaces/owner-workspace.ts';
import type { ServerApp } from '../create-app.ts';
import { checkDiskRequest } from '../disk-limits.ts';
import type { ServerServices } from '../server-env.ts';
import { destroyWhenIdle } from './destroy-when-idle.ts';
import { errorResponses } from './error-responses.ts';
import { discardBody, uploadBody } from './upload-body.ts';

const errors = errorResponses('Conflict');
const ArchiveQuerySchema = z.strictObject({ path: SandboxPathSchema });
const tarBody = {
  content: { 'application/x-tar': { schema: { type: 'string', format: 'binary' } } },
  required: true,
} as const;

const putDescription =
  'The body is a tar stream (ustar or pax; what GNU tar and node-tar write). Its entries land ' +
  'under `path`, a directory made with its parents when missing; existing files of the same ' +
  'names are replaced, directories merged. Extracted by tar inside the sandbox, as its root ' +
  '(owners are not kept, modes and symlinks are): into a staging directory first, moved into ' +
  'place only once whole, so a failed or refused upload (over the upload limit: 413) leaves ' +
  'nothing behind.';
const getDescription =
  'A tar stream (application/x-tar) of `path` as one top-level entry named like it: a file, a ' +
  'directory tree, or a symlink (links are kept as links, never followed). A missing path is a ' +
  '404 before any byte; a tar that fails once streaming has begun cuts the response short.';

const routes = (kind: 'sandboxes' | 'workspaces') => {
  const params = z.object({
    name: (kind === 'sandboxes' ? SandboxNameSchema : WorkspaceNameSchema).openapi({
      param: { name: 'name', in: 'path' },
    }),
  });
  const what =
    kind === 'sandboxes'
      ? 'the sandbox'
      : 'the workspace (its long-lived sandbox if one runs, else a sandbox started for the copy)';
  return {
    put: createRoute({
      method: 'put',
      path: `/v1/${kind}/{name}/archive`,
      summary: `Copy a tree (a tar stream) into ${what}`,
      description: putDescription,
      request: { params, query: ArchiveQuerySchema, body: tarBody },
      responses: {
        204: { description: 'Extracted' },
        413: { description: 'Over the upload limit' },
        ...errors,
      },
    }),
    get: createRoute({
      method: 'get',
      path: `/v1/${kind}/{name}/archive`,
      summary: `Copy a file or tree out of ${what}, as a tar stream`,
      description: getDescription,
      request: { params, query: ArchiveQuerySchema },
      responses: { 200: { description: 'The tar stream' }, ...errors },
    }),
  };
};
const sandboxRoutes = routes('sandboxes');
const workspaceRoutes = routes('workspaces');

/**
 * Trees in and out of a sandbox or a workspace as tar streams (`mags cp`). A workspace's copy goes
 * through the long-lived sandbox running on it when there is one (it holds the workspace), else
 * through a sandbox started for the copy, like a run's. Another owner's sandbox or workspace is
 * simply not found: names are looked up among the caller's own. A sandbox started for a copy
 * holds one of the owner's running jobs while it works; a copy out is one of the owner's streams
 * (middleware/limit-streams.ts): past either limit, a 429.
 */
export function registerArchiveRoutes(app: ServerApp, services: ServerServices): void {
  const { sandboxes, context } = services;
  app.openapi(sandboxRoutes.put, async (c) => {
    const { name } = c.req.valid('param');
    await receiveArchive(c, services, (request) =>
      sandboxes.writeArchive(c.var.owner, name, request),
    );
    return c.body(null, 204);
  });
  app.openapi(sandboxRoutes.get, async (c) => {
    const stream = await sandboxes.readArchive(
      c.var.owner,
      c.req.valid('param').name,
      c.req.valid('query').path,
    );
    return tarResponse(c, services, stream);
  });
  app.openapi(workspaceRoutes.put, async (c) => {
    const owner = c.var.owner;
    const { name } = c.req.valid('param');
    const running = sandboxes.runningOn(owner, name);
    await receiveArchive(c, services, async (request) => {
      if (running !== undefined) return sandboxes.writeArchive(owner, running, request);
      // A copy into a new workspace makes its disk, as a run would: checked against the limits.
      await checkDiskRequest(context, services.disks, owner, {
        workspace: name,
        diskMiB: undefined,
      });
      // The sandbox started for the copy counts as one of the owner's running jobs (429 over).
      const release = services.jobs.holdSlot(owner);
      try {
        await extractArchiveInWorkspace(context, workspaceCopy(sandboxes, owner, name), request);
      } finally {
        release();
      }
    });
    return c.body(null, 204);
  });
  app.openapi(workspaceRoutes.get, async (c) => {
    const owner = c.var.owner;
    const { name } = c.req.valid('param');
    const { path } = c.req.valid('query');
    const running = sandboxes.runningOn(owner, name);
    if (running !== undefined) {
      return tarResponse(c, services, await sandboxes.readArchive(owner, running, path));
    }
    // Held until the stream closes: its sandbox runs that long.
    const release = services.jobs.holdSlot(owner);
    let stream: Readable;
    try {
      ({ stream } = await packArchiveFromWorkspace(
        context,
        workspaceCopy(sandboxes, owner, name),
        path,
      ));
    } catch (error) {
      release();
      throw error;
    }
    stream.once('close', release);
    return tarResponse(c, services, stream);
  });
}

function workspaceCopy(sandboxes: SandboxManager, owner: string, name: string) {
  return {
    workspace: ownerWorkspaceName(owner, name),
    displayName: name,
    labels: sandboxes.copyLabels(owner),
  };
}

/** Hands the request body to `extract` as a counted stream; drains the rest of a refused one. */
async function receiveArchive(
  c: Context,
  services: ServerServices,
  extract: (request: ExtractArchiveRequest) => Promise<void>,
): Promise<void> {
  const maxBytes = services.limits.maxUploadBytes;
  const { chunks, declaredBytes } = uploadBody(c);
  const path = (c.req.valid as (target: 'query') => { path: string })('query').path;
  try {
    await extract({ path, data: chunks, maxBytes, declaredBytes });
  } catch (error) {
    // A 413 is answered at once (the error handler closes the connection and drops what still
    // arrives for a while). The rest of a body refused otherwise (no such sandbox, tar gave up
    // early: no tar, a full disk) is read and dropped, up to the limit, so the client, still
    // sending, gets to read the answer instead of a reset connection.
    if (isUploadTooLarge(error)) throw error;
    await discardBody(chunks, maxBytes).catch(() => {}); // the client went away: nobody to answer
    throw error;
  }
}

function tarResponse(c: Context, services: ServerServices, stream: Readable): Response {
  const headers = { 'content-type': 'application/x-tar' };
  // Hono answers HEAD by running the GET and dropping its body without cancelling it: tar would
  // run on until the idle timeout. A HEAD ends it at once (the path exists: tar had begun).
  if (c.req.method === 'HEAD') {
    stream.destroy();
    return c.body(null, 200, headers);
  }
  // A client that goes away cancels the stream; one that stops reading is cut off when idle.
  destroyWhenIdle(stream, services.limits.downloadIdleTimeoutMs);
  return c.body(Readable.toWeb(stream) as ReadableStream<Uint8Array>, 200, headers);
}
