import { Readable } from 'node:stream';
import { createRoute } from '@hono/zod-openapi';
import { UploadSchema } from '../../api/schemas.ts';
import type { ServerApp } from '../create-app.ts';
import type { ServerServices } from '../server-env.ts';
import { errorResponses } from './error-responses.ts';

const createUpload = createRoute({
  method: 'post',
  path: '/v1/uploads',
  summary: "Stage a file for a run (the body is the file, streamed); name it in the run's files",
  description:
    'The id is good for one run (`files: [{"upload": ID, "name": "data.csv"}]` in POST /v1/jobs), ' +
    'which writes the file into /workspace before its command starts and removes the upload. ' +
    'Uploads no run took are removed after an hour; an owner may have 64 (4 GiB) waiting.',
  request: {
    body: {
      content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
      required: true,
    },
  },
  responses: {
    201: { content: { 'application/json': { schema: UploadSchema } }, description: 'Staged' },
    ...errorResponses('upload_quota: too many uploads waiting'),
  },
});

export function registerUploadRoutes(app: ServerApp, { uploads }: ServerServices): void {
  app.openapi(createUpload, async (c) => {
    const body = c.req.raw.body;
    const chunks = body ? Readable.fromWeb(body as never) : Readable.from([]);
    const declared = Number(c.req.header('content-length') ?? Number.NaN);
    try {
      const upload = await uploads.receive(
        c.var.owner,
        chunks,
        Number.isFinite(declared) ? declared : undefined,
      );
      return c.json(upload, 201);
    } catch (error) {
      // The rest of a refused body is read and dropped (up to the limit), so the client, still
      // sending, gets to read the answer instead of a reset connection.
      let dropped = 0;
      for await (const chunk of chunks) {
        dropped += (chunk as Buffer).length;
        if (dropped > uploads.maxFileBytes) break;
      }
      throw error;
    }
  });
}
