import type { StateRepository } from './state-repository.ts';

// The methods each statement group implements, one list for both backends (sqlite/ and postgres/
// each have a `<backend>-<group>-statements.ts` returning exactly these).

export type CronMethods = Pick<
  StateRepository,
  | 'insertCronJob'
  | 'updateCronJob'
  | 'getCronJob'
  | 'listCronJobs'
  | 'countCronJobs'
  | 'activeCronJobs'
  | 'deleteCronJob'
  | 'claimCronRun'
  | 'insertCronRun'
  | 'updateCronRun'
  | 'listCronRuns'
  | 'liveJobsOfOrigin'
  | 'failUnsubmittedCronRuns'
>;

export type LogMethods = Pick<
  StateRepository,
  | 'appendLog'
  | 'readLog'
  | 'storedLogBytes'
  | 'storedLogOwners'
  | 'listStoredLogs'
  | 'removeLogs'
  | 'logStreamBytes'
>;

export type PlanMethods = Pick<
  StateRepository,
  | 'insertPlan'
  | 'updatePlan'
  | 'getPlan'
  | 'listPlans'
  | 'plansInStatus'
  | 'appendPlanEvent'
  | 'readPlanEvents'
  | 'lastPlanEventId'
  | 'putPlanEvidence'
  | 'getPlanEvidence'
  | 'putPlanBundle'
  | 'getPlanBundle'
>;

export type ProjectMethods = Pick<
  StateRepository,
  | 'insertProject'
  | 'updateProject'
  | 'getProject'
  | 'listProjects'
  | 'projectsInStatus'
  | 'deleteProject'
>;

export type RecoveryMethods = Pick<
  StateRepository,
  'recoverInterrupted' | 'unfinishedServers' | 'takeOverServer' | 'serverSuccessor'
>;

export type SandboxMethods = Pick<
  StateRepository,
  | 'upsertSandbox'
  | 'getSandbox'
  | 'listSandboxes'
  | 'deleteSandbox'
  | 'touchWorkspace'
  | 'listWorkspaces'
  | 'deleteWorkspace'
>;

export type TicketEventMethods = Pick<
  StateRepository,
  | 'appendTicketEvent'
  | 'readTicketEvents'
  | 'putEvidence'
  | 'getEvidence'
  | 'putTicketBundle'
  | 'getTicketBundle'
>;

export type TicketMethods = Pick<
  StateRepository,
  'insertTicket' | 'updateTicket' | 'getTicket' | 'listTickets' | 'ticketsInStatus'
>;

export type TokenMethods = Pick<
  StateRepository,
  'insertToken' | 'findTokenByHash' | 'listTokens' | 'revokeToken'
>;

export type TriggerMethods = Pick<
  StateRepository,
  | 'insertTrigger'
  | 'updateTrigger'
  | 'findTrigger'
  | 'getTriggerById'
  | 'listTriggers'
  | 'deleteTrigger'
  | 'insertFiring'
  | 'claimFiring'
  | 'updateFiring'
  | 'listFirings'
  | 'countedFirings'
  | 'firingOfTicket'
  | 'firingOfPlan'
  | 'recordDelivery'
  | 'pruneDeliveries'
>;

export type UrlMethods = Pick<
  StateRepository,
  | 'insertSandboxUrl'
  | 'getSandboxUrl'
  | 'listSandboxUrls'
  | 'findSandboxUrlsByHostLabel'
  | 'revokeSandboxUrl'
  | 'deleteSandboxUrlsEndedBefore'
>;

export type JobMethods = Pick<
  StateRepository,
  | 'insertJob'
  | 'insertRunJob'
  | 'updateJob'
  | 'updateUnfinishedJob'
  | 'getJob'
  | 'listJobs'
  | 'deleteJob'
>;

export type HostMethods = Pick<
  StateRepository,
  | 'registerHost'
  | 'heartbeatHost'
  | 'listHosts'
  | 'markHostGone'
  | 'removeHost'
  | 'claimQueuedJobs'
  | 'notify'
  | 'listen'
>;
