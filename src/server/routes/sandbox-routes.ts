import { Readable } from 'node:stream';
import { createRoute, z } from '@hono/zod-openapi';
import type { UpgradeWebSocket, WSContext } from 'hono/ws';
import { DirectoryListingSchema, DirectoryQuerySchema } from '../../api/directory-listing.ts';
import {
  CreateSandboxBodySchema,
  ExecBodySchema,
  FileQuerySchema,
  JobSchema,
  SandboxListQuerySchema,
  SandboxListSchema,
  SandboxNameSchema,
  SandboxSchema,
  UpdateSandboxBodySchema,
} from '../../api/schemas.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { isUploadTooLarge } from '../../sandboxes/sandbox-files.ts';
import type { ShellSession } from '../../sandboxes/sandbox-shell.ts';
import type { ServerApp } from '../create-app.ts';
import { checkDiskRequest } from '../disk-limits.ts';
import { toJobView } from '../job-view.ts';
import type { ServerServices } from '../server-env.ts';
import { toArgv } from './command-argv.ts';
import { destroyWhenIdle } from './destroy-when-idle.ts';
import { errorResponses, rateLimitResponse } from './error-responses.ts';
import { sandboxChangesResponse } from './sandbox-changes-stream.ts';
import { toSandboxView } from './sandbox-view.ts';
import { discardBody, uploadBody } from './upload-body.ts';

const errors = errorResponses('Conflict');
const sandboxResponse = (description: string) => ({
  content: { 'application/json': { schema: SandboxSchema } },
  description,
});
const nameParams = z.object({ name: SandboxNameSchema });

const create = createRoute({
  method: 'post',
  path: '/v1/sandboxes',
  summary: 'Start a long-lived sandbox (mags new)',
  request: {
    body: { content: { 'application/json': { schema: CreateSandboxBodySchema } }, required: true },
  },
  responses: { 201: sandboxResponse('Running'), ...errors, ...rateLimitResponse },
});
const list = createRoute({
  method: 'get',
  path: '/v1/sandboxes',
  summary: 'List sandboxes; with `follow`, follow them as Server-Sent Events',
  description:
    'With `follow=true` the answer is text/event-stream: a `sandboxes` event carrying the list, ' +
    'then a `sandbox` event carrying a Sandbox each time one is created, started, stopped, put ' +
    'to sleep, woken or changed, and `{"name":"...","deleted":true}` once one is deleted.',
  request: { query: SandboxListQuerySchema },
  responses: {
    200: {
      content: {
        'application/json': { schema: SandboxListSchema },
        'text/event-stream': { schema: z.string() },
      },
      description: 'All',
    },
    ...errors,
  },
});
const get = createRoute({
  method: 'get',
  path: '/v1/sandboxes/{name}',
  summary: 'A sandbox',
  request: { params: nameParams },
  responses: { 200: sandboxResponse('The sandbox'), ...errors },
});
const update = createRoute({
  method: 'patch',
  path: '/v1/sandboxes/{name}',
  summary: 'Change whether it sleeps when idle (mags set NAME --sleep/--no-sleep)',
  request: {
    params: nameParams,
    body: { content: { 'application/json': { schema: UpdateSandboxBodySchema } }, required: true },
  },
  responses: { 200: sandboxResponse('The sandbox'), ...errors },
});
const action = (verb: 'start' | 'stop', summary: string) =>
  createRoute({
    method: 'post',
    path: `/v1/sandboxes/{name}/${verb}`,
    summary,
    request: { params: nameParams },
    responses: { 200: sandboxResponse('The sandbox'), ...errors, ...rateLimitResponse },
  });
