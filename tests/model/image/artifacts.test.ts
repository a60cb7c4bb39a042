import { describe, expect, it } from 'vitest';
import { assembleArtifacts, artifactsFromFiles, ModelFileError } from '../../../src/model/image/artifacts';
import { asFiles, smallCnnArtifacts } from '../helpers';

describe('model files', () => {
  it('assembles a model.json and its shard', async () => {
    const { json, weights } = asFiles(await smallCnnArtifacts());
    const artifacts = await assembleArtifacts(json, async (n) => (n === 'weights.bin' ? weights.slice().buffer : null), 'model.json');
    expect((artifacts.weightData as ArrayBuffer).byteLength).toBe(weights.byteLength);
    expect(artifacts.weightSpecs!.length).toBeGreaterThan(0);
  });

  it('names a missing shard', async () => {
    const { json } = asFiles(await smallCnnArtifacts());
    await expect(assembleArtifacts(json, async () => null, 'model.json')).rejects.toThrow(/"weights.bin" named in model.json is missing/);
  });

  it('names a short (truncated) shard with both sizes', async () => {
    const { json, weights } = asFiles(await smallCnnArtifacts());
    const error = await assembleArtifacts(json, async () => weights.slice(0, 100).buffer, 'model.json').catch((e) => e);
    expect(error).toBeInstanceOf(ModelFileError);
    expect(error.message).toMatch(/weights.bin is short: 100 bytes where model.json describes \d+/);
  });

  it('rejects a JSON that is not a model', async () => {
    await expect(assembleArtifacts('{"hello":1}', async () => null, 'x.json')).rejects.toThrow(/no "modelTopology"/);
    await expect(assembleArtifacts('{not json', async () => null, 'x.json')).rejects.toThrow(/not valid JSON/);
  });

  it('matches picked files by name, and says what is missing', async () => {
    const { json, weights } = asFiles(await smallCnnArtifacts());
    const jsonFile = new File([json], 'model.json');
    const shard = new File([weights.slice().buffer], 'weights.bin');
    const { artifacts, name } = await artifactsFromFiles([shard, jsonFile]);
    expect(name).toBe('model');
    expect((artifacts.weightData as ArrayBuffer).byteLength).toBe(weights.byteLength);
    await expect(artifactsFromFiles([jsonFile])).rejects.toThrow(/weights.bin.*missing/);
    await expect(artifactsFromFiles([shard])).rejects.toThrow(/No model.json/);
  });
});
