/**
 * Every route of the API in-process (`app.request()`, no socket), on the fake runtime, as any
 * user: a token is required, one owner never reaches another's jobs, sandboxes or workspaces,
 * bad input is a 400 naming the field, a missing resource is a 404. The tables below must cover
 * every route the app registers: a new route without its rows fails the first test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dashboardPages } from '../src/server/dashboard/dashboard-routes.ts';
import { revokeToken } from '../src/server/tokens.ts';
import { projectRecord } from './helpers/project-record.ts';
import { createTestApp, type TestApp } from './helpers/test-app.ts';

/** A route as Hono registers it, and a request to it that would succeed for alice. */
interface RouteRow {
  route: string;
  request: (ids: { job: string; ticket: string; plan: string }) => {
    method: string;
    path: string;
    body?: unknown;
  };
}

/** A plan of one ticket, as a body of `POST /v1/plans` and `PUT .../spec`. */
const planSpec = {
  summary: 's',
  tickets: [
    { key: 'one', title: 't', request: 'r', criteria: [{ text: 'c' }], model: 'ollama:qwen3' },
  ],
};

const routes: RouteRow[] = [
  { route: 'GET /v1/whoami', request: () => ({ method: 'GET', path: '/v1/whoami' }) },
  { route: 'GET /v1/pool', request: () => ({ method: 'GET', path: '/v1/pool' }) },
  { route: 'GET /v1/pool/events', request: () => ({ method: 'GET', path: '/v1/pool/events' }) },
  { route: 'GET /v1/hosts', request: () => ({ method: 'GET', path: '/v1/hosts' }) },
  {
    route: 'POST /v1/jobs',
    request: () => ({ method: 'POST', path: '/v1/jobs', body: { command: 'true' } }),
  },
  { route: 'GET /v1/jobs', request: () => ({ method: 'GET', path: '/v1/jobs' }) },
  { route: 'GET /v1/jobs/:id', request: ({ job }) => ({ method: 'GET', path: `/v1/jobs/${job}` }) },
  {
    route: 'POST /v1/jobs/:id/stop',
    request: ({ job }) => ({ method: 'POST', path: `/v1/jobs/${job}/stop` }),
  },
  {
    route: 'DELETE /v1/jobs/:id',
    request: ({ job }) => ({ method: 'DELETE', path: `/v1/jobs/${job}` }),
  },
  {
    route: 'GET /v1/jobs/:id/logs',
    request: ({ job }) => ({ method: 'GET', path: `/v1/jobs/${job}/logs` }),
  },
  {
    route: 'POST /v1/sandboxes',
    request: () => ({ method: 'POST', path: '/v1/sandboxes', body: { name: 'another' } }),
  },
  { route: 'GET /v1/sandboxes', request: () => ({ method: 'GET', path: '/v1/sandboxes' }) },
  {
    route: 'GET /v1/sandboxes/:name',
    request: () => ({ method: 'GET', path: '/v1/sandboxes/dev' }),
  },
  {
    route: 'PATCH /v1/sandboxes/:name',
    request: () => ({ method: 'PATCH', path: '/v1/sandboxes/dev', body: { sleep: false } }),
  },
  {
    route: 'POST /v1/sandboxes/:name/start',
    request: () => ({ method: 'POST', path: '/v1/sandboxes/dev/start' }),
  },
  {
    route: 'POST /v1/sandboxes/:name/stop',
    request: () => ({ method: 'POST', path: '/v1/sandboxes/dev/stop' }),
  },
  {
    route: 'DELETE /v1/sandboxes/:name',
    request: () => ({ method: 'DELETE', path: '/v1/sandboxes/dev' }),
  },
  {
    route: 'POST /v1/sandboxes/:name/exec',
    request: () => ({ method: 'POST', path: '/v1/sandboxes/dev/exec', body: { command: 'true' } }),
  },
  {
    route: 'PUT /v1/sandboxes/:name/files',
    request: () => ({
      method: 'PUT',
      path: '/v1/sandboxes/dev/files?path=/workspace/f',
      body: 'data',
    }),
  },
  {
    route: 'GET /v1/sandboxes/:name/files',
    request: () => ({ method: 'GET', path: '/v1/sandboxes/dev/files?path=/workspace/f' }),
  },
  {
    route: 'GET /v1/sandboxes/:name/shell',
    request: () => ({ method: 'GET', path: '/v1/sandboxes/dev/shell' }),
  },
  {
    route: 'GET /v1/sandboxes/:name/directory',
    request: () => ({ method: 'GET', path: '/v1/sandboxes/dev/directory?path=/' }),
  },
  {
    route: 'PUT /v1/sandboxes/:name/archive',
    request: () => ({
      method: 'PUT',
      path: '/v1/sandboxes/dev/archive?path=/workspace',
      body: 'x',
    }),
  },
  {
    route: 'GET /v1/sandboxes/:name/archive',
    request: () => ({ method: 'GET', path: '/v1/sandboxes/dev/archive?path=/workspace' }),
  },
  {
    route: 'PUT /v1/workspaces/:name/archive',
    request: () => ({ method: 'PUT', path: '/v1/workspaces/w/archive?path=/workspace', body: 'x' }),
  },
  {
    route: 'GET /v1/workspaces/:name/archive',
    request: () => ({ method: 'GET', path: '/v1/workspaces/w/archive?path=/workspace' }),
  },
  { route: 'GET /v1/workspaces', request: () => ({ method: 'GET', path: '/v1/workspaces' }) },
  {
    route: 'GET /v1/workspaces/:name/versions',
    request: () => ({ method: 'GET', path: '/v1/workspaces/w/versions' }),
  },
  {
    route: 'POST /v1/workspaces/:name/sync',
    request: () => ({ method: 'POST', path: '/v1/workspaces/w/sync' }),
  },
  {
    route: 'DELETE /v1/workspaces/:name',
    request: () => ({ method: 'DELETE', path: '/v1/workspaces/w' }),
  },
  {
    route: 'POST /v1/workspaces/:name/fork',
    request: () => ({ method: 'POST', path: '/v1/workspaces/w/fork', body: { name: 'w2' } }),
  },
  {
    route: 'POST /v1/uploads',
    request: () => ({ method: 'POST', path: '/v1/uploads', body: 'data' }),
  },
  {
    route: 'POST /v1/projects',
    request: () => ({
      method: 'POST',
      path: '/v1/projects',
      body: { name: 'another', repo: '/srv/another' },
    }),
  },
  { route: 'GET /v1/projects', request: () => ({ method: 'GET', path: '/v1/projects' }) },
  {
    route: 'GET /v1/projects/:name',
    request: () => ({ method: 'GET', path: '/v1/projects/webapp' }),
  },
  {
    route: 'PATCH /v1/projects/:name',
    request: () => ({ method: 'PATCH', path: '/v1/projects/webapp', body: { test: 'true' } }),
  },
  {
    route: 'POST /v1/projects/:name/refresh',
    request: () => ({ method: 'POST', path: '/v1/projects/webapp/refresh' }),
  },
  {
    route: 'DELETE /v1/projects/:name',
    request: () => ({ method: 'DELETE', path: '/v1/projects/webapp' }),
  },
  ...ticketRows(),
  ...cronRows(),
  ...triggerRows(),
  ...planRows(),
];

