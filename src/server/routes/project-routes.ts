import { createRoute, z } from '@hono/zod-openapi';
import {
  CreateProjectBodySchema,
  ProjectListSchema,
  ProjectNameSchema,
  ProjectSchema,
  UpdateProjectBodySchema,
} from '../../api/projects.ts';
import type { ProjectRecord } from '../../state/state-repository.ts';
import type { ServerApp } from '../create-app.ts';
import type { ServerServices } from '../server-env.ts';
import { errorResponses } from './error-responses.ts';

const errors = errorResponses(
  'The name is taken, the project is busy (a queued or running ticket), or its workspace is in use',
);
const nameParams = z.object({ name: ProjectNameSchema });
const projectResponse = (description: string) => ({
  content: { 'application/json': { schema: ProjectSchema } },
  description,
});

const create = createRoute({
  method: 'post',
  path: '/v1/projects',
  // Blocking on purpose: the clone and the setup are one request (minutes for a large setup);
  // the CLI shows a waiting line. A server that stops meanwhile leaves it `importing`, which the
  // next start marks failed.
  summary:
    'Import a repository into a project workspace and run its setup (answers when done; a failed setup is status failed). A path on the server: only for the local server or under MAGS_PROJECT_ROOTS (403 otherwise)',
  request: {
    body: { content: { 'application/json': { schema: CreateProjectBodySchema } }, required: true },
  },
  responses: { 201: projectResponse('Imported'), ...errors },
});
const list = createRoute({
  method: 'get',
  path: '/v1/projects',
  summary: 'List projects',
  responses: {
    200: { content: { 'application/json': { schema: ProjectListSchema } }, description: 'All' },
    ...errors,
  },
});
const get = createRoute({
  method: 'get',
  path: '/v1/projects/{name}',
  summary: 'A project',
  request: { params: nameParams },
  responses: { 200: projectResponse('The project'), ...errors },
});
const update = createRoute({
  method: 'patch',
  path: '/v1/projects/{name}',
  summary: 'Change setup, test, model or repository (null: back to .mags/project.json)',
  request: {
    params: nameParams,
    body: { content: { 'application/json': { schema: UpdateProjectBodySchema } }, required: true },
  },
  responses: { 200: projectResponse('Updated'), ...errors },
});
const refresh = createRoute({
  method: 'post',
  path: '/v1/projects/{name}/refresh',
  summary: 'Pull new commits from the repository and run the setup again',
  request: { params: nameParams },
  responses: { 200: projectResponse('Refreshed'), ...errors },
});
const remove = createRoute({
  method: 'delete',
  path: '/v1/projects/{name}',
  summary:
    'Delete a project, its workspace and its tickets with their sandboxes and workspaces (refused, changing nothing, while a ticket is queued or running or another sandbox uses one of its workspaces)',
  request: { params: nameParams },
  responses: { 204: { description: 'Deleted' }, ...errors },
});

/** The API's view: the record without its owner (the caller is the owner). */
export const toProject = ({ owner: _owner, ...project }: ProjectRecord) => project;

export function registerProjectRoutes(app: ServerApp, services: ServerServices) {
  const { projects } = services;
  app.openapi(create, async (c) => {
    const project = await projects.create(c.var.owner, c.req.valid('json'));
    return c.json(toProject(project), 201);
  });
  app.openapi(list, async (c) => {
    const all = await projects.list(c.var.owner);
    return c.json({ projects: all.map(toProject) }, 200);
  });
  app.openapi(get, async (c) => {
    const { name } = c.req.valid('param');
    return c.json(toProject(await projects.get(c.var.owner, name)), 200);
  });
  app.openapi(update, async (c) => {
    const { name } = c.req.valid('param');
    const project = await projects.update(c.var.owner, name, c.req.valid('json'));
    return c.json(toProject(project), 200);
  });
  app.openapi(refresh, async (c) => {
    const { name } = c.req.valid('param');
    return c.json(toProject(await projects.refresh(c.var.owner, name)), 200);
  });
  app.openapi(remove, async (c) => {
    const { name } = c.req.valid('param');
    await projects.delete(c.var.owner, name);
    return c.body(null, 204);
  });
}
