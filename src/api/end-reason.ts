import { z } from 'zod';

/**
 * How a job or run ended: the one enum that travels from the job system through the API and the
 * SDK to the CLI, which maps it to an exit code (124 for a timeout, 128+signal, ...) without
 * reading any sentence. The sentence for people is the job's `message`, apart.
 */
export const EndReasonSchema = z.enum(['exited', 'timed_out', 'oom_killed', 'stopped', 'failed']);

export type EndReason = z.infer<typeof EndReasonSchema>;