/** The plan routes, on alice's plan `plan` (approved, with evidence and a bundle stored). */
function planRows(): RouteRow[] {
  const on = (method: string, path: string, body?: unknown): RouteRow => ({
    route: `${method} /v1/plans/:id${path}`,
    request: ({ plan }) => ({ method, path: `/v1/plans/${plan}${path}`, body }),
  });
  return [
    {
      route: 'POST /v1/plans',
      request: () => ({
        method: 'POST',
        path: '/v1/plans',
        body: { project: 'webapp', request: 'r', spec: planSpec },
      }),
    },
    { route: 'GET /v1/plans', request: () => ({ method: 'GET', path: '/v1/plans' }) },
    on('GET', ''),
    on('PUT', '/spec', planSpec),
    on('POST', '/approve'),
    on('POST', '/retry', { ticket: 'one' }),
    on('POST', '/stop'),
    on('POST', '/close'),
    on('GET', '/events'),
    on('GET', '/evidence'),
    on('GET', '/bundle'),
  ];
}

/**
 * Plan routes whose success needs a plan in another status than the one here (approved):
 * test/plan-routes.test.ts runs each on a plan where it succeeds, and the refused ones.
 */
const planRoutesTestedElsewhere = [
  'PUT /v1/plans/:id/spec',
  'POST /v1/plans/:id/approve',
  'POST /v1/plans/:id/retry',
  'POST /v1/plans/:id/stop',
  'POST /v1/plans/:id/close',
];

/** The cron routes, on alice's cron job `nightly`. */
function cronRows(): RouteRow[] {
  const on = (method: string, path: string): RouteRow => ({
    route: `${method} /v1/cron/:name${path}`,
    request: () => ({ method, path: `/v1/cron/nightly${path}` }),
  });
  return [
    {
      route: 'POST /v1/cron',
      request: () => ({
        method: 'POST',
        path: '/v1/cron',
        body: { name: 'another', schedule: '0 0 1 1 *', command: 'true' },
      }),
    },
    { route: 'GET /v1/cron', request: () => ({ method: 'GET', path: '/v1/cron' }) },
    on('GET', ''),
    on('DELETE', ''),
    on('POST', '/pause'),
    on('POST', '/resume'),
    on('POST', '/run'),
    on('GET', '/runs'),
  ];
}

