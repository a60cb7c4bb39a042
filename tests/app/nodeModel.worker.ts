import { parentPort } from 'node:worker_threads';
import { nodeModelServiceDeps } from '../../src/cli/nodeServices';
import { createModelService } from '../../src/workers/modelService';
import { exposeRpc, type Endpoint } from '../../src/workers/rpc';

// The page's model worker service, in a worker thread, with Node's file access, decoding and PNG encoding.
exposeRpc(createModelService(nodeModelServiceDeps()), parentPort as unknown as Endpoint);
