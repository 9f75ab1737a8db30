/**
 * Terminal output as text with its ANSI colours (SGR) rendered as styled spans; every other
 * escape (cursor moves, OSC 8 links, titles) is dropped. Never HTML: the text is rendered as
 * text nodes whatever it holds.
 *
 * (Placeholder until the ANSI renderer lands: shows the text with escapes stripped.)
 */
const escapeCharacter = String.fromCharCode(27);
const bell = String.fromCharCode(7);
const escapes = new RegExp(
  `${escapeCharacter}\\[[0-9;?]*[ -/]*[@-~]|${escapeCharacter}\\][^${bell}${escapeCharacter}]*(?:${bell}|${escapeCharacter}\\\\)?`,
  'g',
);

export function AnsiText(props: { text: string; class?: string }) {
  return <span class={props.class}>{props.text.replace(escapes, '')}</span>;
}
