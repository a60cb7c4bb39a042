import { threadId } from 'node:worker_threads';
import { registerKernel } from '../../src/compute/parallel/kernels';

/** A test kernel that writes, for each index, the id of the thread that computed it. */
export interface ThreadProbeInput {
  out: Int32Array;
}

declare module '../../src/compute/parallel/kernels' {
  interface KernelInputs {
    'thread-probe': ThreadProbeInput;
  }
}

registerKernel('thread-probe', ({ out }, start, end) => {
  for (let i = start; i < end; i++) out[i] = threadId;
});
