/**
 * Durable control-plane state (`state-v1`): tokens, jobs and their logs, long-lived sandboxes and
 * workspace ownership. The embedded default is SQLite (`sqlite/`); PostgreSQL, for several hosts
 * sharing state, implements the same interface and runs the same contract suite
 * (`state-repository-contract.ts`). Every method is async so a networked database fits.
 */

import type { CronJob, CronRun } from '../api/cron.ts';
import type { EndReason } from '../api/end-reason.ts';
import type { Plan, PlanEvent, PlanEventData, PlanEvidence, PlanStatus } from '../api/plans.ts';
import type { Project } from '../api/projects.ts';
import type {
  Evidence,
  Ticket,
  TicketEvent,
  TicketEventData,
  TicketStatus,
} from '../api/tickets.ts';
import type {
  FiringSource,
  FiringStatus,
  TriggerEvent,
  TriggerKind,
  TriggerSchedule,
} from '../api/triggers.ts';

export type JobKind = 'run' | 'exec';
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'stopped';
export const finishedJobStatuses: readonly JobStatus[] = ['succeeded', 'failed', 'stopped'];

export interface JobRecord {
  id: string;
  owner: string;
  kind: JobKind;
  /** The long-lived sandbox an `exec` job ran in. */
  sandbox: string | null;
  argv: string[];
  workspace: string | null;
  status: JobStatus;
  exitCode: number | null;
  signal: string | null;
  /**
   * The job's state in a few words ("timed out", "exited with code 3"): the API's `reason`, kept
   * for compatibility. What to tell a person is `message`; how it ended, `endReason`.
   */
  reason: string | null;
  /** The sandbox a run job runs in, from when it has started (null before, and for exec jobs). */
  sandboxId: string | null;
  /** How it ended (null while queued or running). */
  endReason: EndReason | null;
  /** What to tell a person about how it ended (hints, disk full, sync summary); null: nothing. */
  message: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Bytes of output stored so far (stdout and stderr interleaved, one offset space). */
  logBytes: number;
  /** When retention or a quota removed the output (the record stays); null while it is kept. */
  logsRemovedAt: string | null;
  /** Why, in words: its age, the owner's quota, the server's total. */
  logsRemovedReason: string | null;
  /**
   * The host (hostname) and server process (`ServerInstance.id`) that runs the job: recovery
   * after a restart touches only its own host's jobs of servers that are gone. Null (or absent
   * when inserting) for jobs recorded before sandboxes outlived their server.
   */
  host?: string | null;
  server?: string | null;
  /** What a run job asked for that another server process needs to finish it (JSON object). */
  runOptions?: Record<string, unknown> | null;
  /** What started it besides a request of its owner's: `cron:NAME:ID` (a cron job's run); null: none. */
  origin?: string | null;
  /**
   * The runtime it runs on (an exec job: its sandbox's). Always set when read; absent when
   * inserting, or in a record from before runtimes could be chosen: `namespace`.
   */
  runtime?: string;
}

export type JobUpdate = Partial<
  Pick<
    JobRecord,
    | 'status'
    | 'exitCode'
    | 'signal'
    | 'reason'
    | 'endReason'
    | 'message'
    | 'sandboxId'
    | 'startedAt'
    | 'finishedAt'
    | 'logBytes'
  >
>;

