import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelFile } from '../../../src/model/text/textModel';
import { checkpointTensors, randomCheckpoint, writeSafetensors, type TestConfigJson } from './checkpoints';
import { tempDir } from '../../tempDir';

/** A GPT-2 small enough for unit tests that still reads the real tokenizer's ids (vocab 50257); a context of 24 tokens. */
export const TINY_GPT2: TestConfigJson = { model_type: 'gpt2', n_embd: 16, n_layer: 2, n_head: 2, n_positions: 24, vocab_size: 50257 };

/** config.json and model.safetensors of a seeded random tiny GPT-2, as Hugging Face saves them (mask buffers included). */
export function tinyGpt2Files(options: { seed?: number; config?: Partial<TestConfigJson> } = {}): ModelFile[] {
  const config = { ...TINY_GPT2, ...options.config };
  const checkpoint = randomCheckpoint(config, { seed: options.seed ?? 7, dtype: 'F32', untiedHead: false });
  return [
    { name: 'config.json', bytes: new TextEncoder().encode(JSON.stringify(config)) },
    { name: 'model.safetensors', bytes: writeSafetensors(checkpointTensors(checkpoint, { prefix: true, maskBuffers: 'F32' }), { format: 'pt' }) },
  ];
}

/** Writes checkpoint files into a new temporary folder and returns its path. */
export function writeCheckpointFolder(files: ModelFile[] = tinyGpt2Files()): string {
  const dir = tempDir('tiny-gpt2-');
  for (const f of files) {
    mkdirSync(join(dir, f.name, '..'), { recursive: true });
    writeFileSync(join(dir, f.name), f.bytes instanceof Uint8Array ? f.bytes : new Uint8Array(f.bytes));
  }
  return dir;
}
