import { MagsError } from '../../errors/mags-error.ts';

/** An error as the API states it: its message, and the hint saying what to do next. */
export function ErrorView(props: { error: unknown; title?: string }) {
  const error = props.error;
  const message = error instanceof Error ? error.message : String(error);
  const hint = error instanceof MagsError ? error.hint : undefined;
  return (
    <div class="error" role="alert">
      {props.title ? <strong>{props.title}: </strong> : null}
      {message}
      {hint ? <p class="hint">{hint}</p> : null}
    </div>
  );
}
