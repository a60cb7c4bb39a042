import { parentPort } from 'node:worker_threads';
import { serveRanges } from '../workers/rangePool';
import type { Endpoint } from '../workers/rpc';

// A worker thread of the Node range pool (src/cli/rangePool.ts): it only serves the registered kernels.
serveRanges(parentPort as unknown as Endpoint);
