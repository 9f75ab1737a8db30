import { ConflictError, DependencyMissingError, InvalidInputError } from '../errors/mags-error.ts';
import type { HostRecord } from '../state/state-repository.ts';

/** No live host runs the job's runtime: nothing can take the job now. */
export function noLiveHost(runtime: string, hostTimeoutMs: number): DependencyMissingError {
  return new DependencyMissingError(
    `No live host can run this job: none that runs ${runtime} sandboxes has sent a heartbeat in the last ${hostTimeoutMs / 1000} s.`,
    {
      code: 'no_live_host',
      retryable: true,
      hint: 'Start a host server on this state (its --state, without --api-only), or see the hosts and their heartbeats at GET /v1/hosts.',
    },
  );
}

/** A run with uploaded files reached an API-only server: its uploads are on this server's disk. */
export function uploadsNeedHost(): InvalidInputError {
  return new InvalidInputError(
    'This server runs no sandboxes (it is --api-only, or its host was declared gone) and a run with uploaded files (-f) runs where they were uploaded.',
    {
      code: 'uploads_need_host',
      hint: 'Send the run with its files to a host server (one started without --api-only), or put the files in a persistent workspace through a host first.',
    },
  );
}

/** `--api-only` without shared state: nothing could run its jobs. */
export function apiOnlyNeedsSharedState(): InvalidInputError {
  return new InvalidInputError(
    "--api-only serves the API and runs no sandbox: it needs hosts sharing its state, and SQLite is one host's own.",
    {
      code: 'api_only_needs_shared_state',
      hint: 'Give the shared PostgreSQL state too: --state postgres://USER@HOST/DATABASE',
    },
  );
}

/** `mags server --host-id ID` while another live server process serves ID on the same state. */
export function hostIdInUse(holder: HostRecord, heartbeatAgoMs: number): ConflictError {
  return new ConflictError(
    `Host ${holder.id} is served by another live server process (${holder.server}) since ${holder.startedAt} (its last heartbeat ${(heartbeatAgoMs / 1000).toFixed(1)} s ago): two processes cannot serve one host.`,
    {
      code: 'host_id_in_use',
      hint: 'Give this one another --host-id (each server process its own), or stop the other first.',
    },
  );
}

/** A request for sandboxes or execs reached a host that was declared gone (or fell silent). */
export function hostGone(host: string): DependencyMissingError {
  return new DependencyMissingError(
    `This server's host (${host}) was declared gone by the other servers on its state (it was silent longer than the host timeout, or could not record its work): it runs no sandboxes any more.`,
    {
      code: 'host_gone',
      retryable: true,
      hint: 'Send the request to another server of this state (it places the sandbox on a live host), or restart this server to join again.',
    },
  );
}
