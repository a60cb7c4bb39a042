/**
 * Child process of tests/cli/wasmThreads.test.ts: records a seeded GPT-2 on the wasm backend with the threads asked
 * (argv[2]) and prints the threads it got and the activations, as JSON on its last line. One process per thread
 * count: the wasm backend's threads are fixed when it starts.
 */
import { withNodeWasmThreads } from '../../src/cli/wasmThreads';
import { chooseBackend } from '../../src/model/backend';
import { Gpt2Model } from '../../src/model/text/gpt2';
import { parseGpt2Config } from '../../src/model/text/gpt2Config';
import { randomCheckpoint, randomTokens, type TestConfigJson } from '../model/text/checkpoints';

// Wide enough that XNNPACK splits its products between threads.
const CONFIG: TestConfigJson = { model_type: 'gpt2', n_embd: 256, n_layer: 2, n_head: 4, n_positions: 64, vocab_size: 300 };

const { value: backend, threads, note } = await withNodeWasmThreads(Number(process.argv[2]), () => chooseBackend({ override: 'wasm', node: true }));
const checkpoint = randomCheckpoint(CONFIG, { seed: 11, dtype: 'F32', untiedHead: false });
const tensors = new Map([...checkpoint.weights].map(([name, t]) => [name, { shape: [...t.shape], data: Float32Array.from(t.data) }]));
const model = Gpt2Model.fromTensors(parseGpt2Config(CONFIG), tensors);
const recorded = model.recordLayers(randomTokens(4, 64, CONFIG.vocab_size, 12), ['h.1.mlp.act', 'h.1']);
const values = recorded.map((t) => Array.from(t.dataSync()));
console.log(JSON.stringify({ backend: backend.name, threads, note, values }));
