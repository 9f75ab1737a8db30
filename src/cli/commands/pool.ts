import type { Command } from 'commander';
import type { HostPoolStatusInfo, PoolStatusInfo } from '../../sdk/mags.ts';
import { apiClient } from '../client/api-client.ts';
import { printJson } from '../output.ts';

export function registerPoolCommands(program: Command): void {
  const pool = program
    .command('pool')
    .description(
      'Your jobs and sandboxes on the server; with an admin token also its pool, warm cache and counters.',
    );
  pool
    .command('status')
    .description(
      'Your running and queued jobs and sandboxes against your limits; an admin also sees the host: idle, busy and parked sandboxes, hits, misses and evictions.',
    )
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }, command: Command) => {
      const status = await (await apiClient(command)).pool();
      if (flags.json) return printJson(status);
      process.stdout.write(formatPoolStatus(status));
    });
}

export function formatPoolStatus(status: PoolStatusInfo): string {
  const { owner, host } = status;
  const of = (count: number, limit: number | null) =>
    limit === null ? `${count}` : `${count}/${limit}`;
  const lines = [
    `owner       ${owner.name}: ${of(owner.jobs.running, owner.jobs.maxRunning)} jobs running, ${of(owner.jobs.queued, owner.jobs.maxQueued)} queued; ${of(owner.sandboxes.running, owner.sandboxes.max)} sandboxes (${owner.sandboxes.sleeping} sleeping), ${owner.parked} parked`,
    ...(host ? formatHost(host) : []),
  ];
  return `${lines.join('\n')}\n`;
}

/** The host-wide figures an admin token sees. */
function formatHost(host: HostPoolStatusInfo): string[] {
  const { pool, warm, counters } = host;
  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  const reasons = (counts: Record<string, number>) => {
    const entries = Object.entries(counts).filter(([, value]) => value > 0);
    return entries.length === 0
      ? ''
      : ` (${entries.map(([key, value]) => `${key} ${value}`).join(', ')})`;
  };
  const sum = (counts: Record<string, number>) =>
    Object.values(counts).reduce((total, value) => total + value, 0);
  return [
    `jobs        ${host.jobs.running}/${host.jobs.maxConcurrent} running on this host, ${host.jobs.queued} queued`,
    `sandboxes   ${host.total} total: ${pool.idle} idle in the pool, ${host.busy} busy (${host.sleeping} of them sleeping), ${warm.parked} parked`,
    `pool        ${pool.idle}/${pool.size} ready on image ${pool.image} (${pool.runtime})${pool.starting ? `, ${pool.starting} starting` : ''}`,
    ...(pool.error ? [`pool error  ${pool.error.replace(/\n/g, '\n            ')}`] : []),
    `warm cache  ${warm.parked}/${warm.maxCount} parked, ${mib(warm.memoryBytes)} of ${mib(warm.maxMemoryBytes)}, kept ${Math.round(warm.ttlMs / 1000)} s`,
    `pool        ${counters.poolHits} hits, ${sum(counters.poolMisses)} misses${reasons(counters.poolMisses)}, ${counters.poolRefillFailures} refill failures`,
    `warm cache  ${counters.warmHits} hits, ${sum(counters.warmMisses)} misses${reasons(counters.warmMisses)}, ${sum(counters.warmEvictions)} evictions${reasons(counters.warmEvictions)}`,
    `not parked  ${sum(counters.notParked)}${reasons(counters.notParked)}`,
    `sleep       ${counters.sleeps} sleeps, ${counters.wakes} wakes`,
  ];
}
