import { createAtlasFileService } from './atlasFileService';
import { exposeRpc, type Endpoint } from './rpc';

exposeRpc(createAtlasFileService(), self as unknown as Endpoint);
