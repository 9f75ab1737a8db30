import type { AgentSandbox } from '../agents/agent-sandbox.ts';
import { checkModelProvider } from '../agents/resolve-model.ts';
import { type ProjectConfig, ProjectConfigSchema } from '../api/projects.ts';
import { MagsError } from '../errors/mags-error.ts';
import { ProjectConfigError } from './project-errors.ts';

/** Where a repository says how to set itself up and test itself, relative to its root. */
export const projectConfigFile = '.mags/project.json';

/** Reads and validates the repository's `.mags/project.json` in /workspace; none is `{}`. */
export async function readProjectConfig(sandbox: AgentSandbox): Promise<ProjectConfig> {
  let bytes: Buffer;
  try {
    bytes = await sandbox.readFile(`/workspace/${projectConfigFile}`, { maxBytes: 1024 * 1024 });
  } catch (error) {
    if (error instanceof MagsError && error.code === 'file_not_found') return {};
    throw error;
  }
  return parseProjectConfig(bytes.toString('utf8'));
}

export function parseProjectConfig(text: string): ProjectConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ProjectConfigError(
      `${projectConfigFile} is not valid JSON: ${(error as Error).message}`,
      { file: projectConfigFile, field: null },
    );
  }
  const parsed = ProjectConfigSchema.safeParse(value);
  if (parsed.success) {
    checkConfigModels(parsed.data);
    return parsed.data;
  }
  const issue = parsed.error.issues[0];
  const field = issue?.path.join('.') || null;
  const problems = parsed.error.issues
    .map((each) => `${each.path.join('.') || '(the file)'}: ${each.message}`)
    .join('; ');
  throw new ProjectConfigError(`${projectConfigFile} has a bad field: ${problems}`, {
    file: projectConfigFile,
    field,
  });
}

/** An unknown provider is refused when the file is read, not when a ticket first uses it. */
function checkConfigModels(config: ProjectConfig): void {
  const models: [string, string | undefined][] = [
    ['model', config.model],
    ...Object.entries(config.roles ?? {}).map(([name, role]): [string, string | undefined] => [
      `roles.${name}.model`,
      role.model,
    ]),
  ];
  for (const [field, model] of models) {
    if (model === undefined) continue;
    try {
      checkModelProvider(model);
    } catch (error) {
      const hint = error instanceof MagsError && error.hint ? ` ${error.hint}` : '';
      throw new ProjectConfigError(
        `${projectConfigFile} has a bad field: ${field}: ${(error as Error).message}${hint}`,
        { file: projectConfigFile, field },
      );
    }
  }
}
