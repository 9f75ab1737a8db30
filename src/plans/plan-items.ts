/**
 * What a plan's items (its tickets as the plan tracks them) say about the plan, as pure
 * functions of the record: which are in flight, which are dead ends, which are blocked by one,
 * which are ready, and whether the plan can still move.
 */

import { noUsage } from '../agents/token-usage.ts';
import type { PlanSpec, PlanTicket, PlanTicketSpec } from '../api/plans.ts';

/** A spec's tickets as items of a plan not approved yet. */
export function pendingItems(spec: Pick<PlanSpec, 'tickets'>): PlanTicket[] {
  return spec.tickets.map(
    (ticket: PlanTicketSpec): PlanTicket => ({
      ...ticket,
      state: 'pending',
      reason: null,
      ticket: null,
      ticketStatus: null,
      usage: noUsage,
      conflictFiles: [],
    }),
  );
}

/**
 * A dispatched item follows its ticket's status; the reason of a ticket that failed, was
 * stopped or closed becomes the item's (what blocks its dependents, in its own words).
 */
export function followTicketStatus(
  item: PlanTicket,
  ticket: { status: NonNullable<PlanTicket['ticketStatus']>; reason: string | null },
): void {
  item.ticketStatus = ticket.status;
  if (item.state !== 'dispatched') return;
  const dead =
    ticket.status === 'failed' || ticket.status === 'stopped' || ticket.status === 'closed';
  item.reason = dead ? ticket.reason : null;
}

/** Queued, running or about to be (its results being merged): what the parallel limits count. */
export function inFlight(item: PlanTicket): boolean {
  if (item.state === 'merging') return true;
  return (
    item.state === 'dispatched' &&
    (item.ticketStatus === 'queued' ||
      item.ticketStatus === 'running' ||
      item.ticketStatus === 'changes_requested')
  );
}

/** Still moving, or waiting for a person's review (which is not a dead end). */
function moving(item: PlanTicket): boolean {
  return inFlight(item) || (item.state === 'dispatched' && item.ticketStatus === 'awaiting_review');
}

/** Blocked by a dependency that is a dead end, directly or through a chain (a retry of it unblocks it). */
function blockedByDependency(item: PlanTicket): boolean {
  return item.state === 'blocked' && typeof item.blockedBy === 'string';
}

/**
 * Why the item is a dead end that blocks its dependents, in words; null when it is not one: its
 * ticket failed, was stopped or closed, its results conflict, or it could not be started.
 */
export function deadEnd(item: PlanTicket): string | null {
  const name = item.ticket ? `${item.key} (${item.ticket})` : item.key;
  if (item.state === 'conflict') {
    return `${name}: its dependencies' results conflict in ${item.conflictFiles.join(', ')}`;
  }
  if (item.state === 'blocked' && !blockedByDependency(item)) return `${name}: ${item.reason}`;
  if (item.state !== 'dispatched') return null;
  const status = item.ticketStatus;
  if (status === 'failed' || status === 'stopped' || status === 'closed') {
    return `${name} ${status}${item.reason ? `: ${item.reason}` : ''}`;
  }
  return null;
}

export interface ItemChange {
  key: string;
  from: PlanTicket['state'];
  to: PlanTicket['state'];
  reason: string | null;
}

/**
 * Blocks every waiting item behind a dead end (the reason names the dead end's ticket and why)
 * and lets items blocked by a dead end that is gone (retried) wait again. Changes `items` in
 * place (in merge order, so a chain is settled in one pass) and returns what changed.
 */
export function settleBlocked(items: PlanTicket[], order: string[]): ItemChange[] {
  const byKey = new Map(items.map((item) => [item.key, item]));
  const changes: ItemChange[] = [];
  for (const key of order) {
    const item = byKey.get(key);
    if (!item || (item.state !== 'waiting' && !blockedByDependency(item))) continue;
    const blocker = item.dependsOn
      .map((dependency) => byKey.get(dependency))
      .find((dependency) => dependency && (deadEnd(dependency) || blockedByDependency(dependency)));
    // Through a chain, the dead end at its start blocks it, in the same words.
    const blockedBy = !blocker
      ? null
      : blockedByDependency(blocker)
        ? (blocker.blockedBy ?? null)
        : blocker.key;
    const reason = !blocker
      ? null
      : blockedByDependency(blocker)
        ? blocker.reason
        : `blocked by ${deadEnd(blocker)}`;
    const to = reason ? 'blocked' : 'waiting';
    if (item.state === to && item.reason === reason && (item.blockedBy ?? null) === blockedBy) {
      continue;
    }
    changes.push({ key, from: item.state, to, reason });
    item.state = to;
    item.reason = reason;
    item.blockedBy = blockedBy;
  }
  return changes;
}

/** Waiting items whose every dependency's ticket is approved, in merge order. */
export function readyItems(items: PlanTicket[], order: string[]): PlanTicket[] {
  const byKey = new Map(items.map((item) => [item.key, item]));
  return order.flatMap((key) => {
    const item = byKey.get(key);
    if (item?.state !== 'waiting') return [];
    const ready = item.dependsOn.every(
      (dependency) => byKey.get(dependency)?.ticketStatus === 'approved',
    );
    return ready ? [item] : [];
  });
}

/**
 * Where the plan's items leave it: `integrate` (every ticket approved), `moving` (something is
 * in flight, waits for review, or waits its turn), or `blocked` with the reason in words (what
 * failed, was stopped, closed, conflicts, and what waits on it).
 */
export function planProgress(
  items: PlanTicket[],
): { next: 'integrate' } | { next: 'moving' } | { next: 'blocked'; reason: string } {
  if (items.every((item) => item.ticketStatus === 'approved')) return { next: 'integrate' };
  if (items.some((item) => moving(item) || item.state === 'waiting')) return { next: 'moving' };
  const dead = items.flatMap((item) => deadEnd(item) ?? []);
  const waiting = items.filter(blockedByDependency).map((item) => item.key);
  const parts = [...dead];
  if (waiting.length > 0) {
    const them = dead.length === 1 ? 'it' : 'them';
    parts.push(`${waiting.join(', ')} ${waiting.length === 1 ? 'waits' : 'wait'} for ${them}`);
  }
  return { next: 'blocked', reason: parts.join('; ') || 'no ticket can make progress' };
}
