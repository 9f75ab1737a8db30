/**
 * Dollars: `$0`, `$0.0042` under a cent (a cheap step still shows), `$1.25` from a cent up. The
 * same on the board, a ticket, a plan and the evidence.
 */
export function formatCostUsd(costUsd: number): string {
  if (costUsd === 0) return '$0';
  return costUsd < 0.01 ? `$${costUsd.toFixed(4)}` : `$${costUsd.toFixed(2)}`;
}
