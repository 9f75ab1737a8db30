import type { MagsContext } from '../context/mags-context.ts';
import { MagsError } from '../errors/mags-error.ts';
import { localOwner, ownerWorkspaceDisplayName } from '../workspaces/owner-workspace.ts';

/** An error as one owner may see it (an API response, a job's `reason`). */
export interface OwnerFacingError {
  statusCode: number;
  code: string;
  message: string;
  hint?: string;
  /** Something was left out or rewritten: the whole error belongs in the server's log. */
  withheld: boolean;
}

/** Where this server keeps things; none of it is any owner's business. */
export interface ServerLocations {
  /** MAGS_HOME: workspaces, run directories and state live below it. */
  home: string;
  /** The object store's location (`s3://bucket/prefix`, or a directory). */
  store: string;
}

/** This server's locations, which every error shown to an owner is cleaned of. */
export function serverLocations(context: Pick<MagsContext, 'home' | 'sync'>): ServerLocations {
  return { home: context.home, store: context.sync.store.location };
}

/**
 * Store-level errors that only ever reach a client through a bug upstream: their text names
 * object keys (which hold internal workspace names).
 */
const storeInternalCodes = new Set(['object_not_found', 'precondition_failed']);

/**
 * Server-side errors whose text is written for the owner (host ids and why a host cannot be
 * reached, never an address or a path): shown like a client's own mistakes.
 */
const ownerWordedServerCodes = new Set(['host_unavailable', 'forward_loop', 'no_host_available']);

/**
 * What an owner is told about an error. A client's own mistakes (4xx) keep their text, with
 * internal workspace names put back into the owner's names and host paths replaced by words;
 * anything else (5xx, unknown errors, store internals) is the server's problem: the owner gets
 * its code and status, and the details go to the server's log.
 */
export function ownerFacingError(
  error: unknown,
  owner: string | undefined,
  locations: ServerLocations,
): OwnerFacingError {
  if (!(error instanceof MagsError)) {
    return {
      statusCode: 500,
      code: 'internal',
      message: "Internal server error; the server's log has the details.",
      withheld: true,
    };
  }
  const statusCode = error.statusCode ?? 500;
  // The host itself (the CLI's own local server) is the operator: it gets the whole story.
  if (owner === localOwner) {
    return {
      statusCode,
      code: error.code,
      message: error.message,
      hint: error.hint,
      withheld: false,
    };
  }
  if (
    (statusCode >= 500 && !ownerWordedServerCodes.has(error.code)) ||
    storeInternalCodes.has(error.code)
  ) {
    return {
      statusCode: storeInternalCodes.has(error.code) ? 500 : statusCode,
      code: error.code,
      message: `${serverSideSummary(error.code)}; the server's log has the details.`,
      hint: error.retryable ? 'This may pass if tried again later.' : undefined,
      withheld: true,
    };
  }
  const rewrite = (text: string) => inOwnerWords(text, error.workspace, owner, locations);
  const message = rewrite(error.message);
  const hint = error.hint === undefined ? undefined : rewrite(error.hint);
  return {
    statusCode,
    code: error.code,
    message,
    hint,
    withheld: message !== error.message || hint !== error.hint,
  };
}

function inOwnerWords(
  text: string,
  workspace: string | undefined,
  owner: string | undefined,
  locations: ServerLocations,
): string {
  let result = text;
  if (workspace !== undefined && owner !== undefined) {
    const own = ownerWorkspaceDisplayName(owner, workspace);
    if (own !== workspace) result = result.replaceAll(workspace, own ?? '(a workspace)');
  }
  // The store first: it may lie below MAGS_HOME.
  result = replacePath(result, locations.store, 'the object store', { wholeOnly: true });
  return replacePath(result, locations.home, '(a path on the server)');
}

/** Replaces `path` and anything below it (up to a space or quote) with `words`. */
function replacePath(
  text: string,
  path: string,
  words: string,
  options: { wholeOnly?: boolean } = {},
): string {
  if (path === '' || path === '/') return text;
  const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // Below it: path characters, not ending in a sentence's full stop.
  const below = options.wholeOnly ? '' : '(?:/[^\\s"\'`,;)]*[^\\s"\'`,;).])?';
  return text.replace(new RegExp(`${escaped}${below}(?![^\\s"'\`,;.)])`, 'g'), words);
}

function serverSideSummary(code: string): string {
  if (code === 'store_unavailable') return 'The object store is unavailable';
  if (code === 'sandbox_start_failed') return 'The sandbox could not be started';
  if (code === 'no_live_host') return 'No live host can run this job now';
  return `The server could not complete this (${code})`;
}
