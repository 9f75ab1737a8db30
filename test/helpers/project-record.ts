import type { ProjectRecord } from '../../src/state/state-repository.ts';

/**
 * A project of alice's as a server stores it once imported (`ready`, at commit c0ffee), for tests
 * that need the record without running an import; `fields` override any of it.
 */
export function projectRecord(name: string, fields: Partial<ProjectRecord> = {}): ProjectRecord {
  const at = new Date().toISOString();
  return {
    owner: 'alice',
    name,
    repo: `/srv/${name}`,
    ref: null,
    workspace: `project.${name}`,
    commit: 'c0ffee',
    setupTree: null,
    setup: null,
    test: null,
    model: null,
    config: {},
    status: 'ready',
    reason: null,
    network: false,
    createdAt: at,
    updatedAt: at,
    ...fields,
  };
}