/** The trigger routes, on alice's webhook trigger `nightly` (named, as the CLI names it). */
function triggerRows(): RouteRow[] {
  const on = (method: string, path: string, body?: unknown): RouteRow => ({
    route: `${method} /v1/triggers/:id${path}`,
    request: () => ({ method, path: `/v1/triggers/nightly${path}`, body }),
  });
  return [
    {
      route: 'POST /v1/triggers',
      request: () => ({
        method: 'POST',
        path: '/v1/triggers',
        body: { name: 'another', project: 'webapp', template: triggerTemplate, webhook: true },
      }),
    },
    { route: 'GET /v1/triggers', request: () => ({ method: 'GET', path: '/v1/triggers' }) },
    on('GET', ''),
    on('GET', '/firings'),
    on('POST', '/pause'),
    on('POST', '/resume'),
    on('POST', '/fire', { payload: { n: 1 } }),
    on('POST', '/rotate-secret'),
    on('DELETE', ''),
  ];
}

const triggerTemplate =
  '---\ntitle: Issue {{payload.n}}\ncriteria: [{text: done}]\n---\nLook at it.\n';

/** The ticket routes, on alice's ticket `ticket` (a draft with evidence and a bundle stored). */
function ticketRows(): RouteRow[] {
  const on = (method: string, path: string, body?: unknown): RouteRow => ({
    route: `${method} /v1/tickets/:id${path}`,
    request: ({ ticket }) => ({ method, path: `/v1/tickets/${ticket}${path}`, body }),
  });
  return [
    {
      route: 'POST /v1/tickets',
      request: () => ({
        method: 'POST',
        path: '/v1/tickets',
        body: { project: 'app', title: 't', request: 'r', criteria: [{ text: 'c' }] },
      }),
    },
    { route: 'GET /v1/tickets', request: () => ({ method: 'GET', path: '/v1/tickets' }) },
    on('GET', ''),
    on('POST', '/run'),
    on('POST', '/stop'),
    on('POST', '/comments', { text: 'hi' }),
    on('POST', '/request-changes', { text: 'again' }),
    on('POST', '/approve'),
    on('POST', '/close'),
    on('GET', '/events'),
    on('GET', '/evidence'),
    on('GET', '/bundle'),
  ];
}

/**
 * Ticket routes whose success needs a project and an agent (a real server with scripted parts
 * runs them: test/ticket-api.test.ts), or a ticket in another status than the draft here.
 */
const ticketRoutesTestedElsewhere = [
  'POST /v1/tickets',
  'POST /v1/tickets/:id/run',
  'POST /v1/tickets/:id/stop',
  'POST /v1/tickets/:id/request-changes',
  'POST /v1/tickets/:id/approve',
  'POST /v1/tickets/:id/close',
];

/** Routes outside /v1 that need no token, and why. */
const publicRoutes: Record<string, string> = {
  'GET /health': 'a load balancer checks it without a token',
  'GET /metrics': 'scrapers send no token; it holds host-wide counts only',
  'GET /openapi.json': 'the API description is public',
  // The web dashboard: static files and its pages' paths, all index.html (test/dashboard/).
  'GET /assets/*': "the dashboard's built files hold no data (dashboard-serving.test.ts)",
  ...Object.fromEntries(
    dashboardPages.map((page) => [`GET ${page}`, 'a dashboard page: index.html, no data']),
  ),
};

/** Routes under /v1 that a signature authenticates instead of a token (their own tests). */
const signedRoutes: Record<string, string> = {
  'POST /v1/hooks/:id':
    "a webhook delivery, signed with its trigger's secret (test/triggers-webhooks.test.ts)",
};

/**
 * Routes taking one of alice's resources: bob gets a 404 for each, as for a missing one. A copy
 * into a workspace makes the caller's own workspace of that name, as a run does (never alice's:
 * test/server-archive.test.ts checks that on real sandboxes).
 */
const makesOwn = new Set(['PUT /v1/workspaces/:name/archive']);
const ownedRoutes = routes.filter((row) => row.route.includes(':') && !makesOwn.has(row.route));

