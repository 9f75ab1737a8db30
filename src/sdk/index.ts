/** The mags TypeScript SDK: `import { Mags } from 'mags'`. Independent of the CLI. */
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
export type {
  CreateSandboxBody,
  ExecBody,
  Health,
  HostPoolStatusInfo,
  Job,
  JobList,
  OwnerUsageInfo,
  PoolStatusInfo,
  RunJobBody,
  SandboxInfo,
  SyncResult,
  WorkspaceInfo,
  WorkspaceVersion,
} from '../server/schemas.ts';
export { errorFromResponse } from './api-error.ts';
export type { FollowOptions, OutputStream } from './log-stream.ts';
export { type CompletedJob, Mags, type MagsOptions, type RunOptions } from './mags.ts';
