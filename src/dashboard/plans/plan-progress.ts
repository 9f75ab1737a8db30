import type { Plan } from '../../api/plans.ts';
import { formatCost } from '../board/ticket-columns.ts';

/** `2 of 5 approved`: how far its tickets are. */
export const planProgress = (plan: Plan) =>
  `${plan.tickets.filter((ticket) => ticket.ticketStatus === 'approved').length} of ${plan.tickets.length} approved`;

export const planCost = (plan: Plan) =>
  plan.budget.maxCostUsd === undefined
    ? formatCost(plan.usage.costUsd)
    : `${formatCost(plan.usage.costUsd)} of ${formatCost(plan.budget.maxCostUsd)}`;
