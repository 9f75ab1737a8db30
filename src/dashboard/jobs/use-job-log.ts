import { useEffect, useState } from 'preact/hooks';
import type { Job } from '../../api/schemas.ts';
import type { Mags } from '../../sdk/mags.ts';

export interface JobLog {
  /** stdout and stderr as they arrived, in one text (as a terminal would show them). */
  text: string;
  /** The job as its stream's `end` event reports it: set once it has ended. */
  ended: Job | undefined;
  error: unknown;
}

/**
 * A job's output followed live over the API's log stream (SSE, resumed from the last byte after
 * a dropped connection by the SDK), ending with the job's final state. Stopped on unmount.
 */
export function useJobLog(mags: Mags, id: string): JobLog {
  const [log, setLog] = useState<JobLog>({ text: '', ended: undefined, error: undefined });
  useEffect(() => {
    const abort = new AbortController();
    setLog({ text: '', ended: undefined, error: undefined });
    // Chunks arrive faster than a frame: gather them and render once per animation frame.
    let pending = '';
    let frame = 0;
    const flush = () => {
      frame = 0;
      const text = pending;
      pending = '';
      setLog((previous) => ({ ...previous, text: previous.text + text }));
    };
    const append = (text: string) => {
      pending += text;
      if (!frame) frame = requestAnimationFrame(flush);
    };
    mags.jobs.logs(id, { signal: abort.signal, onStdout: append, onStderr: append }).then(
      (ended) => {
        if (frame) cancelAnimationFrame(frame);
        flush();
        setLog((previous) => ({ ...previous, ended }));
      },
      (error: unknown) => {
        if (!abort.signal.aborted) setLog((previous) => ({ ...previous, error }));
      },
    );
    return () => {
      abort.abort();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [mags, id]);
  return log;
}
