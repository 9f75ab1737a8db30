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
    if (match?.[1] && match[2] && !found.has(match[1])) found.set(match[1], match[2]);
  }
  return found;
}
