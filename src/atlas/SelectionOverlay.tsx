import { useRef, useState, type PointerEvent } from 'react';
import type { SelectionMode } from '../store/selectionSlice';

/** The mode a drag's modifier keys ask for: shift adds, alt removes, neither replaces. */
const modeOf = (e: { shiftKey: boolean; altKey: boolean }): SelectionMode => (e.altKey ? 'remove' : e.shiftKey ? 'add' : 'replace');

/**
 * Draws a lasso or a box over the atlas while the pointer is down, and hands the finished shape over in
 * canvas pixels; the view maps it to the layout. It covers the canvas only while a selection tool is on.
 */
export function SelectionOverlay({ tool, onShape }: { tool: 'lasso' | 'box'; onShape: (shape: [number, number][], mode: SelectionMode) => void }) {
  const [shape, setShape] = useState<[number, number][] | null>(null);
  const start = useRef<[number, number] | null>(null);
  const at = (e: PointerEvent<SVGSVGElement>): [number, number] => {
    const rect = e.currentTarget.getBoundingClientRect();
    return [e.clientX - rect.left, e.clientY - rect.top];
  };
  const boxOf = ([x0, y0]: [number, number], [x1, y1]: [number, number]): [number, number][] => [
    [x0, y0],
    [x1, y0],
    [x1, y1],
    [x0, y1],
  ];
  return (
    <svg
      className={`selection-overlay ${tool}`}
      data-testid="selection-overlay"
      onPointerDown={(e) => {
        e.currentTarget.setPointerCapture(e.pointerId);
        start.current = at(e);
        setShape([start.current]);
      }}
      onPointerMove={(e) => {
        if (!start.current) return;
        const p = at(e);
        setShape((s) => (tool === 'box' ? boxOf(start.current!, p) : [...(s ?? []), p]));
      }}
      onPointerUp={(e) => {
        const done = tool === 'box' && start.current ? boxOf(start.current, at(e)) : shape;
        start.current = null;
        setShape(null);
        if (done && done.length >= 3) onShape(done, modeOf(e));
      }}
    >
      {shape && shape.length > 1 && <polygon points={shape.map(([x, y]) => `${x},${y}`).join(' ')} />}
    </svg>
  );
}
