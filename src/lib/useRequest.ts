import { useEffect, useState } from 'react';

/** A panel's request: pending -> result | error, for one key; an answer for an older key is dropped. */
export type RequestState<R> = { kind: 'idle' } | { kind: 'pending' } | { kind: 'done'; result: R } | { kind: 'error'; message: string };

/** Runs `run(key)` whenever `key` changes (null: nothing to ask); answers for a key that is no longer current are dropped. */
export function useRequest<K, R>(key: K | null, run: ((key: K) => Promise<R>) | null): RequestState<R> {
  const [state, setState] = useState<{ key: K | null; value: RequestState<R> }>({ key: null, value: { kind: 'idle' } });
  useEffect(() => {
    if (key === null || !run) return;
    let current = true;
    setState({ key, value: { kind: 'pending' } });
    run(key).then(
      (result) => current && setState({ key, value: { kind: 'done', result } }),
      (e: Error) => current && setState({ key, value: { kind: 'error', message: e.message } }),
    );
    return () => {
      current = false;
    };
  }, [key, run]);
  if (key === null || !run) return { kind: 'idle' };
  return state.key === key ? state.value : { kind: 'pending' };
}
