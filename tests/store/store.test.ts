import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_ATLAS_PARAMS, type Atlas } from '../../src/compute/atlas';
import type { TopInput } from '../../src/compute/types';
import { resetAtlasStore, useAtlasStore } from '../../src/store';
import { selectLevel, selectSelectedCell } from '../../src/store/selectors';

/** One input seen at three positions, all in one cell of the coarser level. */
const top: TopInput = { row: 0, input: 0, position: 0, score: 1 };
const atlas: Atlas = {
  modality: 'image',
  model: { name: 'tiny', kind: 'layers', inputHeight: 2, inputWidth: 2, inputChannels: 1, classNames: ['a'] },
  inputs: { names: ['a/0.png'], label: [0], predicted: [0], probability: [1], thumbnails: [''] },
  layer: { name: 'conv', shape: [1, 3, 1], dim: 1, positionShape: [1, 3] },
  params: DEFAULT_ATLAS_PARAMS,
  labelNames: ['a'],
  points: {
    input: Uint32Array.of(0, 0, 0),
    position: Int32Array.of(0, 1, 2),
    layoutX: Float32Array.of(0.06, 0.07, 0.08),
    layoutY: Float32Array.of(0.11, 0.12, 0.13),
    totalBeforeSampling: 3,
  },
  levels: [
    { size: 20, cells: [{ i: 1, j: 2, count: 3, mean: new Float32Array(1), labels: [[0, 3]], top: [top], exemplar: top }] },
    { size: 40, cells: [] },
  ],
  notices: [],
};

describe('the bound store', () => {
  beforeEach(resetAtlasStore);

  it('maps pipeline stages to the contract status', () => {
    const s = useAtlasStore.getState();
    s.runStarted();
    expect(useAtlasStore.getState().status).toBe('recording');
    s.runProgress({ stage: 'record', done: 1, total: 2 });
    expect(useAtlasStore.getState().status).toBe('recording');
    s.runProgress({ stage: 'project', done: 0, total: 2 });
    expect(useAtlasStore.getState().status).toBe('projecting');
    expect(Object.keys(useAtlasStore.getState().progress)).toEqual(['record', 'project']);
  });

  it('starts a new atlas at its coarsest level with a fresh view and no selection', () => {
    const s = useAtlasStore.getState();
    s.setViewState({ target: [1, 2, 0], zoom: 3 });
    s.selectCell({ gridSize: 40, i: 0, j: 0 });
    s.setAtlas(atlas, 'file');
    const after = useAtlasStore.getState();
    expect(after.gridSize).toBe(20);
    expect(after.viewState).toBeNull();
    expect(after.selected).toBeNull();
    expect(after.atlasVersion).toBe(1);
    expect(selectLevel(after)?.cells).toHaveLength(1);
  });

  it('finds the selected cell in its own level', () => {
    const s = useAtlasStore.getState();
    s.setAtlas(atlas, 'build');
    s.selectCell({ gridSize: 20, i: 1, j: 2 });
    s.setGridSize(40);
    expect(selectSelectedCell(useAtlasStore.getState())?.count).toBe(3);
  });

  it('records a failure as status error with a message in the error list', () => {
    useAtlasStore.getState().fail('bad.json', 'Not an atlas file.');
    const s = useAtlasStore.getState();
    expect(s.status).toBe('error');
    expect(s.error).toBe('bad.json: Not an atlas file.');
    expect(s.errors).toEqual([{ source: 'bad.json', message: 'Not an atlas file.' }]);
  });

  it('resets to the initial state between tests', () => {
    useAtlasStore.getState().setParams({ seed: 7 });
    resetAtlasStore();
    expect(useAtlasStore.getState().params.seed).toBe(0);
    expect(useAtlasStore.getState().atlasVersion).toBe(0);
  });
});