const start = action('start', 'Start a stopped sandbox again, on the same workspace');
const stop = action('stop', 'Stop every process; the workspace stays');
const remove = createRoute({
  method: 'delete',
  path: '/v1/sandboxes/{name}',
  summary: 'Stop and forget a sandbox (its workspace stays)',
  request: { params: nameParams },
  responses: { 204: { description: 'Deleted' }, ...errors },
});
const exec = createRoute({
  method: 'post',
  path: '/v1/sandboxes/{name}/exec',
  summary: 'Run a command in the sandbox; follow it as a job (/v1/jobs/{id}/logs)',
  request: {
    params: nameParams,
    body: { content: { 'application/json': { schema: ExecBodySchema } }, required: true },
  },
  responses: {
    201: { content: { 'application/json': { schema: JobSchema } }, description: 'Running' },
    ...errors,
    ...rateLimitResponse,
  },
});
const upload = createRoute({
  method: 'put',
  path: '/v1/sandboxes/{name}/files',
  summary: 'Write a file (the raw body), atomically: a failed upload leaves nothing behind',
  request: { params: nameParams, query: FileQuerySchema },
  responses: { 204: { description: 'Written' }, 413: { description: 'Too large' }, ...errors },
});
const download = createRoute({
  method: 'get',
  path: '/v1/sandboxes/{name}/files',
  summary:
    'Read a regular file, streamed (application/octet-stream with Content-Length); directories and devices are refused',
  request: { params: nameParams, query: FileQuerySchema.pick({ path: true }) },
  responses: {
    200: { description: 'The bytes' },
    403: { description: 'Not readable in the sandbox' },
    413: { description: 'Over the download limit' },
    ...errors,
  },
});
const listDirectory = createRoute({
  method: 'get',
  path: '/v1/sandboxes/{name}/directory',
  summary: "A directory's entries, sorted by name (at most 10,000: `truncated` says more exist)",
  description:
    'Each entry: `name` (as text), `type` (file, directory, symlink, other), `sizeBytes`, `mode` ' +
    "(octal), `modifiedAt`, and a symlink's `target`. A missing path is a 404, a file a 400. " +
    'Read through the sandbox directly: a listing is not a job.',
  request: { params: nameParams, query: DirectoryQuerySchema },
  responses: {
    200: {
      content: { 'application/json': { schema: DirectoryListingSchema } },
      description: 'The entries',
    },
    403: { description: 'Not readable in the sandbox' },
    ...errors,
  },
});

