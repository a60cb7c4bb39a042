import { parentPort } from 'node:worker_threads';
import { nodeModelServiceDeps } from '../../src/cli/nodeServices';
import { createModelService } from '../../src/workers/modelService';
import { exposeRpc, type Endpoint } from '../../src/workers/rpc';

// The page's model service as in nodeModel.worker.ts, in a worker thread that dies (as one that runs out of
// memory does) when it fetches a file under /crash/: a worker lost in the middle of loading a model.
const fetchModelFile = globalThis.fetch;
globalThis.fetch = (input, init) => (String(input).includes('/crash/') ? process.exit(3) : fetchModelFile(input, init));

exposeRpc(createModelService(nodeModelServiceDeps()), parentPort as unknown as Endpoint);
