import { projectBeingDeleted, serverShuttingDown } from './ticket-errors.ts';

/** Whether an action can start an agent's or the platform's work (a run, an approval). */
export type TicketActionKind = 'starts_work' | 'other';

/**
 * The ticket actions in progress, per project, so that what must not overlap them waits for them
 * and refuses new ones meanwhile:
 * - a project's deletion (`whileDeleting`): it waits until no action on the project's tickets is
 *   in progress (an approval writing its bundle, a `run` restarting a stopped ticket's sandbox)
 *   and every new one is a 409 until it is done;
 * - the server's shutdown (`close`, then `drained`): no new action that starts work (a 503), and
 *   the ones in progress — an approval — are waited for.
 * Taken before a ticket's lock and before a project's lock: never the other way round.
 */
export class TicketActions {
  #closing = false;
  /** Per owner+project: the actions in progress. */
  readonly #inProgress = new Map<string, Set<Promise<unknown>>>();
  /** Per owner+project: deletions in progress (waiting or deleting). */
  readonly #deleting = new Map<string, number>();

  /** Runs a ticket's action of `owner`'s `project`, unless it must wait (a clear error). */
  run<T>(
    owner: string,
    project: string,
    kind: TicketActionKind,
    what: string,
    action: () => Promise<T>,
  ): Promise<T> {
    const key = projectKey(owner, project);
    if (this.#deleting.has(key)) return Promise.reject(projectBeingDeleted(project));
    if (kind === 'starts_work' && this.#closing) {
      return Promise.reject(serverShuttingDown(what));
    }
    const running = action();
    const actions = this.#inProgress.get(key) ?? new Set();
    this.#inProgress.set(key, actions);
    actions.add(running);
    const settle = () => {
      actions.delete(running);
      if (actions.size === 0 && this.#inProgress.get(key) === actions) {
        this.#inProgress.delete(key);
      }
    };
    running.then(settle, settle);
    return running;
  }

  /** Runs `action` (a project's deletion) once no action on its tickets is in progress. */
  async whileDeleting<T>(owner: string, project: string, action: () => Promise<T>): Promise<T> {
    const key = projectKey(owner, project);
    this.#deleting.set(key, (this.#deleting.get(key) ?? 0) + 1);
    try {
      await settled(this.#inProgress.get(key));
      return await action();
    } finally {
      const left = (this.#deleting.get(key) ?? 1) - 1;
      if (left === 0) this.#deleting.delete(key);
      else this.#deleting.set(key, left);
    }
  }

  /** The server shuts down: from now on actions that start work are refused. */
  close(): void {
    this.#closing = true;
  }

  /** Resolves once no action is in progress (those that start while waiting included). */
  async drained(): Promise<void> {
    for (const actions of this.#inProgress.values()) await settled(actions);
    if (this.#inProgress.size > 0) await this.drained();
  }
}

async function settled(actions: Set<Promise<unknown>> | undefined): Promise<void> {
  while (actions && actions.size > 0) await Promise.allSettled([...actions]);
}

const projectKey = (owner: string, project: string) => `${owner}\u0000${project}`;
