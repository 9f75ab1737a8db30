import { NotFoundError } from '../errors/mags-error.ts';
import type { SandboxManager } from '../sandboxes/sandbox-manager.ts';
import type { StateRepository } from '../state/state-repository.ts';
import type { WorkspaceManager } from '../workspaces/workspace-manager.ts';

/**
 * Closed tickets of this host older than the retention lose their sandbox and workspace (the
 * ticket, its events, evidence and bundle stay). Its `workspace` becomes null: the mark that it
 * is done. Returns how many tickets it cleaned up.
 */
export async function sweepClosedTickets(options: {
  repository: StateRepository;
  sandboxes: SandboxManager;
  workspaces: Pick<WorkspaceManager, 'delete'> | undefined;
  host: string;
  retentionMs: number;
  now: number;
}): Promise<number> {
  const { repository, sandboxes, workspaces } = options;
  let cleaned = 0;
  for (const ticket of await repository.ticketsInStatus(['closed'])) {
    if (!ticket.workspace || (ticket.host && ticket.host !== options.host)) continue;
    if (Date.parse(ticket.updatedAt) + options.retentionMs > options.now) continue;
    const gone = (error: unknown) => {
      if (!(error instanceof NotFoundError)) throw error;
    };
    await sandboxes.delete(ticket.owner, ticket.id).catch(gone);
    await workspaces?.delete(ticket.owner, ticket.workspace).catch(gone);
    const days = Math.round(options.retentionMs / (24 * 3600 * 1000));
    await repository.updateTicket(ticket.id, {
      workspace: null,
      reason: `${ticket.reason ?? 'closed'}; its sandbox and workspace were deleted ${days} days after it was closed`,
      updatedAt: new Date(options.now).toISOString(),
    });
    cleaned++;
  }
  return cleaned;
}

/** The periodic sweep of closed tickets past their retention (`sweepClosedTickets`). */
export class ClosedTicketSweeper {
  readonly #options: Omit<Parameters<typeof sweepClosedTickets>[0], 'now'>;
  readonly #everyMs: number;
  readonly #log: (line: string) => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    options: Omit<Parameters<typeof sweepClosedTickets>[0], 'now'>,
    everyMs: number,
    log: (line: string) => void,
  ) {
    this.#options = options;
    this.#everyMs = everyMs;
    this.#log = log;
  }

  /** Sweeps now, then every `everyMs` until `stop`. */
  start(): void {
    if (this.#timer) return;
    const sweep = () => {
      this.sweep().catch((error: unknown) => {
        this.#log(`sweeping closed tickets failed: ${(error as Error).message}`);
      });
    };
    sweep();
    this.#timer = setInterval(sweep, this.#everyMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  sweep(now = Date.now()): Promise<number> {
    return sweepClosedTickets({ ...this.#options, now });
  }
}
