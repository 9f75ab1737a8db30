import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ErrorView } from './error-view.tsx';
import { useAction } from './use-action.ts';

/**
 * An action that asks first, in the page (no browser dialog): the button opens a panel saying
 * what will happen (`consequence`), with the confirming button and Cancel; the API's refusal
 * shows in the panel, which stays open. `children` are fields the action needs (feedback).
 * Open/closed is the component's own unless `open` and `onOpenChange` are given (one of a few
 * actions asking at a time). In a wrapping flex row the panel takes a line of its own below.
 */
export function ConfirmButton(props: {
  /** The first button's text (`Delete…`) and, when it differs, its accessible name. */
  label: string;
  name?: string;
  class?: string;
  consequence: ComponentChildren;
  /** The confirming button's text (`Delete app`), and while it runs (`Deleting…`). */
  confirmLabel: string;
  busyLabel?: string;
  danger?: boolean;
  onConfirm: () => Promise<unknown>;
  errorTitle?: string;
  disabled?: boolean;
  confirmDisabled?: boolean;
  open?: boolean;
  onOpenChange?: (open: boolean) => void;
  children?: ComponentChildren;
}) {
  const [ownOpen, setOwnOpen] = useState(false);
  const action = useAction<unknown>();
  const open = props.open ?? ownOpen;
  const setOpen = (next: boolean) => {
    action.reset();
    if (props.onOpenChange) props.onOpenChange(next);
    else setOwnOpen(next);
  };
  return (
    <>
      <button
        type="button"
        class={props.class}
        aria-label={props.name}
        aria-expanded={open}
        disabled={props.disabled || action.busy}
        onClick={() => setOpen(!open)}
      >
        {props.label}
      </button>
      {open ? (
        <form
          class="confirm-panel card"
          onSubmit={(event) => {
            event.preventDefault();
            void action.run(async () => {
              await props.onConfirm();
              setOpen(false);
            });
          }}
        >
          <p>{props.consequence}</p>
          {props.children}
          <div class="toolbar">
            <button
              type="submit"
              class={props.danger ? 'danger' : undefined}
              disabled={action.busy || props.confirmDisabled}
            >
              {action.busy ? (props.busyLabel ?? 'Working…') : props.confirmLabel}
            </button>
            <button type="button" class="quiet" onClick={() => setOpen(false)}>
              Cancel
            </button>
          </div>
          {action.error !== undefined ? (
            <ErrorView error={action.error} title={props.errorTitle} />
          ) : null}
        </form>
      ) : null}
    </>
  );
}