export interface JobFilter {
  owner: string;
  status?: JobStatus;
  workspace?: string;
  sandbox?: string;
  /** Page size; the newest jobs come first. */
  limit: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

/** A finished job whose output is still stored: what retention may remove. */
export interface StoredLog {
  id: string;
  owner: string;
  bytes: number;
  finishedAt: string;
}

export interface LogChunk {
  /** Byte offset of the chunk's first byte in the job's output. */
  offset: number;
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/** `sleeping`: running but frozen after being idle; any use wakes it. */
export type SandboxStatus = 'running' | 'sleeping' | 'stopped';

export interface SandboxRecord {
  owner: string;
  name: string;
  /** The runtime's id of the current incarnation (changes on every start). */
  runtimeId: string | null;
  workspace: string | null;
  status: SandboxStatus;
  /** The options it was created with, replayed when it is started again. */
  options: Record<string, unknown>;
  reason: string | null;
  createdAt: string;
  lastActiveAt: string;
  /** The host and server process holding it while it runs (see JobRecord.host). */
  host?: string | null;
  server?: string | null;
  /** The runtime it runs on, chosen at creation (see JobRecord.runtime). */
  runtime?: string;
}

/** Another server process's unfinished work, now this one's (`takeOverServer`). */
export interface TakenOver {
  /** Its jobs that were queued or running. */
  jobs: JobRecord[];
  /** Its sandboxes that were running or sleeping. */
  sandboxes: SandboxRecord[];
}

export interface TokenRecord {
  id: string;
  owner: string;
  name: string;
  /** SHA-256 of the secret; the secret itself is shown once and never stored. */
  hash: string;
  createdAt: string;
  revokedAt: string | null;
  /**
   * Sees host-wide figures (`/v1/pool`) besides its owner's own. Never more reach into other
   * owners' jobs, sandboxes or workspaces: those stay scoped by `owner`.
   */
  admin: boolean;
}

/** A URL to a port of a long-lived sandbox (`mags url`), served by the server's proxy. */
export interface SandboxUrlRecord {
  /** `url_` and 16 random hex digits; the path form is `/u/ID/`. */
  id: string;
  owner: string;
  /** The sandbox's name. */
  sandbox: string;
  /** `createdAt` of the sandbox it was made for: a sandbox deleted and made again gets none of its URLs. */
  sandboxCreatedAt: string;
  port: number;
  /** Anyone may use it; otherwise the owner's token or a signed link is needed. */
  public: boolean;
  /** The host-routing label (`PORT-NAME-TAG`), or null when the name is not a DNS label. */
  hostLabel: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface WorkspaceRecord {
  owner: string;
  name: string;
  createdAt: string;
  lastUsedAt: string;
}

/** A project as stored: the API's view plus whose it is. */
export interface ProjectRecord extends Project {
  owner: string;
}

export type ProjectUpdate = Partial<
  Pick<
    ProjectRecord,
    | 'repo'
    | 'ref'
    | 'commit'
    | 'setupTree'
    | 'setup'
    | 'test'
    | 'model'
    | 'config'
    | 'status'
    | 'reason'
    | 'network'
    | 'updatedAt'
  >
>;

/** A ticket as stored: the API's view plus whose it is and what its agent needs to continue. */
export interface TicketRecord extends Ticket {
  owner: string;
  /**
   * The agent's conversation so far (its own serialisable messages, JSON), so that a
   * `request-changes` attempt continues with the previous attempt's history.
   */
  history: unknown[];
  /**
   * The id of the ticket's event up to which every comment (and request-changes feedback) is in
   * `history`, written together with it (0 or absent: none). The comments after it are the ones
   * the next attempt is given, so none is lost or given twice (`unseenComments`).
   */
  commentsDeliveredThrough?: number;
  /** The host and server process running it while `running` (see JobRecord.host). */
  host?: string | null;
  server?: string | null;
}

export type TicketUpdate = Partial<Omit<TicketRecord, 'id' | 'owner' | 'project' | 'createdAt'>>;

export interface TicketFilter {
  owner: string;
  project?: string;
  status?: TicketStatus;
  /** The tickets of this plan. */
  plan?: string;
}

/** A plan as stored: the API's view plus whose it is and which server process drives it. */
export interface PlanRecord extends Plan {
  owner: string;
  /** The host and server process dispatching it while `planning`, `running` or `integrating`. */
  host?: string | null;
  server?: string | null;
}

export type PlanUpdate = Partial<Omit<PlanRecord, 'id' | 'owner' | 'project' | 'createdAt'>>;

export interface PlanFilter {
  owner: string;
  project?: string;
  status?: PlanStatus;
}

// Cron jobs

/** A cron job as stored: the API's view plus whose it is and when it was last resumed. */
export interface CronJobRecord extends CronJob {
  owner: string;
  /** When it was last resumed: times before it are not caught up after a restart. */
  resumedAt: string | null;
}

export type CronJobUpdate = Partial<
  Pick<CronJobRecord, 'paused' | 'lastRunAt' | 'nextRunAt' | 'resumedAt' | 'updatedAt'>
>;

/** A run as stored: without the job's current state (read from the job when shown). */
export interface CronRunRecord extends Omit<CronRun, 'job'> {
  cronId: string;
  owner: string;
}

export type CronRunUpdate = Partial<Pick<CronRunRecord, 'status' | 'reason' | 'jobId'>>;

/** The run of a cron job that a new one would overlap: its job queued or running, or being submitted. */
export interface BusyCronRun {
  scheduledAt: string;
  trigger: CronRun['trigger'];
  /** null: claimed but its job not yet recorded (being submitted, by this server or another). */
  jobId: string | null;
  jobStatus: string | null;
}

/** How a run is recorded (claimCronRun, insertCronRun). */
export interface CronRunRecording {
  /** Runs kept per cron job: the older ones are deleted in the same transaction. */
  keepRuns: number;
  /**
   * A `started` run of a cron job without allowOverlap: when another run is busy (its job
   * queued or running, or claimed after `busySince` and not yet submitted), it is recorded as
   * skipped instead, with this reason. Checked in the recording's transaction, so two server
   * processes on one state never both start one.
   */
  busy?: { since: string; reason(busy: BusyCronRun): string };
}
// Triggers (background agents): a template fired by a schedule, a webhook or an event.

/** What a trigger is set to do, stored whole (one JSON column): everything but its state. */
export interface TriggerSpec {
  creates: 'ticket' | 'plan';
  /** The ticket.md text, placeholders and all. */
  template: string;
  schedule: TriggerSchedule | null;
  event: TriggerEvent | null;
  allowOverlap: boolean;
  maxConcurrent: number;
  dailyBudgetUsd: number | null;
  maxFiringsPerDay: number | null;
  autoApprove: boolean;
  dedupeKey: string | null;
}

export interface TriggerRecord {
  id: string;
  owner: string;
  name: string;
  project: string;
  kind: TriggerKind;
  spec: TriggerSpec;
  /** A webhook's signing secret (`whsec_…`); null for other kinds. Kept: every delivery is checked with it. */
  secret: string | null;
  paused: boolean;
  lastFiredAt: string | null;
  nextFireAt: string | null;
  /** Raised by each firing stored (claimFiring's compare-and-set: two servers never both pass a limit). */
  version: number;
  /** The latest scheduled time a firing claimed (no scheduled time is fired twice). */
  lastScheduledAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export type TriggerUpdate = Partial<
  Pick<TriggerRecord, 'paused' | 'lastFiredAt' | 'nextFireAt' | 'secret' | 'updatedAt'>
>;

export interface FiringRecord {
  id: string;
  trigger: string;
  owner: string;
  at: string;
  scheduledAt: string | null;
  source: FiringSource;
  key: string | null;
  status: FiringStatus;
  reason: string | null;
  ticket: string | null;
  plan: string | null;
  payload: unknown;
  /**
   * The triggers whose firings led to this one, oldest first, ending with its own: a ticket
   * approved fires B, B's ticket approved fires C… (a loop is refused by it).
   */
  chain: string[];
  /** Identical `skipped` firings folded into this row (1: just this one); `at` is the latest. */
  repeats: number;
  /** What its work may cost at most (its budget cap), charged while the work is active. */
  reservedUsd: number | null;
  /** Created, and its work not yet seen finished: counted by the limits until it is. */
  active: boolean;
}

export type FiringUpdate = Partial<
  Pick<FiringRecord, 'status' | 'reason' | 'ticket' | 'plan' | 'active'>
>;

/** What claimFiring did: stored the firing (maybe folded), or why not. */
export type FiringClaim =
  | { claimed: FiringRecord }
  /** The trigger changed (another firing was stored, or it is gone) since it was read. */
  | { conflict: 'changed' }
  /** Its scheduled time was claimed already (another server fired it). */
  | { conflict: 'taken' };

export interface FiringFilter {
  trigger: string;
  /** Only firings at or after this time. */
  since?: string;
  status?: FiringStatus;
  /** Only firings of this dedupe key. */
  key?: string;
  /** Newest first; at most this many. */
  limit: number;
}

// Hosts (GUIDE §6): the server processes that run sandboxes, sharing one state.

/** A host: a server with a runtime, where jobs and sandboxes are placed. */
export interface HostRecord {
  /**
   * Its stable name (`mags server --host-id`, default the hostname): what jobs, sandboxes and
   * placement record. Stays across restarts of its server.
   */
  id: string;
  /** The server process serving it now (`ServerInstance.server`). */
  server: string;
  /** Its API's base URL for other servers (forwarded requests); null: none other servers reach. */
  address: string | null;
  /** The runtimes it can run (`namespace`, `qemu`, …). */
  runtimes: string[];
  /** Jobs it runs at once, and runs now: placement picks a live host with room. */
  maxJobs: number;
  runningJobs: number;
  /** Storage names of the workspaces parked warm on it: a run of one of them prefers this host. */
  warmWorkspaces: string[];
  startedAt: string;
  heartbeatAt: string;
  /** When another server found it silent, and why: its work was failed with that reason. */
  goneAt: string | null;
  goneReason: string | null;
}

/** What a host's heartbeat refreshes. */
export type HostBeat = Pick<HostRecord, 'heartbeatAt' | 'runningJobs' | 'warmWorkspaces'>;

/**
 * What one server tells the others through the state (PostgreSQL's LISTEN/NOTIFY): `jobs_placed`
 * (a job was placed on a host: payload the host id), `job_output` (a job's output grew: payload
 * `JOBID:ENDOFFSET`), `job_changed` (a job's record changed: payload `JOBID:OWNER`), `hosts` (a host
 * came, went or was found gone: payload its id), `job_stop` (stop a job that another process
 * runs: payload `JOBID:stop` or `JOBID:kill`).
 */
export type StateChannel = 'jobs_placed' | 'job_output' | 'job_changed' | 'hosts' | 'job_stop';

export interface StateRepository {
  readonly specificationVersion: 'state-v1';

