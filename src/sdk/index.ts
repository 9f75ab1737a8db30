/** The mags TypeScript SDK: `import { Mags } from 'mags'`. Independent of the CLI. */

export type { DirectoryEntry, DirectoryListing } from '../api/directory-listing.ts';
export type {
  CreatePlanBody,
  EditPlanBody,
  Plan,
  PlanBudget,
  PlanEvent,
  PlanEventData,
  PlanEvidence,
  PlanSpec,
  PlanStatus,
  PlanTicket,
  PlanTicketSpec,
  PlanTicketState,
} from '../api/plans.ts';
export type { PoolSample } from '../api/pool-events.ts';
export type {
  CreateSandboxBody,
  ExecBody,
  Health,
  HostPoolStatusInfo,
  Job,
  JobList,
  JobResult,
  OwnerUsageInfo,
  PoolStatusInfo,
  RunJobBody,
  SandboxInfo,
  SyncResult,
  Upload,
  WorkspaceInfo,
  WorkspaceVersion,
} from '../api/schemas.ts';
export type {
  CreateTicketBody,
  Evidence,
  Ticket,
  TicketEvent,
  TicketEventData,
  TicketStatus,
} from '../api/tickets.ts';
export type {
  CreatedTrigger,
  CreateTriggerBody,
  Trigger,
  TriggerFiring,
} from '../api/triggers.ts';
export {
  AuthenticationError,
  ConflictError,
  DependencyMissingError,
  InvalidInputError,
  MagsError,
  NotFoundError,
  PermissionDeniedError,
  QuotaExceededError,
  RateLimitError,
} from '../errors/mags-error.ts';
export { errorFromResponse } from './api-error.ts';
export type {
  CreateCronBody,
  CronJob,
  CronRun,
  CronRunList,
  CronRunStatus,
  CronRunTrigger,
} from './cron-client.ts';
export type { FollowChangesOptions } from './follow-changes.ts';
export type { JobChange, JobChangesOptions, SandboxChange } from './job-sandbox-changes.ts';
export type { FollowOptions, OutputStream, SyncProgressEvent } from './log-stream.ts';
export {
  type CompletedJob,
  Mags,
  type MagsOptions,
  type RunFile,
  type RunOptions,
  type TreeCopyOptions,
  type TreeProgress,
  type UploadData,
} from './mags.ts';
export {
  isPlanSettled,
  type PlanEventsOptions,
  type WaitForPlanOptions,
} from './plan-events.ts';
export type {
  PlanChange,
  PlanChangesOptions,
  WorkspaceChange,
} from './plan-workspace-changes.ts';
export type { PlansClient } from './plans-client.ts';
export type { PoolEventsOptions } from './pool-events.ts';
export type { CreateProjectBody, Project, UpdateProjectBody } from './projects-client.ts';
export type { CreateSandboxUrlBody, SandboxUrl } from './sandbox-urls-client.ts';
export type { StoredEventsOptions } from './stored-events.ts';
export type { TicketChange, TicketChangesOptions } from './ticket-changes.ts';
export type { TicketEventsOptions } from './ticket-events.ts';
export type { TicketsClient } from './tickets-client.ts';
export type { TriggersClient } from './triggers-client.ts';
