import { parentPort } from 'node:worker_threads';
import { computeService } from '../../src/workers/computeService';
import { exposeRpc, type Endpoint } from '../../src/workers/rpc';

exposeRpc(computeService, parentPort as unknown as Endpoint);
