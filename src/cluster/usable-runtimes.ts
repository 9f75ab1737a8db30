import type { MagsContext } from '../context/mags-context.ts';

/** The runtimes whose host check passes here (the default one always: it explains itself). */
export async function usableRuntimes(context: MagsContext): Promise<string[]> {
  const usable: string[] = [];
  for (const runtime of Object.values(context.runtimes)) {
    if (runtime === context.runtime) usable.push(runtime.name);
    else if (
      await runtime.check().then(
        (check) => check.ok,
        () => false,
      )
    )
      usable.push(runtime.name);
  }
  return usable;
}
