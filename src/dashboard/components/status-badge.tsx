/** A status as a small coloured label: the colour comes from the status word's class. */
export function StatusBadge(props: { status: string }) {
  return (
    <span class={`badge status-${props.status.replace(/[^a-z_-]/gi, '')}`}>
      {props.status.replaceAll('_', ' ')}
    </span>
  );
}
