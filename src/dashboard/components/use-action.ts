import { useCallback, useRef, useState } from 'preact/hooks';

export type ActionState<T> =
  | { state: 'idle' }
  | { state: 'busy'; name: string }
  | { state: 'done'; name: string; result: T }
  | { state: 'failed'; name: string; error: unknown };

export interface Action<T> {
  state: ActionState<T>;
  busy: boolean;
  /** The name the running request was given (`'stop'`): which button says "Stopping…". */
  running: string | undefined;
  /** The last request's failure, until the next one starts. */
  error: unknown;
  /** Runs one request at a time (a second while one runs is ignored), keeping its outcome. */
  run: (request: () => Promise<T>, name?: string) => Promise<void>;
  reset: () => void;
}

/** A button's request to the API: busy while it runs, then its result or its error to show. */
export function useAction<T = void>(): Action<T> {
  const [state, setState] = useState<ActionState<T>>({ state: 'idle' });
  // A ref, not the state: two clicks in one frame both see the state from before the first.
  const running = useRef(false);
  const run = useCallback(async (request: () => Promise<T>, name = '') => {
    if (running.current) return;
    running.current = true;
    setState({ state: 'busy', name });
    try {
      setState({ state: 'done', name, result: await request() });
    } catch (error) {
      setState({ state: 'failed', name, error });
    } finally {
      running.current = false;
    }
  }, []);
  const reset = useCallback(() => setState({ state: 'idle' }), []);
  return {
    state,
    busy: state.state === 'busy',
    running: state.state === 'busy' ? state.name : undefined,
    error: state.state === 'failed' ? state.error : undefined,
    run,
    reset,
  };
}
