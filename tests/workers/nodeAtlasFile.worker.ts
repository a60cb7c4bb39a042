import { parentPort } from 'node:worker_threads';
import { createAtlasFileService } from '../../src/workers/atlasFileService';
import { exposeRpc, type Endpoint } from '../../src/workers/rpc';

exposeRpc(createAtlasFileService(), parentPort as unknown as Endpoint);
