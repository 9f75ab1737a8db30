import { MagsError } from '../../errors/mags-error.ts';

/**
 * The host holding a sandbox (or the only hosts with room) cannot be reached: marked gone, silent
 * past its heartbeat, without an address, or refusing the connection. A 503 naming the host and
 * why, answered at once (a connect timeout bounds the wait), never a hang.
 */
export class HostUnavailableError extends MagsError {
  readonly host: string;

  constructor(host: string, reason: string, options: { hint?: string; cause?: unknown } = {}) {
    super(`The host ${host} is unavailable: ${reason}.`, {
      code: 'host_unavailable',
      statusCode: 503,
      retryable: true,
      hint:
        options.hint ??
        `Try again once ${host} is back (mags server on it), or once it is found gone (its sandboxes are then stopped, and mags start NAME starts one again on a live host).`,
      cause: options.cause,
    });
    this.host = host;
  }
}

/**
 * A forwarded request whose sandbox is, again, on another host: a server never forwards a
 * forwarded request (the hosts disagree about where it is, or the header was forged).
 */
export class ForwardLoopError extends MagsError {
  /** `target` undefined: `here` runs no sandbox (`--api-only`), so it has none to answer with. */
  constructor(from: string, here: string, target: string | undefined) {
    super(
      target === undefined
        ? `A request forwarded by the host ${from} reached ${here}, which runs no sandbox: it is not forwarded twice.`
        : `A request forwarded by the host ${from} reached ${here}, but the sandbox is held by ${target}: it is not forwarded twice.`,
      {
        code: 'forward_loop',
        statusCode: 502,
        hint: `Send the request to any server without the x-mags-forwarded-by header; if ${from} and ${here} disagree about where it goes, check that both servers use the same shared state.`,
      },
    );
  }
}

/** No live host runs the sandbox's runtime (and this server runs none itself). */
export class NoHostAvailableError extends MagsError {
  constructor(reason: string) {
    super(`No host can take the sandbox: ${reason}.`, {
      code: 'no_host_available',
      statusCode: 503,
      retryable: true,
      hint: 'Start a mags server with that runtime (without --api-only) on the same state, then try again.',
    });
  }
}