  insertToken(token: TokenRecord): Promise<void>;
  findTokenByHash(hash: string): Promise<TokenRecord | undefined>;
  listTokens(owner?: string): Promise<TokenRecord[]>;
  /** Returns false when no such live token exists. */
  revokeToken(id: string, revokedAt: string): Promise<boolean>;

  insertJob(job: JobRecord): Promise<void>;
  updateJob(id: string, update: JobUpdate): Promise<void>;
  /**
   * `updateJob` only while the job is unfinished (queued or running) and served by `server`, in
   * the one statement: a job's end recorded by the process running it never overwrites what
   * another recorded meanwhile (a sweep that failed the job of a host found silent). True when
   * written.
   */
  updateUnfinishedJob(id: string, server: string, update: JobUpdate): Promise<boolean>;
  /**
   * `insertJob` of a run that writes the workspace `writes` (undefined: it writes none, inserted
   * as is), unless a queued or running run of the same owner writes it too (one writer per
   * workspace across every server): checked and inserted in one transaction. Returns the id of
   * that writer when it refused (nothing inserted), else undefined. `except`: jobs not counted
   * (this process's runs being stopped).
   */
  insertRunJob(
    job: JobRecord,
    writes: string | undefined,
    except?: readonly string[],
  ): Promise<string | undefined>;
  getJob(owner: string, id: string): Promise<JobRecord | undefined>;
  listJobs(filter: JobFilter): Promise<{ jobs: JobRecord[]; nextCursor: string | null }>;
  /** Appends output in one transaction and moves the job's `logBytes` to the end of it. */
  appendLog(jobId: string, chunks: LogChunk[]): Promise<void>;
  /** Chunks that end after `fromOffset`, in order, up to about `maxBytes`. */
  readLog(jobId: string, fromOffset: number, maxBytes: number): Promise<LogChunk[]>;
  /** Bytes of output still stored (running jobs included), for one owner or for everyone. */
  storedLogBytes(owner?: string): Promise<number>;
  /** The owners that have output stored. */
  storedLogOwners(): Promise<string[]>;
  /** Finished jobs whose output is still stored, oldest finished first. */
  listStoredLogs(filter: {
    owner?: string;
    finishedBefore?: string;
    limit: number;
  }): Promise<StoredLog[]>;
  /**
   * Removes the stored output of these jobs if they are finished (a running job's is never
   * removed), marks them with when and why, and gives the space back. Returns what it removed.
   */
  removeLogs(jobIds: string[], at: string, reason: string): Promise<StoredLog[]>;
  /** Deletes a finished job and its output; false when the owner has no such finished job. */
  deleteJob(owner: string, id: string): Promise<boolean>;

