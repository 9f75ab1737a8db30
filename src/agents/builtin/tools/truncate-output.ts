/**
 * Long output cut for a model: its head and its tail (where errors and summaries usually are),
 * with a note saying how much was cut. SWE-agent's lesson: the model does better with a short,
 * honest excerpt than with a flood; the whole output stays in the ticket's log.
 */
export const defaultModelOutputChars = 16_000;

export function truncateForModel(text: string, maxChars = defaultModelOutputChars): string {
  if (text.length <= maxChars) return text;
  const headChars = Math.floor(maxChars * 0.4);
  const tailChars = maxChars - headChars;
  const cut = text.length - headChars - tailChars;
  return `${text.slice(0, headChars)}\n[... ${cut} of ${text.length} characters cut here; the whole output is in the ticket's command log ...]\n${text.slice(text.length - tailChars)}`;
}
