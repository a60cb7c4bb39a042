import { parentPort } from 'node:worker_threads';
import { createComputeService } from '../../src/workers/computeService';
import { exposeRpc, type Endpoint } from '../../src/workers/rpc';

exposeRpc(createComputeService(), parentPort as unknown as Endpoint);
