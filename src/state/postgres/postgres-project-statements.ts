import { projectColumns, toProject } from '../rows/project-row.ts';
import type { ProjectMethods } from '../state-method-groups.ts';
import { columnValues } from './postgres-column-values.ts';
import type { PostgresDatabase } from './postgres-database.ts';

/**
 * Projects, and the removal of a project with every ticket and plan of it
 * (sqlite-project-statements.ts, the same behaviour). The ticket and plan tables are PostgreSQL
 * migration 2's.
 */
export function postgresProjectStatements({ sql }: PostgresDatabase): ProjectMethods {
  return {
    async insertProject(project) {
      await sql`INSERT INTO projects (owner, name, repo, ref, workspace, commit_id, setup_tree,
        setup, test, model, config, status, reason, network, created_at, updated_at)
        VALUES (${project.owner}, ${project.name}, ${project.repo}, ${project.ref},
        ${project.workspace}, ${project.commit}, ${project.setupTree}, ${project.setup},
        ${project.test}, ${project.model}, ${JSON.stringify(project.config)}, ${project.status},
        ${project.reason}, ${project.network === true}, ${project.createdAt}, ${project.updatedAt})`;
    },
    async updateProject(owner, name, update) {
      const values = columnValues('projects', projectColumns, update, (column, value) =>
        column === 'config' ? JSON.stringify(value) : value,
      );
      if (Object.keys(values).length === 0) return;
      await sql`UPDATE projects SET ${sql(values)} WHERE owner = ${owner} AND name = ${name}`;
    },
    async getProject(owner, name) {
      const [row] = await sql`SELECT * FROM projects WHERE owner = ${owner} AND name = ${name}`;
      return row && toProject(row);
    },
    async listProjects(owner) {
      const rows = await sql`SELECT * FROM projects WHERE owner = ${owner} ORDER BY name`;
      return rows.map(toProject);
    },
    async projectsInStatus(statuses) {
      if (statuses.length === 0) return [];
      const rows = await sql`SELECT * FROM projects WHERE status IN ${sql(statuses)}
        ORDER BY owner, name`;
      return rows.map(toProject);
    },
    async deleteProject(owner, name) {
      await sql.begin(async (transaction) => {
        const tickets = sql`SELECT id FROM tickets WHERE owner = ${owner} AND project = ${name}`;
        for (const table of ['ticket_events', 'ticket_evidence', 'ticket_bundles']) {
          await transaction`DELETE FROM ${sql(table)} WHERE ticket_id IN (${tickets})`;
        }
        await transaction`DELETE FROM tickets WHERE owner = ${owner} AND project = ${name}`;
        const plans = sql`SELECT id FROM plans WHERE owner = ${owner} AND project = ${name}`;
        for (const table of ['plan_events', 'plan_evidence', 'plan_bundles']) {
          await transaction`DELETE FROM ${sql(table)} WHERE plan_id IN (${plans})`;
        }
        await transaction`DELETE FROM plans WHERE owner = ${owner} AND project = ${name}`;
        await transaction`DELETE FROM projects WHERE owner = ${owner} AND name = ${name}`;
      });
    },
  };
}
