import type { SQLInputValue } from 'node:sqlite';
import { projectColumns, toProject } from '../rows/project-row.ts';
import type { ProjectMethods } from '../state-method-groups.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';

/** Projects, and the removal of a project with every ticket of it. */
export function sqliteProjectStatements({
  statement,
  prepared,
  transaction,
  updateColumns,
}: SqliteDatabase): ProjectMethods {
  const insertProject = prepared(
    `INSERT INTO projects (owner, name, repo, ref, workspace, commit_id, setup_tree, setup, test, model, config,
     status, reason, network, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const projectByName = prepared('SELECT * FROM projects WHERE owner = ? AND name = ?');
  return {
    async insertProject(project) {
      insertProject().run(
        project.owner,
        project.name,
        project.repo,
        project.ref,
        project.workspace,
        project.commit,
        project.setupTree,
        project.setup,
        project.test,
        project.model,
        JSON.stringify(project.config),
        project.status,
        project.reason,
        project.network ? 1 : 0,
        project.createdAt,
        project.updatedAt,
      );
    },
    async updateProject(owner, name, update) {
      updateColumns(
        'projects',
        projectColumns,
        update,
        { sql: 'owner = ? AND name = ?', values: [owner, name] },
        (column, value) =>
          column === 'config'
            ? JSON.stringify(value)
            : column === 'network'
              ? Number(value)
              : (value as SQLInputValue),
      );
    },
    async getProject(owner, name) {
      const row = projectByName().get(owner, name) as Row | undefined;
      return row && toProject(row);
    },
    async listProjects(owner) {
      const rows = statement('SELECT * FROM projects WHERE owner = ? ORDER BY name').all(owner);
      return (rows as Row[]).map(toProject);
    },
    async projectsInStatus(statuses) {
      if (statuses.length === 0) return [];
      const rows = statement(
        `SELECT * FROM projects WHERE status IN (${statuses.map(() => '?').join(', ')}) ORDER BY owner, name`,
      ).all(...statuses);
      return (rows as Row[]).map(toProject);
    },
    async deleteProject(owner, name) {
      transaction(() => {
        const tickets = 'SELECT id FROM tickets WHERE owner = ? AND project = ?';
        for (const table of ['ticket_events', 'ticket_evidence', 'ticket_bundles']) {
          statement(`DELETE FROM ${table} WHERE ticket_id IN (${tickets})`).run(owner, name);
        }
        statement('DELETE FROM tickets WHERE owner = ? AND project = ?').run(owner, name);
        const plans = 'SELECT id FROM plans WHERE owner = ? AND project = ?';
        for (const table of ['plan_events', 'plan_evidence', 'plan_bundles']) {
          statement(`DELETE FROM ${table} WHERE plan_id IN (${plans})`).run(owner, name);
        }
        statement('DELETE FROM plans WHERE owner = ? AND project = ?').run(owner, name);
        statement('DELETE FROM projects WHERE owner = ? AND name = ?').run(owner, name);
      });
    },
  };
}