  /**
   * Writes the sandbox's record. `held`: written only while the stored record is still this
   * process's (its `host` and `server`) and not stopped, or, `starting`, also over a stopped one
   * (a start here of a sandbox stopped anywhere), in the one statement: a host found gone and
   * thawed never writes over what the sweep or another host recorded. False when not written.
   */
  upsertSandbox(
    sandbox: SandboxRecord,
    held?: 'holding' | 'starting',
  ): Promise<boolean | undefined>;
  getSandbox(owner: string, name: string): Promise<SandboxRecord | undefined>;
  listSandboxes(owner: string): Promise<SandboxRecord[]>;
  deleteSandbox(owner: string, name: string): Promise<void>;

  touchWorkspace(owner: string, name: string, at: string): Promise<void>;
  listWorkspaces(owner: string): Promise<WorkspaceRecord[]>;
  deleteWorkspace(owner: string, name: string): Promise<void>;

  insertProject(project: ProjectRecord): Promise<void>;
  updateProject(owner: string, name: string, update: ProjectUpdate): Promise<void>;
  getProject(owner: string, name: string): Promise<ProjectRecord | undefined>;
  listProjects(owner: string): Promise<ProjectRecord[]>;
  /** Every owner's projects in these statuses (what a starting server recovers). */
  projectsInStatus(statuses: ProjectRecord['status'][]): Promise<ProjectRecord[]>;
  /** Deletes the project and every ticket and plan of it (their events, evidence and bundles). */
  deleteProject(owner: string, name: string): Promise<void>;