/** For each route with input: a bad request, and what the 400's message must say. */
const invalid: Record<string, { method: string; path: string; body?: unknown; message: RegExp }[]> =
  {
    'POST /v1/jobs': [
      { method: 'POST', path: '/v1/jobs', body: {}, message: /^body\.command: / },
      {
        method: 'POST',
        path: '/v1/jobs',
        body: { command: 'true', workspace: '../x' },
        message: /^body\.workspace: /,
      },
      {
        method: 'POST',
        path: '/v1/jobs',
        body: { command: 'true', surprise: 1 },
        message: /surprise/,
      },
      {
        method: 'POST',
        path: '/v1/jobs',
        body: { command: 'true', files: [{ upload: '../etc/passwd', name: 'f' }] },
        message: /^body\.files\.0\.upload: /,
      },
    ],
    'GET /v1/jobs': [{ method: 'GET', path: '/v1/jobs?limit=0', message: /^query\.limit: / }],
    'GET /v1/jobs/:id': [{ method: 'GET', path: '/v1/jobs/nope', message: /not a job id/ }],
    'POST /v1/jobs/:id/stop': [
      { method: 'POST', path: '/v1/jobs/nope/stop', message: /not a job id/ },
    ],
    'DELETE /v1/jobs/:id': [{ method: 'DELETE', path: '/v1/jobs/nope', message: /not a job id/ }],
    'GET /v1/jobs/:id/logs': [
      { method: 'GET', path: '/v1/jobs/job_x/logs?offset=-1', message: /^query\.offset: / },
    ],
    'POST /v1/sandboxes': [
      { method: 'POST', path: '/v1/sandboxes', body: { name: '-bad' }, message: /^body\.name: / },
    ],
    'GET /v1/sandboxes/:name': [
      { method: 'GET', path: '/v1/sandboxes/-bad', message: /^param\.name: / },
    ],
    'PATCH /v1/sandboxes/:name': [
      {
        method: 'PATCH',
        path: '/v1/sandboxes/dev',
        body: { sleep: 'yes' },
        message: /^body\.sleep: /,
      },
    ],
    'POST /v1/sandboxes/:name/start': [
      { method: 'POST', path: '/v1/sandboxes/-bad/start', message: /^param\.name: / },
    ],
    'POST /v1/sandboxes/:name/stop': [
      { method: 'POST', path: '/v1/sandboxes/-bad/stop', message: /^param\.name: / },
    ],
    'DELETE /v1/sandboxes/:name': [
      { method: 'DELETE', path: '/v1/sandboxes/-bad', message: /^param\.name: / },
    ],
    'POST /v1/sandboxes/:name/exec': [
      {
        method: 'POST',
        path: '/v1/sandboxes/dev/exec',
        body: { command: 'true', cwd: 'relative' },
        message: /^body\.cwd: /,
      },
    ],
    'PUT /v1/sandboxes/:name/files': [
      {
        method: 'PUT',
        path: '/v1/sandboxes/dev/files?path=/workspace/f&mode=999',
        body: 'x',
        message: /mode is octal/,
      },
    ],
    'GET /v1/sandboxes/:name/files': [
      { method: 'GET', path: '/v1/sandboxes/dev/files', message: /^query\.path: / },
    ],
    'PUT /v1/sandboxes/:name/archive': [
      { method: 'PUT', path: '/v1/sandboxes/dev/archive', body: 'x', message: /^query\.path: / },
    ],
    'GET /v1/sandboxes/:name/archive': [
      {
        method: 'GET',
        path: '/v1/sandboxes/dev/archive?path=/workspace/../etc',
        message: /must not contain "\.\."/,
      },
    ],
    'PUT /v1/workspaces/:name/archive': [
      {
        method: 'PUT',
        path: '/v1/workspaces/-bad/archive?path=/workspace',
        body: 'x',
        message: /^param\.name: /,
      },
    ],
    'GET /v1/workspaces/:name/archive': [
      { method: 'GET', path: '/v1/workspaces/w/archive?path=relative', message: /absolute/ },
    ],
    'GET /v1/sandboxes/:name/directory': [
      { method: 'GET', path: '/v1/sandboxes/dev/directory', message: /^query\.path: / },
      {
        method: 'GET',
        path: '/v1/sandboxes/dev/directory?path=workspace',
        message: /path must be absolute/,
      },
    ],
    'GET /v1/sandboxes/:name/shell': [
      { method: 'GET', path: '/v1/sandboxes/-bad/shell', message: /^name: / },
      { method: 'GET', path: '/v1/sandboxes/dev/shell?rows=0', message: /^query: / },
    ],
    'GET /v1/workspaces/:name/versions': [
      { method: 'GET', path: '/v1/workspaces/-bad/versions', message: /^param\.name: / },
    ],
    'POST /v1/workspaces/:name/sync': [
      { method: 'POST', path: '/v1/workspaces/-bad/sync', message: /^param\.name: / },
    ],
    'POST /v1/workspaces/:name/fork': [
      { method: 'POST', path: '/v1/workspaces/w/fork', body: {}, message: /^body\.name: / },
      {
        method: 'POST',
        path: '/v1/workspaces/w/fork',
        body: { name: '../x' },
        message: /^body\.name: /,
      },
    ],
    'DELETE /v1/workspaces/:name': [
      { method: 'DELETE', path: '/v1/workspaces/-bad', message: /^param\.name: / },
    ],
    'POST /v1/projects': [
      {
        method: 'POST',
        path: '/v1/projects',
        body: { name: '-bad', repo: '/x' },
        message: /^body\.name: /,
      },
    ],
    'GET /v1/projects/:name': [
      { method: 'GET', path: '/v1/projects/-bad', message: /^param\.name: / },
    ],
    'PATCH /v1/projects/:name': [
      {
        method: 'PATCH',
        path: '/v1/projects/webapp',
        body: { model: 'no-provider' },
        message: /^body\.model: /,
      },
    ],
    'POST /v1/projects/:name/refresh': [
      { method: 'POST', path: '/v1/projects/-bad/refresh', message: /^param\.name: / },
    ],
    'DELETE /v1/projects/:name': [
      { method: 'DELETE', path: '/v1/projects/-bad', message: /^param\.name: / },
    ],
    'POST /v1/tickets': [
      {
        method: 'POST',
        path: '/v1/tickets',
        body: { project: 'app', title: 't', request: 'r', criteria: [] },
        message: /^body\.criteria: a ticket needs at least one criterion/,
      },
      {
        method: 'POST',
        path: '/v1/tickets',
        body: { project: 'app', title: 't', request: 'r', criteria: [{ text: 'c' }], model: 'x' },
        message: /^body\.model: /,
      },
    ],
    'GET /v1/tickets': [
      { method: 'GET', path: '/v1/tickets?status=bogus', message: /^query\.status: / },
    ],
    'POST /v1/triggers': [
      {
        method: 'POST',
        path: '/v1/triggers',
        body: { name: 'x', project: 'webapp', webhook: true },
        message: /^body\.template: /,
      },
    ],
    'GET /v1/triggers/:id/firings': [
      { method: 'GET', path: '/v1/triggers/nightly/firings?limit=0', message: /^query\.limit: / },
    ],
    'POST /v1/triggers/:id/fire': [
      { method: 'POST', path: '/v1/triggers/nightly/fire', body: { pay: 1 }, message: /^body: / },
    ],
    ...Object.fromEntries(
      [
        ['GET', ''],
        ['POST', '/pause'],
        ['POST', '/resume'],
        ['POST', '/rotate-secret'],
        ['DELETE', ''],
      ].map(([method, path]) => [
        `${method} /v1/triggers/:id${path}`,
        [{ method, path: `/v1/triggers/${'x'.repeat(101)}${path}`, message: /^param\.id: / }],
      ]),
    ),
    ...Object.fromEntries(
      ['', '/run', '/stop', '/close', '/approve', '/events', '/evidence', '/bundle'].map((path) => {
        const method = ['', '/events', '/evidence', '/bundle'].includes(path) ? 'GET' : 'POST';
        return [
          `${method} /v1/tickets/:id${path}`,
          [{ method, path: `/v1/tickets/nope${path}`, message: /not a ticket id/ }],
        ];
      }),
    ),
    'POST /v1/plans': [
      {
        method: 'POST',
        path: '/v1/plans',
        body: { project: 'webapp', request: 'r', spec: { summary: 's', tickets: [] } },
        message: /^body\.spec\.tickets: a plan needs at least one ticket/,
      },
      { method: 'POST', path: '/v1/plans', body: { request: 'r' }, message: /^body\.project: / },
    ],
    'GET /v1/plans': [
      { method: 'GET', path: '/v1/plans?status=bogus', message: /^query\.status: / },
    ],
    ...Object.fromEntries(
      ['', '/approve', '/stop', '/close', '/events', '/evidence', '/bundle'].map((path) => {
        const method = ['', '/events', '/evidence', '/bundle'].includes(path) ? 'GET' : 'POST';
        return [
          `${method} /v1/plans/:id${path}`,
          [{ method, path: `/v1/plans/nope${path}`, message: /not a plan id/ }],
        ];
      }),
    ),
    'PUT /v1/plans/:id/spec': [
      {
        method: 'PUT',
        path: '/v1/plans/pln_x/spec',
        body: {
          summary: 's',
          tickets: [{ key: 'Bad Key', title: 't', request: 'r', criteria: [{ text: 'c' }] }],
        },
        message: /^body\.tickets\.0\.key: /,
      },
    ],
    'POST /v1/plans/:id/retry': [
      { method: 'POST', path: '/v1/plans/pln_x/retry', body: {}, message: /^body\.ticket: / },
    ],
    'POST /v1/tickets/:id/comments': [
      { method: 'POST', path: '/v1/tickets/tkt_x/comments', body: {}, message: /^body\.text: / },
    ],
    'POST /v1/tickets/:id/request-changes': [
      {
        method: 'POST',
        path: '/v1/tickets/tkt_x/request-changes',
        body: { text: ' ' },
        message: /^body\.text: /,
      },
    ],
    'POST /v1/cron': [
      {
        method: 'POST',
        path: '/v1/cron',
        body: { name: '-bad', schedule: '* * * * *', command: 'true' },
        message: /^body\.name: /,
      },
      {
        method: 'POST',
        path: '/v1/cron',
        body: { name: 'x', schedule: '* * * * *', command: 'true', catchUp: 'always' },
        message: /^body\.catchUp: /,
      },
    ],
    ...Object.fromEntries(
      [
        ['GET', ''],
        ['POST', '/pause'],
        ['POST', '/resume'],
        ['POST', '/run'],
      ].map(([method = '', path]) => [
        `${method} /v1/cron/:name${path}`,
        [{ method, path: `/v1/cron/-bad${path}`, message: /^param\.name: / }],
      ]),
    ),
    'DELETE /v1/cron/:name': [
      { method: 'DELETE', path: '/v1/cron/nightly?stop=maybe', message: /^query\.stop: / },
    ],
    'GET /v1/cron/:name/runs': [
      { method: 'GET', path: '/v1/cron/nightly/runs?limit=0', message: /^query\.limit: / },
    ],
  };
