import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResourceLimits, SandboxExit, SandboxInfo, WorkspaceReference } from '../runtime.ts';
import type { SandboxCgroup } from './sandbox-cgroup.ts';

/**
 * What a server process needs to find a running sandbox again (`Runtime.attach`) after the one
 * that started it went away: `$MAGS_HOME/run/ID/sandbox.json`, written once the sandbox is up.
 * The agent's socket (`agent.sock`) and the launcher's log (`launcher.log`) sit beside it; the
 * `owner` file names the launcher (pid and start time), whose life is the sandbox's.
 */
export interface RunRecord {
  id: string;
  /** The runtime that started it (`namespace` when absent: records written before `qemu`). */
  runtime?: string;
  labels: Record<string, string>;
  workspace?: WorkspaceReference;
  launcherPid: number;
  /** ISO time the sandbox came up. */
  startedAt: string;
  limits: ResourceLimits;
  warnings: string[];
  /** Processes an idle sandbox counts (launcher, agent, maybe slirp4netns). */
  baselineProcesses?: number;
  /** It has an egress allow-list (its keeper writes the egress log). */
  egressAllowList?: boolean;
}

const runRecordName = 'sandbox.json';
export const agentSocketName = 'agent.sock';
export const launcherLogName = 'launcher.log';
/** Where the launcher's egress keeper writes what an allow-list refused (native/egress.c). */
export const egressLogName = 'egress-blocked.log';

export async function writeRunRecord(runDirectory: string, record: RunRecord): Promise<void> {
  // Written beside and renamed: a reader never sees half a record.
  const temporary = join(runDirectory, `${runRecordName}.tmp`);
  await writeFile(temporary, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  await rename(temporary, join(runDirectory, runRecordName));
}

export async function readRunRecord(runDirectory: string): Promise<RunRecord | undefined> {
  const text = await readFile(join(runDirectory, runRecordName), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as RunRecord;
  } catch {
    return undefined;
  }
}

export function sandboxInfo(record: RunRecord): SandboxInfo {
  return {
    id: record.id,
    labels: record.labels,
    startedAt: record.startedAt,
    ...(record.workspace ? { workspace: record.workspace } : {}),
  };
}

/**
 * What an ended sandbox leaves, once its launcher is gone: its last counters are read, then its
 * cgroup and run directory are removed.
 */
export async function removeEndedSandbox(
  cgroup: SandboxCgroup | undefined,
  runDirectory: string,
): Promise<SandboxExit> {
  const exit: SandboxExit = {
    oomKills: (await cgroup?.oomKillCount()) ?? 0,
    peakMemoryBytes: await cgroup?.peakMemoryBytes(),
  };
  await cgroup?.remove();
  await rm(runDirectory, { recursive: true, force: true });
  return exit;
}
