import { parentPort, threadId } from 'node:worker_threads';
import { exposeRpc, withTransfer, type CallContext, type Endpoint } from '../../src/workers/rpc';
import { abortError } from '../../src/lib/abort';

export const testService = {
  echo: (_: CallContext, value: unknown) => value,
  threadId: (_: CallContext) => threadId,
  async count(context: CallContext, steps: number) {
    for (let i = 0; i < steps; i++) {
      if (context.signal.aborted) throw abortError('count cancelled');
      context.progress(i);
      await new Promise((r) => setTimeout(r, 5));
    }
    return steps;
  },
  async sleep(context: CallContext, ms: number) {
    // asynchronous, so it could look at its signal, but never does
    context.progress('started');
    await new Promise((r) => setTimeout(r, ms));
    return ms;
  },
  spin(context: CallContext) {
    context.progress('started');
    for (;;) {
      // synchronous work that never looks at its signal, like tsne-js
    }
  },
  fail(_: CallContext, message: string) {
    throw new RangeError(message);
  },
  die(_: CallContext) {
    process.exit(3);
  },
  ones: (_: CallContext, n: number) => {
    const values = new Float32Array(n).fill(1);
    return withTransfer({ values }, [values.buffer]);
  },
  sum: (_: CallContext, values: Float32Array) => values.reduce((a, b) => a + b, 0),
};

exposeRpc(testService, parentPort as unknown as Endpoint);
