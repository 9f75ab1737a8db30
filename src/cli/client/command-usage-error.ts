import { InvalidInputError } from '../../errors/mags-error.ts';

/** A command used the wrong way round (exit code 2, like every invalid input). */
export class CommandUsageError extends InvalidInputError {}