/**
 * Routes that take no input at all (nothing to get wrong), or any bytes (an upload's body: only
 * its size can be wrong, a 413 that the upload store's unit tests cover).
 */
const noInput = [
  'GET /v1/whoami',
  'GET /v1/pool',
  'GET /v1/pool/events',
  'GET /v1/hosts',
  'GET /v1/sandboxes',
  'GET /v1/workspaces',
  'POST /v1/uploads',
  'GET /v1/projects',
  'GET /v1/cron',
  'GET /v1/triggers',
];

/** Each owned route on a resource that does not exist. */
const missing = (route: string) =>
  route
    .replace('/v1/tickets/:id', '/v1/tickets/tkt_missing')
    .replace('/v1/triggers/:id', '/v1/triggers/missing')
    .replace('/v1/plans/:id', '/v1/plans/pln_missing')
    .replace(':id', 'job_missing')
    .replace('/v1/sandboxes/:name', '/v1/sandboxes/missing')
    .replace('/v1/workspaces/:name', '/v1/workspaces/missing')
    .replace('/v1/projects/:name', '/v1/projects/missing')
    .replace('/v1/cron/:name', '/v1/cron/missing');

describe('API routes in-process (fake runtime, any user)', () => {
  let api: TestApp;
  let alice: string;
  let bob: string;
  let ids: { job: string; ticket: string; plan: string };
  before(async () => {
    api = await createTestApp();
    alice = (await api.token('alice')).token;
    bob = (await api.token('bob')).token;
    // alice's resources: a finished job, a running sandbox `dev`, a workspace `w`.
    const job = await api.request(alice, 'POST', '/v1/jobs', {
      command: 'echo hi',
      workspace: 'w',
    });
    assert.equal(job.status, 201);
    ids = {
      job: ((await job.json()) as { id: string }).id,
      ticket: await aliceTicket(api),
      plan: await alicePlan(api),
    };
    await api.services.jobs.wait('alice', ids.job);
    const sandbox = await api.request(alice, 'POST', '/v1/sandboxes', { name: 'dev' });
    assert.equal(sandbox.status, 201, await sandbox.clone().text());
    // A project `webapp`, recorded as imported (importing runs git in a sandbox: the fake
    // runtime runs on the host, so that is test/projects.test.ts, on the namespace runtime).
    // Its model needs no key (a trigger's template is checked as a ticket would be at add).
    await api.services.repository.insertProject(projectRecord('webapp', { model: 'ollama:qwen3' }));
    // A cron job `nightly` that fires at midnight UTC on January 1st only: a run of its own
    // during the test would change what the rows see (a daily time can meet a test run).
    const cron = await api.request(alice, 'POST', '/v1/cron', {
      name: 'nightly',
      schedule: '0 0 1 1 *',
      command: 'true',
    });
    assert.equal(cron.status, 201, await cron.clone().text());
    const trigger = await api.request(alice, 'POST', '/v1/triggers', {
      name: 'nightly',
      project: 'webapp',
      template: triggerTemplate,
      webhook: true,
    });
    assert.equal(trigger.status, 201, await trigger.clone().text());
  });
  after(() => api.close());

  test('the tables cover every route the app registers', () => {
    const registered = new Set(
      api.app.routes
        .filter((route) => route.method !== 'ALL')
        .map((route) => `${route.method} ${route.path}`),
    );
    const covered = new Set([
      ...routes.map((row) => row.route),
      ...Object.keys(publicRoutes),
      ...Object.keys(signedRoutes),
    ]);
    assert.deepEqual([...registered].sort(), [...covered].sort());
    const withInput = new Set([...Object.keys(invalid), ...noInput]);
    assert.deepEqual(
      routes.map((row) => row.route).filter((route) => !withInput.has(route)),
      [],
      'every route has a validation row or is listed as taking no input',
    );
  });

  test('the OpenAPI document describes every /v1 route but the shell (a WebSocket)', async () => {
    const response = await api.request(undefined, 'GET', '/openapi.json');
    const document = (await response.json()) as {
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    };
    const undocumented = ['GET /v1/sandboxes/:name/shell'];
    for (const { route } of routes) {
      if (undocumented.includes(route)) continue;
      const [method = '', path = ''] = route.split(' ');
      const openApiPath = path.replace(/:(\w+)/g, '{$1}');
      assert.ok(document.paths[openApiPath]?.[method.toLowerCase()], `${route} is not described`);
    }
    assert.ok(document.components.schemas.RunJobRequest);
  });

  test('public routes answer without a token', async () => {
    for (const route of Object.keys(publicRoutes)) {
      if (route === 'GET /assets/*') continue; // only the build's files: dashboard-serving.test.ts
      const [method = '', pattern = ''] = route.split(' ');
      const path = pattern.replace('*', 'T-1');
      const response = await api.request(undefined, method, path);
      assert.equal(response.status, 200, route);
    }
  });

  test('every /v1 route refuses a missing, malformed, unknown or revoked token with 401', async () => {
    const revoked = await api.token('carol');
    await revokeToken(api.services.repository, revoked.id);
    const tokens: Array<[string, string | undefined]> = [
      ['missing', undefined],
      ['malformed', 'not-a-token'],
      ['unknown', `mags_${'x'.repeat(32)}`],
      ['revoked', revoked.token],
    ];
    for (const row of routes) {
      const { method, path, body } = row.request(ids);
      for (const [kind, token] of tokens) {
        const response = await api.request(token, method, path, body);
        assert.equal(response.status, 401, `${row.route} with a ${kind} token`);
        assert.equal(response.headers.get('cache-control'), 'no-store', row.route);
        const { error } = (await response.json()) as { error: { code: string } };
        assert.equal(error.code, 'unauthorized', `${row.route} with a ${kind} token`);
      }
    }
  });

  test("bob gets a 404 for each of alice's jobs, sandboxes and workspaces, and they stay hers", async () => {
    for (const row of ownedRoutes) {
      const { method, path, body } = row.request(ids);
      const response = await api.request(bob, method, path, body);
      assert.equal(response.status, 404, `${row.route}: ${await response.clone().text()}`);
    }
    const lists = async (token: string) => ({
      jobs: ((await (await api.request(token, 'GET', '/v1/jobs')).json()) as { jobs: unknown[] })
        .jobs.length,
      sandboxes: (
        (await (await api.request(token, 'GET', '/v1/sandboxes')).json()) as {
          sandboxes: unknown[];
        }
      ).sandboxes.length,
      workspaces: (
        (await (await api.request(token, 'GET', '/v1/workspaces')).json()) as {
          workspaces: Array<{ name: string }>;
        }
      ).workspaces.map((workspace) => workspace.name),
    });
    assert.deepEqual(await lists(bob), { jobs: 0, sandboxes: 0, workspaces: [] });
    const hers = await lists(alice);
    assert.equal(hers.jobs, 1);
    assert.equal(hers.sandboxes, 1);
    assert.deepEqual(hers.workspaces, ['dev', 'w']);
    const whoami = (await (await api.request(bob, 'GET', '/v1/whoami')).json()) as {
      owner: string;
    };
    assert.equal(whoami.owner, 'bob');
    const pool = (await (await api.request(bob, 'GET', '/v1/pool')).json()) as {
      host: unknown;
    };
    assert.equal(pool.host, null, 'host-wide figures are for admin tokens');
    const hosts = await api.request(bob, 'GET', '/v1/hosts');
    assert.equal(hosts.status, 403, 'the hosts are for admin tokens');
    assert.match(((await hosts.json()) as { error: { hint: string } }).error.hint, /--admin/);
  });

  test('bad input is a 400 naming the field, before anything is done', async () => {
    for (const [route, rows] of Object.entries(invalid)) {
      for (const row of rows) {
        const response = await api.request(alice, row.method, row.path, row.body);
        const { error } = (await response.json()) as { error: { code: string; message: string } };
        assert.equal(response.status, 400, `${route} ${row.path}: ${error.message}`);
        assert.equal(error.code, 'invalid_input', route);
        assert.match(error.message, row.message, route);
      }
    }
    const { jobs } = (await (await api.request(alice, 'GET', '/v1/jobs')).json()) as {
      jobs: unknown[];
    };
    assert.equal(jobs.length, 1, 'no job was made by a refused request');
  });

  test('a missing job, sandbox or workspace is a 404 on every route that names one', async () => {
    for (const row of ownedRoutes) {
      const { method, body } = row.request(ids);
      const [, routePath = ''] = row.route.split(' ');
      const query = row.request(ids).path.split('?')[1];
      const path = missing(routePath) + (query ? `?${query}` : '');
      const response = await api.request(alice, method, path, body);
      assert.equal(response.status, 404, `${row.route}: ${await response.clone().text()}`);
    }
  });

  // The test context's workspaces have no disk, so neither has the fork: this runs as any user.
  test("alice's fork of her workspace succeeds, and bob's list does not show it", async () => {
    const forked = await api.request(alice, 'POST', '/v1/workspaces/w/fork', { name: 'w2' });
    assert.equal(forked.status, 201, await forked.clone().text());
    const bobs = (await (await api.request(bob, 'GET', '/v1/workspaces')).json()) as {
      workspaces: unknown[];
    };
    assert.deepEqual(bobs.workspaces, []);
    const deleted = await api.request(alice, 'DELETE', '/v1/workspaces/w2');
    assert.ok(deleted.status < 300, await deleted.text());
  });

  test("alice's requests succeed on her own resources (the rows are real requests)", async () => {
    // In an order where each leaves what the next needs: the deletes come last.
    const order = [...routes].sort(
      (a, b) => Number(a.route.startsWith('DELETE')) - Number(b.route.startsWith('DELETE')),
    );
    for (const row of order) {
      if (row.route === 'GET /v1/sandboxes/:name/shell') continue; // needs a WebSocket upgrade
      if (row.route === 'POST /v1/sandboxes/:name/stop') continue; // would stop what follows
      if (row.route === 'GET /v1/pool/events') continue; // never ends: test/pool-events-route.test.ts
      if (row.route === 'GET /v1/hosts') continue; // an admin's: a 403 for alice (below)
      if (row.route === 'POST /v1/workspaces/:name/fork') continue; // its own test (above): a fork left would keep w from being deleted
      // Imports and refreshes run git in a sandbox, which the fake runtime runs on the host:
      // test/projects.test.ts does them on the namespace runtime.
      if (row.route === 'POST /v1/projects' || row.route === 'POST /v1/projects/:name/refresh')
        continue;
      // A tree copy runs tar in the sandbox, which the fake runtime would run on the host:
      // test/server-archive.test.ts does them on the namespace runtime.
      if (row.route.endsWith('/archive')) continue;
      if (ticketRoutesTestedElsewhere.includes(row.route)) continue;
      if (planRoutesTestedElsewhere.includes(row.route)) continue;
      const { method, path, body } = row.request(ids);
      const response = await api.request(alice, method, path, body);
      assert.ok(response.status < 300, `${row.route}: ${response.status} ${await response.text()}`);
      // One owner's data: kept by no cache, never sniffed; an event stream keeps its no-cache.
      const stream = response.headers.get('content-type')?.startsWith('text/event-stream');
      const caching = response.headers.get('cache-control');
      assert.equal(caching, stream ? 'no-cache' : 'no-store', row.route);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', row.route);
    }
  });
});

