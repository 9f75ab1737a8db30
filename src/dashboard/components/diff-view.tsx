/**
 * A unified diff (git's format) shown per file, lines marked added or removed, as text nodes.
 *
 * (Placeholder until the diff viewer lands: shows the diff as preformatted text.)
 */
export function DiffView(props: { diff: string; mode?: 'unified' | 'split' }) {
  return <pre class="diff">{props.diff}</pre>;
}
