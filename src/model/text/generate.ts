import { abortError } from '../../lib/abort';
import { topIndices } from '../../lib/order';
import { createRng } from '../../lib/rng';
import { yieldToPage } from '../../lib/yieldToPage';
import { disposeCache, Gpt2InputError, type Gpt2Model, type Intervention, type KvCache } from './gpt2';
import { EOT } from './tokenizer';

export interface GenerateOptions {
  /** Tokens to generate at most (default 50). */
  maxTokens?: number;
  /** 0 (default): greedy, the most likely token; above 0, sampling from softmax(logits / temperature). */
  temperature?: number;
  /** Sample among the k most likely tokens only (0 or unset: all). */
  topK?: number;
  /** Seed of the sampling: the same seed gives the same tokens. */
  seed?: number;
  /** Stop after `<|endoftext|>` (default true). */
  stopAtEndOfText?: boolean;
  /** A change to one layer at every position, the prompt's included (steering, ablation). */
  intervention?: Intervention | null;
  /** Each generated token as it comes, with its logits (the distribution it was picked from). */
  onToken?: (id: number, logits: Float32Array) => void;
  signal?: AbortSignal;
}

/** Why generation stopped. */
export type StopReason = 'length' | 'end-of-text' | 'context';

export interface Generation {
  /** The generated tokens, the prompt's not included. */
  ids: number[];
  stop: StopReason;
}

/**
 * Continues `promptIds` with the model's key/value cache: the prompt runs once, then each token costs one token's
 * forward. Greedy or seeded sampling (temperature, top-k); stops at `maxTokens`, at `<|endoftext|>`, or where the
 * context is full. Yields between tokens, so a worker can cancel it (`signal`).
 */
export async function generate(model: Gpt2Model, promptIds: Int32Array, options: GenerateOptions = {}): Promise<Generation> {
  const maxTokens = options.maxTokens ?? 50;
  if (promptIds.length === 0) throw new Gpt2InputError('The prompt has no tokens.');
  const random = createRng(options.seed ?? 0);
  const ids: number[] = [];
  let cache: KvCache | null = null;
  let next = promptIds;
  try {
    while (ids.length < maxTokens) {
      if (options.signal?.aborted) throw abortError('Generation cancelled');
      if ((cache?.length ?? 0) + next.length > model.config.nPositions) return { ids, stop: 'context' };
      const step: { logits: Float32Array; cache: KvCache } = model.extend(cache, next, options.intervention ?? null);
      cache = step.cache;
      const id = pickToken(step.logits, options.temperature ?? 0, options.topK ?? 0, random);
      ids.push(id);
      options.onToken?.(id, step.logits);
      if (id === EOT && options.stopAtEndOfText !== false) return { ids, stop: 'end-of-text' };
      next = Int32Array.of(id);
      await yieldToPage();
    }
    return { ids, stop: 'length' };
  } finally {
    if (cache) disposeCache(cache);
  }
}

/**
 * The next token: the most likely with temperature 0 (the lowest id among equals), else a draw from
 * softmax(logits / temperature) over the `topK` most likely (all when 0).
 */
export function pickToken(logits: Float32Array, temperature: number, topK: number, random: () => number): number {
  if (!(temperature > 0)) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  const candidates = topK > 0 && topK < logits.length ? topIndices(logits, topK) : Array.from(logits.keys());
  const top = candidates.reduce((m, i) => Math.max(m, logits[i]), -Infinity);
  const weights = candidates.map((i) => Math.exp((logits[i] - top) / temperature));
  let u = random() * weights.reduce((a, b) => a + b, 0);
  for (let c = 0; c < candidates.length; c++) {
    u -= weights[c];
    if (u < 0) return candidates[c];
  }
  return candidates[candidates.length - 1];
}
