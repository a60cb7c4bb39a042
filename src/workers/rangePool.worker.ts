import { serveRanges } from './rangePool';
import type { Endpoint } from './rpc';

// A thread of the compute worker's range pool (browserRangePool.ts): it only serves the registered kernels.
serveRanges(self as unknown as Endpoint);
