/** The evaluation's view of a mags server, over the SDK (`mags.projects`, `mags.tickets`). */
import { NotFoundError } from '../src/errors/mags-error.ts';
import type { Mags } from '../src/sdk/mags.ts';
import { apiSandbox } from './api-sandbox.ts';
import type { EvaluationApi } from './run-evaluation.ts';

export function evaluationApi(mags: Mags): EvaluationApi {
  return {
    createProject: (body) => mags.projects.create(body),
    createTicket: (body) => mags.tickets.create(body),
    async waitForTicket(id) {
      // Following the events ends when the ticket is neither queued nor running.
      for await (const _ of mags.tickets.events(id, { follow: true })) {
        // Only the end matters here; the events are stored with the ticket.
      }
      return mags.tickets.get(id);
    },
    async evidence(id) {
      try {
        return await mags.tickets.evidence(id);
      } catch (error) {
        if (error instanceof NotFoundError) return null;
        throw error;
      }
    },
    sandbox: (name) => apiSandbox(mags, name),
  };
}
