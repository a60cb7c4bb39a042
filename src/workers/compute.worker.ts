import { browserRangePool } from './browserRangePool';
import { createComputeService } from './computeService';
import { exposeRpc, type Endpoint } from './rpc';

// Layouts use every core: nested workers over shared memory (the page is cross-origin isolated).
exposeRpc(createComputeService({ threads: () => browserRangePool() }), self as unknown as Endpoint);
