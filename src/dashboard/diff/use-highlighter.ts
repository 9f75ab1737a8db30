import { useEffect, useState } from 'preact/hooks';

type HighlightModule = typeof import('./syntax-highlight.ts');

let loaded: Promise<HighlightModule> | undefined;

/**
 * The syntax highlighter, loaded after the first render (its own chunk: lowlight and a dozen
 * grammars). Until then, and if it fails to load, diffs are shown plain.
 */
export function useHighlighter(enabled: boolean): HighlightModule | undefined {
  const [module, setModule] = useState<HighlightModule>();
  useEffect(() => {
    if (!enabled) return;
    let current = true;
    loaded ??= import('./syntax-highlight.ts');
    loaded.then(
      (value) => current && setModule(() => value),
      () => {
        // Plain text is a fine diff: the chunk may be unreachable after a redeploy.
        loaded = undefined;
      },
    );
    return () => {
      current = false;
    };
  }, [enabled]);
  return module;
}