/** A draft ticket of alice's, stored as a server would, with evidence and a bundle. */
async function aliceTicket(api: TestApp): Promise<string> {
  const at = new Date().toISOString();
  const id = 'tkt_alice1';
  const usage = { inputTokens: 0, outputTokens: 0, costUsd: 0, steps: 0 };
  await api.services.repository.insertTicket({
    id,
    owner: 'alice',
    project: 'app',
    title: 't',
    request: 'r',
    criteria: [{ text: 'c' }],
    role: 'developer',
    model: null,
    budget: {},
    status: 'draft',
    reason: null,
    workspace: null,
    baseCommit: null,
    baseTree: null,
    attempt: 0,
    usage,
    branch: null,
    commit: null,
    plan: null,
    createdAt: at,
    updatedAt: at,
    history: [],
  });
  await api.services.repository.putEvidence({
    ticket: id,
    attempt: 1,
    agentEnd: 'finished',
    agentMessage: 'finished',
    summary: null,
    baseCommit: null,
    tree: null,
    diff: '',
    diffStat: { files: [] },
    tests: null,
    criteria: [],
    usage,
    startedAt: at,
    finishedAt: at,
    durationMs: 0,
  });
  await api.services.repository.putTicketBundle(id, Buffer.from('bundle'));
  return id;
}

