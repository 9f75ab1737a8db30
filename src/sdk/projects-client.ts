import type { z } from '@hono/zod-openapi';
import type {
  CreateProjectBodySchema,
  Project,
  ProjectListSchema,
  UpdateProjectBodySchema,
} from '../api/projects.ts';

export type { Project };
export type CreateProjectBody = z.infer<typeof CreateProjectBodySchema>;
export type UpdateProjectBody = z.infer<typeof UpdateProjectBodySchema>;
type ProjectList = z.infer<typeof ProjectListSchema>;

type Json = <T>(method: string, path: string, body?: unknown) => Promise<T>;

const projectPath = (name: string) => `/v1/projects/${encodeURIComponent(name)}`;

/** `mags.projects`: repositories imported into project workspaces (GUIDE §5). */
export function projectsClient(
  json: Json,
  send: (method: string, path: string) => Promise<unknown>,
) {
  return {
    /** Imports the repository and runs its setup; resolves when done (`status` says how). */
    create: (body: CreateProjectBody): Promise<Project> => json('POST', '/v1/projects', body),
    list: async (): Promise<Project[]> => (await json<ProjectList>('GET', '/v1/projects')).projects,
    get: (name: string): Promise<Project> => json('GET', projectPath(name)),
    /** `null` sets a command or model back to the repository's `.mags/project.json`. */
    update: (name: string, patch: UpdateProjectBody): Promise<Project> =>
      json('PATCH', projectPath(name), patch),
    /** Pulls new commits and runs the setup again. */
    refresh: (name: string): Promise<Project> => json('POST', `${projectPath(name)}/refresh`),
    /** Deletes the project, its workspace and its tickets (a ConflictError while one runs). */
    delete: async (name: string): Promise<void> => {
      await send('DELETE', projectPath(name));
    },
  };
}
