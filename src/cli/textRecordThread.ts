import { parentPort } from 'node:worker_threads';
import { chooseBackend } from '../model/backend';
import { modelForward, type TextForward } from '../model/text/recordText';
import { TextModel } from '../model/text/textModel';
import type { RecordThreadReply, RecordThreadRequest } from './textRecordPool';

// A worker thread of the text recording pool (src/cli/textRecordPool.ts): one copy of the model, its part of each batch.
const port = parentPort!;
let forward: TextForward | null = null;

const reply = (message: RecordThreadReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

port.on('message', async (request: RecordThreadRequest) => {
  try {
    if (request.kind === 'open') {
      const chosen = await chooseBackend({ override: request.backend, node: true });
      if (chosen.name !== request.backend) throw new Error(`the ${request.backend} backend did not start here (${chosen.reason})`);
      forward = modelForward(await TextModel.fromFiles(request.files, request.name));
      reply({ kind: 'opened' });
      return;
    }
    if (!forward) throw new Error('no model is loaded in this thread');
    const values = await forward.values(request.tokenIds, request.layer, request.pooled);
    const own = values.byteOffset === 0 && values.byteLength === values.buffer.byteLength ? values : values.slice();
    reply({ kind: 'values', id: request.id, values: own }, [own.buffer as ArrayBuffer]);
  } catch (e) {
    reply({ kind: 'failed', id: request.kind === 'record' ? request.id : null, message: e instanceof Error ? e.message : String(e) });
  }
});