  insertTicket(ticket: TicketRecord): Promise<void>;
  updateTicket(id: string, update: TicketUpdate): Promise<void>;
  getTicket(owner: string, id: string): Promise<TicketRecord | undefined>;
  /** Newest first. */
  listTickets(filter: TicketFilter): Promise<TicketRecord[]>;
  /** Every owner's tickets in these statuses (what a starting server recovers). */
  ticketsInStatus(statuses: TicketStatus[]): Promise<TicketRecord[]>;
  /**
   * Appends one event durably and returns it with its id: the next of this ticket's, from 1,
   * assigned in the same transaction (ids never repeat or go back, whoever appends).
   */
  appendTicketEvent(
    ticketId: string,
    event: { attempt: number; at: string; data: TicketEventData },
  ): Promise<TicketEvent>;
  /** Events with an id after `afterId`, in order, at most `limit`. */
  readTicketEvents(ticketId: string, afterId: number, limit: number): Promise<TicketEvent[]>;
  /** Stores (or replaces) one attempt's evidence. */
  putEvidence(evidence: Evidence): Promise<void>;
  /** The evidence of an attempt, by default the latest one stored. */
  getEvidence(ticketId: string, attempt?: number): Promise<Evidence | undefined>;
  /** The approved result as a git bundle (`mags ticket apply` fetches it). */
  putTicketBundle(ticketId: string, bundle: Buffer): Promise<void>;
  getTicketBundle(ticketId: string): Promise<Buffer | undefined>;

