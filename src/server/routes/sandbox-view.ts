import type { SandboxInfo } from '../../api/schemas.ts';
import { sleepsWhenIdle } from '../../sandboxes/sandbox-record.ts';
import type { SandboxRecord } from '../../state/state-repository.ts';

/** A sandbox as its owner sees it (the API's `Sandbox`). */
export function toSandboxView(record: SandboxRecord): SandboxInfo {
  return {
    name: record.name,
    status: record.status,
    sleep: sleepsWhenIdle(record),
    workspace: record.workspace,
    reason: record.reason,
    createdAt: record.createdAt,
    lastActiveAt: record.lastActiveAt,
    runtime: record.runtime ?? 'namespace',
  };
}
