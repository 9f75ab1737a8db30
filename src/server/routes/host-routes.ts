import { createRoute, z } from '@hono/zod-openapi';
import { ErrorSchema } from '../../api/schemas.ts';
import { PermissionDeniedError } from '../../errors/mags-error.ts';
import type { ServerApp } from '../create-app.ts';
import type { ServerServices } from '../server-env.ts';

const HostSchema = z
  .object({
    id: z.string().openapi({ description: 'Its name (`mags server --host-id`).' }),
    address: z.string().nullable().openapi({ description: "Its API's URL for the other servers." }),
    state: z.enum(['live', 'silent', 'gone']).openapi({
      description:
        '`live`: heard from within the host timeout; `silent`: not, and not yet marked gone (the next sweep does); `gone`: its work was failed with `goneReason`.',
    }),
    runtimes: z.array(z.string()),
    maxJobs: z.number().int(),
    runningJobs: z.number().int().openapi({ description: 'Running and queued there.' }),
    warmWorkspaces: z.number().int().openapi({ description: 'Workspaces parked warm there.' }),
    startedAt: z.string(),
    heartbeatAt: z.string(),
    heartbeatAgeMs: z.number(),
    goneAt: z.string().nullable(),
    goneReason: z.string().nullable(),
  })
  .openapi('Host');

const HostListSchema = z
  .object({
    shared: z.boolean().openapi({
      description:
        'The state is shared by several servers (PostgreSQL); false: one host on its own state, which lists none.',
    }),
    self: z.string().openapi({ description: "This server's host id." }),
    role: z.string().openapi({ description: '`host`, `api-only`, `gone host`, or `single`.' }),
    hosts: z.array(HostSchema),
  })
  .openapi('HostList');

const listHosts = createRoute({
  method: 'get',
  path: '/v1/hosts',
  summary:
    'The hosts sharing this state, with heartbeat age, load and state (admin token): where runs are placed',
  responses: {
    200: { content: { 'application/json': { schema: HostListSchema } }, description: 'OK' },
    403: { content: { 'application/json': { schema: ErrorSchema } }, description: 'Not admin' },
  },
});

export function registerHostRoutes(app: ServerApp, services: ServerServices): void {
  app.openapi(listHosts, async (c) => {
    if (!c.var.admin) {
      throw new PermissionDeniedError(
        'The hosts are host-wide figures: an admin token sees them.',
        {
          hint: 'Use an admin token (mags token create --owner NAME --admin).',
        },
      );
    }
    const cluster = services.cluster;
    if (!cluster) return c.json({ shared: false, self: '', role: 'single', hosts: [] }, 200);
    return c.json(
      { shared: true, self: cluster.host, role: cluster.role, hosts: await cluster.hosts() },
      200,
    );
  });
}
