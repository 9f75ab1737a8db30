import { InvalidInputError } from '../errors/mags-error.ts';
import type { Runtime, RuntimeCheck } from '../runtimes/runtime.ts';
import type { MagsContext } from './mags-context.ts';

type Runtimes = Pick<MagsContext, 'runtime' | 'runtimes'>;

/**
 * The runtime a run or sandbox asks for by name (`--runtime`, the API's `runtime`); none: the
 * default. A name this server does not offer is a 400 that lists the ones it does.
 */
export function selectRuntime(context: Runtimes, name: string | null | undefined): Runtime {
  if (name === undefined || name === null) return context.runtime;
  const runtime = context.runtimes[name];
  if (runtime) return runtime;
  throw new InvalidInputError(`Unknown runtime ${JSON.stringify(name)}.`, {
    code: 'invalid_input',
    hint: `Available here: ${Object.keys(context.runtimes).join(', ')} (default ${context.runtime.name}).`,
  });
}

/** A check that passed is not repeated in this process (the host does not lose a runtime). */
const passed = new WeakSet<Runtime>();

/**
 * `selectRuntime`, then, when a runtime was named, its host check: one this host lacks (qemu
 * without its kernel, say) is refused before anything is recorded, with the check's problems.
 * The default runtime is not checked here (a failed start explains itself: `startOrExplain`),
 * which keeps a run that names no runtime as fast as before.
 */
export async function requireRuntime(
  context: Runtimes,
  name: string | null | undefined,
): Promise<Runtime> {
  const runtime = selectRuntime(context, name);
  if (name === undefined || name === null || passed.has(runtime)) return runtime;
  const check: RuntimeCheck = await runtime.check();
  if (!check.ok) {
    // A 400, not a 503: the caller chose the runtime and can choose another, so it is told
    // what is missing (a server's 5xx keep their text from the caller).
    throw new InvalidInputError(
      `This host cannot run ${runtime.name} sandboxes:\n  - ${check.problems.join('\n  - ')}`,
      {
        code: 'runtime_unavailable',
        hint: `Use another runtime (${Object.keys(context.runtimes)
          .filter((name) => name !== runtime.name)
          .join(', ')}), or fix the above on the server (mags doctor checks again).`,
      },
    );
  }
  passed.add(runtime);
  return runtime;
}
