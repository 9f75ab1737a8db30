import { InvalidInputError } from '../errors/mags-error.ts';

/**
 * The whole number (at least 1) an environment variable of the server sets, or undefined when
 * it is unset or empty; anything else stops the server with an error naming the variable.
 */
export function environmentWholeNumber(
  environment: NodeJS.ProcessEnv,
  name: string,
): number | undefined {
  const value = environment[name];
  if (value === undefined || value === '') return undefined;
  const count = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(count) || count < 1) {
    throw new InvalidInputError(
      `Invalid ${name} ${JSON.stringify(value)}: expected a whole number, at least 1.`,
      { hint: `Set ${name} to a whole number such as 16, or unset it for the default.` },
    );
  }
  return count;
}
