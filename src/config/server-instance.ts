import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { processStartTicks } from './process-start-time.ts';

/**
 * Which host, and which server process on it, owns a job or a sandbox (recorded in state, and as
 * the `server` label of the sandboxes it starts). The id names this process incarnation exactly:
 * `BOOT:PID:START` (the kernel's boot id, the pid, and the process's start time in clock ticks
 * since boot), so a reused pid or a reboot is never mistaken for a live server.
 */
export interface ServerInstance {
  host: string;
  server: string;
}

/**
 * This process. `embedded`: the job system of one `mags run` (no server running), whose id ends
 * in `:embedded` so that the next such run can tell its work from a server's (`isEmbedded`).
 */
export function currentServerInstance(options: { embedded?: boolean } = {}): ServerInstance {
  const server = `${bootId()}:${process.pid}:${processStartTicks(process.pid)}`;
  return { host: hostname(), server: options.embedded ? `${server}${embeddedMark}` : server };
}

const embeddedMark = ':embedded';

/** Whether `server` is a `mags run`'s embedded job system rather than a server. */
export function isEmbedded(server: string): boolean {
  return server.endsWith(embeddedMark);
}

/** Whether the server process `server` (an id of this host) still runs. */
export function serverIsAlive(server: string): boolean {
  // An embedded job system's id has one more field (its mark), not used here.
  const [boot, pid, start] = server.split(':');
  if (boot !== bootId() || !pid || !start) return false;
  return processStartTicks(Number(pid)) === start;
}

/**
 * Whether this process may take up work `record` left: of this host (or of none), and of a server
 * process that is not this one and no longer runs.
 */
export function canTakeOver(
  record: { host?: string | null; server?: string | null },
  instance: ServerInstance,
): boolean {
  if (record.host && record.host !== instance.host) return false;
  if (record.server === instance.server) return false;
  return !(record.server && serverIsAlive(record.server));
}

/** Whether the server process `server` ran on this machine since its last boot. */
export function serverIsOnThisMachine(server: string): boolean {
  return server.split(':')[0] === bootId();
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().slice(0, 8);
  } catch {
    return 'noboot';
  }
}
