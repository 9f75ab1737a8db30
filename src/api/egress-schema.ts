/**
 * An egress allow-list as the API takes it (`allow` on runs and sandboxes): the same checks as
 * the CLI's `--allow-host` and `--allow-cidr` (egress-rules.ts).
 */
import { z } from '@hono/zod-openapi';
import { MagsError } from '../errors/mags-error.ts';
import { maxEgressRules, normaliseEgressRule } from './egress-rules.ts';

const PortSchema = z.number().int().min(1).max(65535).optional();

export const EgressRuleSchema = z
  .union([
    z.strictObject({ host: z.string().min(1).max(255), port: PortSchema }),
    z.strictObject({ cidr: z.string().min(1).max(18), port: PortSchema }),
  ])
  .superRefine((rule, context) => {
    try {
      normaliseEgressRule(rule);
    } catch (error) {
      if (!(error instanceof MagsError)) throw error;
      context.addIssue({ code: 'custom', message: `${error.message} ${error.hint ?? ''}`.trim() });
    }
  })
  .openapi('EgressRule', {
    description:
      'A host name (`*.example.com`: every name below it) or an IPv4 CIDR, on `port` or on every port.',
    example: { host: 'registry.npmjs.org', port: 443 },
  });

export const AllowListSchema = z.array(EgressRuleSchema).max(maxEgressRules).openapi({
  description:
    'Egress only to these (implies network): names through a DNS filter, the rest refused. The host and 169.254.0.0/16 stay unreachable.',
});
