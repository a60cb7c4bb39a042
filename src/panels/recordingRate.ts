import type { BackendInfo, RecordingStats } from '../workers/protocol';

/** The line that reports a build's recording, e.g. "Recorded 1,234 tokens in 2.1 s (590 tokens/s), wasm, 2 threads". */
export function recordingRateLine(stats: RecordingStats, backend: BackendInfo | null): string {
  const { count, unit, seconds } = stats;
  const rate = seconds > 0 ? ` (${Math.round(count / seconds).toLocaleString('en')} ${unit}/s)` : '';
  const time = seconds < 1 ? seconds.toFixed(2) : seconds.toFixed(1);
  const threads = backend?.name === 'wasm' ? `, ${backend.threads} thread${backend.threads === 1 ? '' : 's'}` : '';
  const on = backend ? `, ${backend.name}${threads}` : '';
  return `Recorded ${count.toLocaleString('en')} ${unit} in ${time} s${rate}${on}`;
}
