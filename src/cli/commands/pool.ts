import type { Command } from 'commander';
import type { PoolStatusInfo } from '../../sdk/mags.ts';
import { apiClient } from '../client/api-client.ts';
import { printJson } from '../output.ts';

export function registerPoolCommands(program: Command): void {
  const pool = program
    .command('pool')
    .description("The server's pool of ready sandboxes, its warm cache and sleeping sandboxes.");
  pool
    .command('status')
    .description('Idle, busy and parked sandboxes, with hit, miss and eviction counts.')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }, command: Command) => {
      const status = await (await apiClient(command)).pool();
      if (flags.json) return printJson(status);
      process.stdout.write(formatPoolStatus(status));
    });
}

export function formatPoolStatus(status: PoolStatusInfo): string {
  const { pool, warm, counters } = status;
  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  const reasons = (counts: Record<string, number>) => {
    const entries = Object.entries(counts).filter(([, value]) => value > 0);
    return entries.length === 0
      ? ''
      : ` (${entries.map(([key, value]) => `${key} ${value}`).join(', ')})`;
  };
  const sum = (counts: Record<string, number>) =>
    Object.values(counts).reduce((total, value) => total + value, 0);
  const lines = [
    `sandboxes   ${status.total} total: ${pool.idle} idle in the pool, ${status.busy} busy (${status.sleeping} of them sleeping), ${warm.parked} parked`,
    `pool        ${pool.idle}/${pool.size} ready on image ${pool.image}${pool.starting ? `, ${pool.starting} starting` : ''}`,
    ...(pool.error ? [`pool error  ${pool.error.replace(/\n/g, '\n            ')}`] : []),
    `warm cache  ${warm.parked}/${warm.maxCount} parked, ${mib(warm.memoryBytes)} of ${mib(warm.maxMemoryBytes)}, kept ${Math.round(warm.ttlMs / 1000)} s`,
    `pool        ${counters.poolHits} hits, ${sum(counters.poolMisses)} misses${reasons(counters.poolMisses)}, ${counters.poolRefillFailures} refill failures`,
    `warm cache  ${counters.warmHits} hits, ${sum(counters.warmMisses)} misses${reasons(counters.warmMisses)}, ${sum(counters.warmEvictions)} evictions${reasons(counters.warmEvictions)}`,
    `not parked  ${sum(counters.notParked)}${reasons(counters.notParked)}`,
    `sleep       ${counters.sleeps} sleeps, ${counters.wakes} wakes`,
  ];
  return `${lines.join('\n')}\n`;
}
