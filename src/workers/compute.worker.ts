import { computeService } from './computeService';
import { exposeRpc, type Endpoint } from './rpc';

exposeRpc(computeService, self as unknown as Endpoint);