export function registerSandboxRoutes(
  app: ServerApp,
  services: ServerServices,
  upgradeWebSocket?: UpgradeWebSocket,
): void {
  const { sandboxes, jobs } = services;
  app.openapi(create, async (c) => {
    const body = c.req.valid('json');
    await checkDiskRequest(services.context, services.disks, c.var.owner, {
      workspace: body.ephemeral ? undefined : (body.workspace ?? body.name),
      diskMiB: body.limits?.diskMiB,
    });
    const record = await sandboxes.create(c.var.owner, body);
    return c.json(toSandboxView(record), 201);
  });
  app.openapi(list, async (c) => {
    if (c.req.valid('query').follow === 'true') {
      return sandboxChangesResponse(c, sandboxes, c.var.owner);
    }
    return c.json({ sandboxes: (await sandboxes.list(c.var.owner)).map(toSandboxView) }, 200);
  });
  app.openapi(listDirectory, async (c) => {
    const { path } = c.req.valid('query');
    const listing = await sandboxes.listDirectory(c.var.owner, c.req.valid('param').name, path);
    return c.json(listing, 200);
  });
  app.openapi(get, async (c) =>
    c.json(toSandboxView(await sandboxes.get(c.var.owner, c.req.valid('param').name)), 200),
  );
  app.openapi(update, async (c) => {
    const { name } = c.req.valid('param');
    const record = await sandboxes.update(c.var.owner, name, c.req.valid('json'));
    return c.json(toSandboxView(record), 200);
  });
  app.openapi(start, async (c) =>
    c.json(toSandboxView(await sandboxes.start(c.var.owner, c.req.valid('param').name)), 200),
  );
  app.openapi(stop, async (c) =>
    c.json(toSandboxView(await sandboxes.stop(c.var.owner, c.req.valid('param').name)), 200),
  );
  app.openapi(remove, async (c) => {
    await sandboxes.delete(c.var.owner, c.req.valid('param').name);
    return c.body(null, 204);
  });
  app.openapi(exec, async (c) => {
    const body = c.req.valid('json');
    const job = await sandboxes.submitExec(
      c.var.owner,
      c.req.valid('param').name,
      {
        argv: toArgv(body.command),
        env: body.env,
        cwd: body.cwd,
        timeoutMs: body.timeoutSeconds === undefined ? undefined : body.timeoutSeconds * 1000,
      },
      jobs,
    );
    return c.json(toJobView(job), 201);
  });

  app.openapi(upload, async (c) => {
    const { path, mode } = c.req.valid('query');
    const maxBytes = services.limits.maxUploadBytes;
    const { chunks, declaredBytes } = uploadBody(c);
    try {
      await sandboxes.writeFile(c.var.owner, c.req.valid('param').name, {
        path,
        data: chunks,
        mode: mode === undefined ? undefined : Number.parseInt(mode, 8),
        maxBytes,
        declaredBytes,
      });
    } catch (error) {
      if (isUploadTooLarge(error)) await discardBody(chunks, maxBytes);
      throw error;
    }
    return c.body(null, 204);
  });
  app.openapi(download, async (c) => {
    // Streamed: the server holds about one flow-control window per download, whatever the
    // file's size. The sandbox stays awake until the stream closes, however it ends.
    const file = await sandboxes.readFile(c.var.owner, c.req.valid('param').name, {
      path: c.req.valid('query').path,
      maxBytes: services.limits.maxDownloadBytes,
    });
    const headers = {
      'content-type': 'application/octet-stream',
      'content-length': String(file.sizeBytes),
    };
    // Hono answers HEAD by running this GET and dropping the body without cancelling it: the
    // read would stay open for ever. A HEAD is answered here, from FILE_INFO alone.
    if (c.req.method === 'HEAD') {
      file.stream.destroy();
      return c.body(null, 200, headers);
    }
    // A client that goes away cancels the stream (Hono's node server cancels the web stream);
    // one that stays but stops reading is cut off after the idle timeout.
    destroyWhenIdle(file.stream, services.limits.downloadIdleTimeoutMs);
    return c.body(Readable.toWeb(file.stream) as ReadableStream<Uint8Array>, 200, headers);
  });

  if (!upgradeWebSocket) return;
  const shellQuery = z.strictObject({
    rows: z.coerce.number().int().min(1).max(1000).default(24),
    cols: z.coerce.number().int().min(1).max(1000).default(80),
    term: z
      .string()
      .regex(/^[A-Za-z0-9._+-]{1,64}$/)
      .default('xterm-256color'),
  });
  /**
   * An interactive shell on a PTY. Binary frames are terminal bytes both ways; text frames are
   * JSON control messages: `{"type":"resize","rows","cols"}` from the client,
   * `{"type":"exit","exitCode","signal"}` from the server just before it closes.
   */
  app.get(
    '/v1/sandboxes/:name/shell',
    async (c, next) => {
      const name = SandboxNameSchema.safeParse(c.req.param('name'));
      const query = shellQuery.safeParse(c.req.query());
      if (!name.success) throw new InvalidInputError(`name: ${name.error.issues[0]?.message}`);
      if (!query.success) throw new InvalidInputError(`query: ${query.error.message}`);
      await sandboxes.wake(c.var.owner, name.data); // 404 / 409 before the upgrade
      await next();
    },
    upgradeWebSocket((c) => {
      const query = shellQuery.parse(c.req.query());
      const name = c.req.param('name') as string;
      const owner = c.var.owner;
      // Settles once the shell runs (undefined when it could not start, or the socket closed
      // first); terminal input and resizes wait for it, in the order they came.
      let session: Promise<ShellSession | undefined> = Promise.resolve(undefined);
      let closed = false;
      return {
        onOpen(_event, ws) {
          session = sandboxes.openShell(owner, name, query).then(
            (shell) => {
              if (closed) {
                shell.hangUp();
                return undefined;
              }
              const terminal = shell.process;
              terminal.stdout.on('data', (chunk: Buffer) => ws.send(new Uint8Array(chunk)));
              terminal.stderr.on('data', (chunk: Buffer) => ws.send(new Uint8Array(chunk)));
              terminal.exited.then(
                (result) => {
                  ws.send(JSON.stringify({ type: 'exit', ...result }));
                  ws.close(1000, 'exited');
                },
                (error: unknown) => shellFailed(ws, error),
              );
              return shell;
            },
            (error: unknown) => {
              shellFailed(ws, error);
              return undefined;
            },
          );
        },
        onMessage(event) {
          const data = event.data;
          void session.then((shell) => {
            if (!shell) return;
            if (typeof data !== 'string') {
              shell.process.writeStdin(Buffer.from(data as ArrayBuffer));
              return;
            }
            const message = safeJson(data) as { type?: string; rows?: number; cols?: number };
            if (message?.type === 'resize' && message.rows && message.cols) {
              shell.process.resize(message.rows, message.cols);
            }
          });
        },
        onClose() {
          closed = true;
          // A closed terminal hangs up its shell, like an ssh session that drops.
          void session.then((shell) => shell?.hangUp());
        },
      };
    }),
  );
}

function shellFailed(ws: WSContext, error: unknown): void {
  ws.send(JSON.stringify({ type: 'error', message: String(error) }));
  ws.close(1011, 'shell failed');
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
