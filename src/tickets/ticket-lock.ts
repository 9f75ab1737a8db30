import { KeyedQueue } from '../config/keyed-queue.ts';

/**
 * One state-changing operation per ticket at a time, in this process: run, stop, comment,
 * request-changes, approve, close, the queue's grant and an attempt's end each hold the ticket's
 * lock while they read its status and write the next one, so two of them never act on the same
 * status (two `run`s queue one attempt; a `close` during an `approve` waits for it and then sees
 * `approved`). Not re-entrant: code that holds the lock never asks for it again.
 *
 * Future work: with several server processes on one state repository (they share it, each works
 * its own host's tickets), two processes can still act on one ticket at once; the repository
 * would need a compare-and-set update (`status` expected → next) to close that gap.
 */
export class TicketLock extends KeyedQueue {}
