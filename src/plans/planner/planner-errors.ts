/**
 * How the planner fails. Each failure after a try carries `usage`, the sum of every try's
 * tokens and cost (a refused, cut or failing answer is still paid for), so that the plan records
 * what its planning cost even when it failed.
 */
import type { TokenUsage } from '../../api/tickets.ts';
import { MagsError, type MagsErrorOptions } from '../../errors/mags-error.ts';

/** The planner gave up after `attempts` tries that cost `usage`. */
export class PlannerFailedError extends MagsError {
  readonly attempts: number;
  /** What the tries cost, summed. */
  readonly usage: TokenUsage;
  constructor(
    message: string,
    options: MagsErrorOptions & { attempts: number; usage: TokenUsage },
  ) {
    const { attempts, usage, ...rest } = options;
    super(message, rest);
    this.attempts = attempts;
    this.usage = usage;
  }
}

/** Every try was refused. The last reason is in the message, as the model was told it. */
export class PlannerRefusedError extends PlannerFailedError {
  readonly reason: string;
  constructor(
    attempts: number,
    reason: string,
    usage: TokenUsage,
    options: { hint?: string } = {},
  ) {
    super(
      `The planner's plan was refused ${attempts === 1 ? 'once' : `${attempts} times`}. The last reason: ${reason}`,
      {
        code: 'planner_refused',
        statusCode: 422,
        hint:
          options.hint ??
          'Try again (perhaps with a stronger model: --model), make the request more specific, or write the plan yourself (mags plan create --file plan.yaml).',
        attempts,
        usage,
      },
    );
    this.reason = reason;
  }
}

/**
 * The provider failed (after the AI SDK's own retries), possibly after earlier tries that were
 * refused: `usage` counts those; `attempts` counts the failing try too.
 */
export class PlannerProviderError extends PlannerFailedError {}

/** The planner was stopped (its plan stopped, or the server closing) after tries that cost `usage`. */
export class PlannerStoppedError extends PlannerFailedError {}
