import { describe, expect, it } from 'vitest';
import { stepView } from '../../src/atlas/viewSteps';

const fitted = { target: [512, 512, 0] as [number, number, number], zoom: -0.5 };

describe('stepView', () => {
  it('zooms by a factor of two per step, within fit - 2 and fit + 6', () => {
    expect(stepView(fitted, 'zoomIn', fitted).zoom).toBe(0.5);
    expect(stepView({ ...fitted, zoom: 5.4 }, 'zoomIn', fitted).zoom).toBe(5.5);
    expect(stepView({ ...fitted, zoom: -2.4 }, 'zoomOut', fitted).zoom).toBe(-2.5);
  });

  it('pans a fixed number of screen pixels whatever the zoom', () => {
    const near = stepView({ ...fitted, zoom: 2 }, 'right', fitted);
    const far = stepView({ ...fitted, zoom: 0 }, 'right', fitted);
    expect((far.target[0] - 512) / (near.target[0] - 512)).toBeCloseTo(4);
  });

  it('goes back to the fitted view', () => {
    expect(stepView({ target: [0, 0, 0], zoom: 3 }, 'fit', fitted)).toEqual(fitted);
  });
});
