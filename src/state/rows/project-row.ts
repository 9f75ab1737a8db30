import type { ProjectConfig } from '../../api/projects.ts';
import type { ProjectRecord, ProjectUpdate } from '../state-repository.ts';
import { flag, type StateRow, text } from './row-values.ts';

/** The column of each field a project's update may set. */
export const projectColumns: Record<keyof ProjectUpdate, string> = {
  repo: 'repo',
  ref: 'ref',
  commit: 'commit_id',
  setupTree: 'setup_tree',
  setup: 'setup',
  test: 'test',
  model: 'model',
  config: 'config',
  status: 'status',
  reason: 'reason',
  network: 'network',
  updatedAt: 'updated_at',
};

export function toProject(row: StateRow): ProjectRecord {
  return {
    owner: String(row.owner),
    name: String(row.name),
    repo: String(row.repo),
    ref: text(row.ref),
    workspace: String(row.workspace),
    commit: text(row.commit_id),
    setupTree: text(row.setup_tree),
    setup: text(row.setup),
    test: text(row.test),
    model: text(row.model),
    config: JSON.parse(String(row.config)) as ProjectConfig,
    status: row.status as ProjectRecord['status'],
    reason: text(row.reason),
    network: flag(row.network),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}
