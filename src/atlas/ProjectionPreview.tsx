import { useEffect, useRef } from 'react';
import type { LayoutPreview } from '../workers/protocol';
import { normaliseLayout } from '../compute/grid';
import { labelColor } from './cellStyle';

/**
 * The layout as the projection settles, drawn as points on a 2-D canvas over the atlas pane while the
 * projection runs; the zoomable atlas replaces it once the grid is built.
 */
export function ProjectionPreview({ preview }: { preview: LayoutPreview }) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = canvasRef.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return;
    const { width, height } = canvas.getBoundingClientRect();
    canvas.width = Math.max(1, Math.round(width));
    canvas.height = Math.max(1, Math.round(height));
    const side = Math.min(canvas.width, canvas.height) - 32;
    const x0 = (canvas.width - side) / 2;
    const y0 = (canvas.height - side) / 2;
    const points = normaliseLayout(preview.layout);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const n = points.length / 2;
    const radius = n > 20_000 ? 1 : 1.5;
    for (let p = 0; p < n; p++) {
      const [r, g, b] = labelColor(preview.groups[p] ?? 0);
      ctx.fillStyle = `rgba(${r},${g},${b},0.7)`;
      ctx.fillRect(x0 + points[2 * p] * side - radius, y0 + points[2 * p + 1] * side - radius, 2 * radius, 2 * radius);
    }
  }, [preview]);
  return <canvas ref={canvasRef} className="projection-preview" data-testid="projection-preview" />;
}
