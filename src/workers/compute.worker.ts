import { createComputeService } from './computeService';
import { exposeRpc, type Endpoint } from './rpc';

exposeRpc(createComputeService(), self as unknown as Endpoint);
