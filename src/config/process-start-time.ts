import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/**
 * A process's start time in clock ticks since boot (/proc/PID/stat field 22): with its pid, it
 * names one process exactly (a reused pid starts later). '' when the process is gone, a zombie
 * (state Z: it has ended, only its parent has not collected it yet) included.
 */
function startTicksFromStat(stat: string): string {
  // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] === 'Z' ? '' : (fields[19] ?? '');
}

/** `startTicksFromStat` of process `pid`, read now. */
export function processStartTicks(pid: number): string {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return '';
  }
  return startTicksFromStat(stat);
}

/** The same, without blocking the event loop (a sweep reads many). */
export async function readProcessStartTicks(pid: number): Promise<string> {
  return startTicksFromStat(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''));
}