  insertPlan(plan: PlanRecord): Promise<void>;
  updatePlan(id: string, update: PlanUpdate): Promise<void>;
  getPlan(owner: string, id: string): Promise<PlanRecord | undefined>;
  /** Newest first. */
  listPlans(filter: PlanFilter): Promise<PlanRecord[]>;
  /** Every owner's plans in these statuses (what a starting server recovers). */
  plansInStatus(statuses: PlanStatus[]): Promise<PlanRecord[]>;
  /** Like `appendTicketEvent`: the next id of this plan's, from 1, in the same transaction. */
  appendPlanEvent(planId: string, event: { at: string; data: PlanEventData }): Promise<PlanEvent>;
  readPlanEvents(planId: string, afterId: number, limit: number): Promise<PlanEvent[]>;
  /** The id of the plan's newest event (0: none yet): where a follower of only new ones starts. */
  lastPlanEventId(planId: string): Promise<number>;
  putPlanEvidence(evidence: PlanEvidence): Promise<void>;
  getPlanEvidence(planId: string): Promise<PlanEvidence | undefined>;
  putPlanBundle(planId: string, bundle: Buffer): Promise<void>;
  getPlanBundle(planId: string): Promise<Buffer | undefined>;

  /**
   * Stores a new cron job unless the owner has one of that name ('exists') or has `maxPerOwner`
   * already ('limit'), checked in the insert's transaction.
   */
  insertCronJob(cron: CronJobRecord, maxPerOwner: number): Promise<'inserted' | 'exists' | 'limit'>;
  updateCronJob(id: string, update: CronJobUpdate): Promise<void>;
  getCronJob(owner: string, name: string): Promise<CronJobRecord | undefined>;
  /** Oldest first. */
  listCronJobs(owner: string): Promise<CronJobRecord[]>;
  countCronJobs(owner: string): Promise<number>;
  /** Every owner's unpaused cron jobs (what a starting server arms). */
  activeCronJobs(): Promise<CronJobRecord[]>;
  /** Deletes the cron job and its runs; false when the owner has none of that name. */
  deleteCronJob(owner: string, name: string): Promise<boolean>;
  /**
   * Claims a scheduled time of an unpaused cron job, once: in one transaction, when its
   * `lastRunAt` is before `run.scheduledAt` (or `missedUntil`, the last time a missed run covers),
   * moves `lastRunAt` there and `nextRunAt` to `nextRunAt`, and records the run (see
   * `CronRunRecording`; a skipped run right after a skipped run of the same trigger is folded into
   * it: its `skippedCount` and `skippedUntil`). Returns the run as stored; undefined (nothing
   * written) when the time was already handled (by this process or another on the same state)
   * or the cron job was paused or removed meanwhile.
   */
  claimCronRun(
    run: CronRunRecord,
    nextRunAt: string | null,
    recording: CronRunRecording,
  ): Promise<CronRunRecord | undefined>;
  /**
   * Records a run that claims no scheduled time (a manual run, or a cron job that could not be
   * armed), as claimCronRun does; undefined (nothing written) when the cron job is gone.
   */
  insertCronRun(
    run: CronRunRecord,
    recording: CronRunRecording,
  ): Promise<CronRunRecord | undefined>;
  updateCronRun(id: string, update: CronRunUpdate): Promise<void>;
  /** Newest first; the page's `nextCursor` continues with older runs. */
  listCronRuns(
    cronId: string,
    page: { limit: number; cursor?: string },
  ): Promise<{ runs: CronRunRecord[]; nextCursor: string | null }>;
  /** Ids of the jobs with this origin (a cron job's) still queued or running, oldest first. */
  liveJobsOfOrigin(owner: string, origin: string): Promise<string[]>;
  /**
   * Runs recorded as started before `before` whose job was never recorded: given the job with
   * the cron job's origin created after the run and recorded on no other run (the server stopped
   * between submitting it and recording it), else failed to start with `reason` (it stopped
   * before submitting it).
   */
  failUnsubmittedCronRuns(before: string, reason: string): Promise<number>;
  /** False (and nothing stored) when the owner has a trigger of that name already. */
  insertTrigger(trigger: TriggerRecord): Promise<boolean>;
  updateTrigger(id: string, update: TriggerUpdate): Promise<void>;
  /** The owner's trigger by id or by name. */
  findTrigger(owner: string, idOrName: string): Promise<TriggerRecord | undefined>;
  /** By id alone: a webhook delivery names no owner (its signature says whose it is). */
  getTriggerById(id: string): Promise<TriggerRecord | undefined>;
  /** Oldest first; every owner's without `owner` (what a starting server arms). */
  listTriggers(filter?: { owner?: string; kind?: TriggerKind }): Promise<TriggerRecord[]>;
  /** Deletes it with its firings and webhook deliveries; false when the owner has no such one. */
  deleteTrigger(owner: string, id: string): Promise<boolean>;
  insertFiring(firing: FiringRecord): Promise<void>;
  /**
   * Stores a firing in one transaction with a compare-and-set of the trigger's `version` (and,
   * for a scheduled time, of its `lastScheduledAt`): what was decided from the trigger's state as
   * read stands only if no other firing was stored since. A `skipped` firing like the latest one
   * (same source and reason) is folded into it (`repeats` + 1). Keeps the newest
   * `maxFiringsKept` firings of the trigger (active ones always).
   */
  claimFiring(
    firing: FiringRecord,
    expected: { version: number; scheduledAt?: string | null },
  ): Promise<FiringClaim>;
  updateFiring(id: string, update: FiringUpdate): Promise<void>;
  listFirings(filter: FiringFilter): Promise<FiringRecord[]>;
  /** What the limits count: its `created` firings since `since`, and its active ones of any day. */
  countedFirings(triggerId: string, since: string): Promise<FiringRecord[]>;
  /** The firing that created this ticket, if a trigger's did. */
  firingOfTicket(ticketId: string): Promise<FiringRecord | undefined>;
  /** The firing that created this plan, if a trigger's did. */
  firingOfPlan(planId: string): Promise<FiringRecord | undefined>;
  /**
   * Records the keys of a webhook delivery (its id, its signature) with its signed time
   * (`signedAt`) in one transaction; false, recording nothing, when any of them was recorded
   * before for this trigger (a replay).
   */
  recordDelivery(triggerId: string, keys: string[], signedAt: string): Promise<boolean>;
  /** Forgets the trigger's deliveries signed before `before`; returns how many. */
  pruneDeliveries(triggerId: string, before: string): Promise<number>;

