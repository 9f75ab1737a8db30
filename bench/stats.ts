/** Timing helpers shared by the benchmark sections: samples, percentiles, a printed table. */
export interface Summary {
  name: string;
  samples: number;
  medianMs: number;
  p95Ms: number;
}

export function summarize(name: string, samplesMs: number[]): Summary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (fraction: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0;
  return { name, samples: sorted.length, medianMs: at(0.5), p95Ms: at(0.95) };
}

/**
 * Runs `operation` `warmup` times untimed, then `iterations` times timed. An operation that
 * returns a number has timed itself (to leave out a wait before the part that counts).
 */
export async function measure(
  name: string,
  iterations: number,
  operation: () => unknown,
  warmup = 3,
): Promise<Summary> {
  for (let index = 0; index < warmup; index++) await operation();
  const samples: number[] = [];
  for (let index = 0; index < iterations; index++) {
    const startedAt = performance.now();
    const own = await operation();
    samples.push(typeof own === 'number' ? own : performance.now() - startedAt);
  }
  return summarize(name, samples);
}

/** Prints rows with their ratio to a floor measured in the same run. */
export function printTable(
  title: string,
  rows: Array<{ summary: Summary; floor?: Summary; target?: string }>,
): void {
  const lines = [
    `\n## ${title}\n`,
    '| operation | n | median ms | p95 ms | vs floor (median) | target |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const { summary, floor, target } of rows) {
    const ratio = floor
      ? `${(summary.medianMs / floor.medianMs).toFixed(2)}× ${floor.name}`
      : 'floor';
    lines.push(
      `| ${summary.name} | ${summary.samples} | ${summary.medianMs.toFixed(1)} | ${summary.p95Ms.toFixed(1)} | ${ratio} | ${target ?? ''} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Prints a markdown table of figures already formatted, under a `##` title. */
export function printRows(
  title: string,
  headers: readonly string[],
  rows: readonly string[][],
): void {
  const lines = [
    `\n## ${title}\n`,
    `| ${headers.join(' | ')} |`,
    `| ${headers.map((_, index) => (index === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
