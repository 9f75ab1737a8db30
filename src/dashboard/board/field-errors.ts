import { InvalidInputError } from '../../errors/mags-error.ts';

/**
 * The API names a refused field in its message (`body.criteria.0.text: Too small ...; body.title:
 * ...`, see validationResponse): each field's message by its path (`criteria.0.text`), so a form
 * shows it beside that field. Messages that name no body field are left to the form's own alert.
 */
export function fieldErrors(error: unknown): Map<string, string> {
  const found = new Map<string, string>();
  if (!(error instanceof InvalidInputError)) return found;
  for (const part of error.message.split('; ')) {
    const match = /^body\.([\w.]+): (.+)$/s.exec(part);
    if (match?.[1] && match[2] && !found.has(match[1]))
      found.set(match[1], plainFieldMessage(match[2]));
  }
  return found;
}

/** Zod's common messages (its English locale) as a person beside a field would say them. */
const plainMessages: [RegExp, (...found: string[]) => string][] = [
  [/^Too small: expected string to have >=1 characters?$/, () => 'Required'],
  [/^Invalid input: expected \w+, received undefined$/, () => 'Required'],
  [
    /^Too small: expected string to have >=(\d+) characters$/,
    (n = '') => `At least ${n} characters`,
  ],
  [/^Too big: expected string to have <=(\d+) characters$/, (n = '') => `At most ${n} characters`],
  [/^Too small: expected array to have >=1 items?$/, () => 'At least one'],
  [/^Too small: expected array to have >=(\d+) items$/, (n = '') => `At least ${n}`],
  [/^Too big: expected array to have <=(\d+) items$/, (n = '') => `At most ${n}`],
  [/^Too small: expected number to be >=(\S+)$/, (n = '') => `At least ${n}`],
  [/^Too small: expected number to be >(\S+)$/, (n = '') => `More than ${n}`],
  [/^Too big: expected number to be <=(\S+)$/, (n = '') => `At most ${n}`],
  [/^Too big: expected number to be <(\S+)$/, (n = '') => `Less than ${n}`],
  [/^Invalid input: expected int, received number$/, () => 'A whole number'],
];

/** A zod message in plain words where it is one of the common shapes; the API's text otherwise. */
export function plainFieldMessage(message: string): string {
  for (const [shape, say] of plainMessages) {
    const match = shape.exec(message);
    if (match) return say(...match.slice(1));
  }
  return message;
}
