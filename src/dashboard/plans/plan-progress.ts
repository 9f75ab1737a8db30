import type { Plan } from '../../api/plans.ts';
import { formatCostUsd } from '../format/format-cost-usd.ts';

/** `2 of 5 approved`: how far its tickets are. */
export const planProgress = (plan: Plan) =>
  `${plan.tickets.filter((ticket) => ticket.ticketStatus === 'approved').length} of ${plan.tickets.length} approved`;

export const planCost = (plan: Plan) =>
  plan.budget.maxCostUsd === undefined
    ? formatCostUsd(plan.usage.costUsd)
    : `${formatCostUsd(plan.usage.costUsd)} of ${formatCostUsd(plan.budget.maxCostUsd)}`;
