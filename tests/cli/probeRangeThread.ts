import { parentPort } from 'node:worker_threads';
import { serveRanges } from '../../src/workers/rangePool';
import type { Endpoint } from '../../src/workers/rpc';
import './probeKernel';

serveRanges(parentPort as unknown as Endpoint);
