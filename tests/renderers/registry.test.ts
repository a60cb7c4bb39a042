import { describe, expect, it } from 'vitest';
import type { AtlasOf } from '../../src/compute/atlas';
import { rendererOf, rendererOfInputs } from '../../src/renderers';

/** Just the columns the direction tasks read: 6 inputs, predicted classes 0,0,1,1,1,2; 12 points, two per input. */
const imageAtlas = {
  modality: 'image',
  model: { classNames: ['a', 'b', 'c'] },
  inputs: { label: [-1, -1, -1, -1, -1, -1], predicted: [0, 0, 1, 1, 1, 2] },
  points: { input: [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5], position: [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1] },
} as unknown as AtlasOf<'image'>;
const textAtlas = { ...imageAtlas, modality: 'text', model: { classNames: null } } as unknown as AtlasOf<'text'>;

describe('the renderer registry: what differs between modalities on the page', () => {
  it('finds the renderer of a modality and of the inputs its models take', () => {
    expect(rendererOfInputs('images')).toBe(rendererOf('image'));
    expect(rendererOfInputs('text')).toBe(rendererOf('text'));
    expect(rendererOf('image').featureVisualisation).toBe(true);
    expect(rendererOf('text').featureVisualisation).toBe(false);
    expect(rendererOf('text').DirectionOutputs).toBeDefined();
  });

  it("reads TCAV's field: classes or auto for images, next tokens for text", () => {
    const image = rendererOf('image').directions.tcavField;
    expect(image.parse('')).toBe('auto');
    expect(image.parse(' auto ')).toBe('auto');
    expect(image.parse('0, 3,7')).toEqual([0, 3, 7]);
    expect(rendererOf('text').directions.tcavField.parse('whale, "ing"')).toEqual([' whale', 'ing']);
  });

  it("picks TCAV's tests: an image class on the inputs predicted as it, a next token on sampled token points", () => {
    const image = rendererOf('image').directions;
    expect(image.tcavTests(imageAtlas, [1]).map((t) => [t.name, t.input, t.position])).toEqual([['b', [2, 3, 4], [-1, -1, -1]]]);
    expect(image.tcavTests(imageAtlas, 'auto').map((t) => t.name)).toEqual(['b', 'a', 'c']);
    expect(() => image.tcavTests(imageAtlas, [3])).toThrow(/3 is not a class of this model \(0 to 2\)/);
    const text = rendererOf('text').directions;
    expect(() => text.tcavTests(textAtlas, [])).toThrow(/name the next token/);
    const [whale] = text.tcavTests(textAtlas, [' whale', ' whale']);
    expect(whale.target).toEqual({ kind: 'token', text: ' whale' });
    expect(whale.input).toEqual(textAtlas.points.input);
    expect(whale.position).toEqual(textAtlas.points.position);
  });

  it('gives the class filter its target and points, and Network Dissection its labels', () => {
    const image = rendererOf('image').directions;
    expect(image.classTarget('2')).toEqual({ kind: 'class', classIndex: 2 });
    expect(image.classFilterPoints(imageAtlas)).toEqual([...Array(12).keys()]);
    expect(image.hasTargets(imageAtlas)).toBe(true);
    expect(image.hasTargets({ ...imageAtlas, model: { ...imageAtlas.model, classNames: null } })).toBe(false);
    const labels = image.pointLabels(imageAtlas);
    expect(labels.described).toBe('predicted classes');
    expect(Array.from(labels.labels as Int32Array)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2]);
    const text = rendererOf('text').directions;
    expect(text.classTarget('whale')).toEqual({ kind: 'token', text: ' whale' });
    expect(text.pointLabels(textAtlas)).toEqual({ labels: 'key', described: 'the recorded token' });
  });
});
