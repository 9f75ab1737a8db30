import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Mags } from '../sdk/mags.ts';

export interface Signed {
  mags: Mags;
  /** For the shell's WebSocket, which offers it as a subprotocol (never in its URL). */
  token: string;
  owner: string;
}

export const SignedContext = createContext<Signed | null>(null);

/** The signed-in client; pages are shown only once signed in. */
export function useSigned(): Signed {
  const signed = useContext(SignedContext);
  if (!signed) throw new Error('useSigned() outside a signed-in page');
  return signed;
}

export const useMags = () => useSigned().mags;