/** An approved plan of alice's, stored as a server would, with evidence and a bundle. */
async function alicePlan(api: TestApp): Promise<string> {
  const at = new Date().toISOString();
  const id = 'pln_alice1';
  const usage = { inputTokens: 0, outputTokens: 0, costUsd: 0, steps: 0 };
  await api.services.repository.insertPlan({
    id,
    owner: 'alice',
    project: 'webapp',
    request: 'r',
    summary: 's',
    status: 'approved',
    reason: null,
    model: null,
    auto: false,
    autoApprove: false,
    maxParallel: 4,
    budget: {},
    usage,
    tickets: [
      {
        key: 'one',
        title: 't',
        request: 'r',
        criteria: [{ text: 'c' }],
        dependsOn: [],
        state: 'dispatched',
        reason: null,
        ticket: 'tkt_alice1',
        ticketStatus: 'approved',
        usage,
        conflictFiles: [],
      },
    ],
    baseCommit: 'c0ffee',
    integration: { workspace: 'plan-pln_alice1', commit: 'c1', tree: null },
    branch: 'mags/plan-pln_alice1',
    commit: 'c1',
    approvedAt: at,
    createdAt: at,
    updatedAt: at,
  });
  await api.services.repository.appendPlanEvent(id, {
    at,
    data: { type: 'plan_status', from: 'awaiting_review', to: 'approved', reason: null },
  });
  await api.services.repository.putPlanEvidence({
    plan: id,
    baseCommit: 'c0ffee',
    commit: 'c1',
    tree: null,
    mergeOrder: ['one'],
    diff: '',
    diffStat: { files: [] },
    tests: null,
    tickets: [],
    usage,
    startedAt: at,
    finishedAt: at,
    durationMs: 0,
  });
  await api.services.repository.putPlanBundle(id, Buffer.from('bundle'));
  return id;
}