  /** Bytes of each stream stored for a job (what a resumed command's output continues after). */
  logStreamBytes(jobId: string): Promise<{ stdout: number; stderr: number }>;

  /**
   * Jobs still queued or running and sandboxes running or sleeping that were recorded without a
   * host (before sandboxes outlived their server: they died with it) become failed and stopped,
   * with `reason`. Returns how many of each it changed.
   */
  recoverInterrupted(reason: string, at: string): Promise<{ jobs: number; sandboxes: number }>;
  /** The server processes of `host` with unfinished work recorded: queued or running jobs, running or sleeping sandboxes. */
  unfinishedServers(host: string): Promise<string[]>;
  /**
   * Hands a gone server process's work to `successor`, once: in one transaction its unfinished
   * jobs and live sandboxes move to the successor (and are returned), and so does whatever it had
   * taken over itself. Undefined when another process took it over first, or when `successor`
   * was itself taken over (gone: the work stays for a live process to take).
   */
  takeOverServer(takeover: {
    server: string;
    host: string;
    successor: string;
    at: string;
  }): Promise<TakenOver | undefined>;
  /** The server process that took over `server`'s work (followed to the end), if one did. */
  serverSuccessor(server: string): Promise<string | undefined>;

  insertSandboxUrl(url: SandboxUrlRecord): Promise<void>;
  /** A URL by id, revoked or not. */
  getSandboxUrl(id: string): Promise<SandboxUrlRecord | undefined>;
  /** One owner's URLs not revoked (of one sandbox, when named), oldest first. */
  listSandboxUrls(owner: string, sandbox?: string): Promise<SandboxUrlRecord[]>;
  /** The URLs not revoked with this host label (all of one owner, sandbox and port). */
  findSandboxUrlsByHostLabel(hostLabel: string): Promise<SandboxUrlRecord[]>;
  /** Returns false when the owner has no such URL, or it was revoked already. */
  revokeSandboxUrl(owner: string, id: string, revokedAt: string): Promise<boolean>;
  /** Deletes the URLs revoked or expired before `endedBefore`; returns how many. */
  deleteSandboxUrlsEndedBefore(endedBefore: string): Promise<number>;
  /**
   * Records the host as live, served by `host.server` (replacing its record: a restart clears
   * goneAt). With `liveIfBeatAfter`, a record of another server that is not gone and whose
   * heartbeat is after that time is live and kept: nothing is written and that record is
   * returned (two processes never serve one host id). Undefined when registered.
   */
  registerHost(
    host: HostRecord,
    options?: { liveIfBeatAfter?: string },
  ): Promise<HostRecord | undefined>;
  /**
   * The host's heartbeat. False (nothing written) when the host is no longer `server`'s: marked
   * gone, or registered since by another server process. That server must stop taking work.
   */
  heartbeatHost(id: string, server: string, beat: HostBeat): Promise<boolean>;
  /** Every host recorded, live and gone, by id. */
  listHosts(): Promise<HostRecord[]>;
  /**
   * Marks a silent host gone, once: in one transaction, if it is still served by
   * `expected.server` and its heartbeat is still `expected.heartbeatAt` (it did not beat since it
   * was read), sets goneAt and goneReason, fails its queued and running jobs (status `failed`,
   * endReason `failed`, reason and message `reason`, finishedAt `at`) and stops its running and
   * sleeping sandboxes (reason `reason`, runtimeId null). Returns what it changed; undefined when
   * the host beat meanwhile or was gone already.
   */
  markHostGone(
    id: string,
    expected: { server: string; heartbeatAt: string },
    at: string,
    reason: string,
  ): Promise<TakenOver | undefined>;
  /** A host leaving cleanly: its record is removed if `server` still serves it. */
  removeHost(id: string, server: string): Promise<void>;
  /**
   * The job queue: jobs placed on `host` (recorded `queued` with that host and no server) that
   * no process has taken yet, oldest first, at most `limit`, each taken by `server` (its `server`
   * set) in the same statement: `FOR UPDATE SKIP LOCKED` in PostgreSQL, so two processes never
   * take one and never wait on each other. `limit` is a whole number (0: none taken); anything
   * else is an InvalidInputError.
   */
  claimQueuedJobs(host: string, server: string, limit: number): Promise<JobRecord[]>;
  /**
   * Tells every process listening on `channel` (this one included) `payload` (at most 7999
   * bytes: PostgreSQL's bound). SQLite, one host's embedded state, tells this process only
   * (every repository on the same file). Notifies awaited one after another arrive in that
   * order. A longer payload is an InvalidInputError (`notification_too_long`), nothing sent.
   */
  notify(channel: StateChannel, payload: string): Promise<void>;
  /**
   * Calls `listener` with each payload notified on `channel` from now on (in order, never
   * blocking the connection; a listener that throws is reported and stops no other). Resolves
   * once listening, to the unsubscribe. A notification is a hint to read the state again: one
   * sent while PostgreSQL's listening connection is being re-established is lost.
   */
  listen(channel: StateChannel, listener: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
