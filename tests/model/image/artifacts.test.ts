import { describe, expect, it } from 'vitest';
import { assembleArtifacts, artifactsFromFiles, ModelFileError } from '../../../src/model/image/artifacts';
import { ImageModel } from '../../../src/model/image/imageModel';
import { ModelUseError } from '../../../src/model/recordTable';
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

  const malformed: [string, (json: any) => void, RegExp][] = [
    ['a group without paths', (j) => delete j.weightsManifest[0].paths, /^model\.json: weightsManifest\[0\]\.paths: Invalid key: Expected "paths" but received undefined\.$/],
    ['paths given as one string', (j) => (j.weightsManifest[0].paths = 'weights.bin'), /^model\.json: weightsManifest\[0\]\.paths: Invalid type: Expected Array but received "weights\.bin"\.$/],
    ['a weight shape that is not a list', (j) => (j.weightsManifest[0].weights[0].shape = 'abc'), /weightsManifest\[0\]\.weights\[0\]\.shape: Invalid type: Expected Array/],
    ['a negative dimension', (j) => (j.weightsManifest[0].weights[1].shape = [-3]), /weightsManifest\[0\]\.weights\[1\]\.shape\[0\]: Invalid value: Expected >=0 but received -3/],
    ['an unknown dtype', (j) => (j.weightsManifest[0].weights[0].dtype = 'float64'), /weightsManifest\[0\]\.weights\[0\]\.dtype: Invalid type: Expected \("float32" \| .*\) but received "float64"/],
    ['a manifest that is not a list', (j) => (j.weightsManifest = { paths: [] }), /^model\.json: weightsManifest: Invalid type: Expected Array but received Object\.$/],
    ['metadata that is not an object', (j) => (j.userDefinedMetadata = 'labels'), /^model\.json: userDefinedMetadata: Invalid type: Expected an object but received "labels"\.$/],
  ];
  for (const [what, mutate, message] of malformed) {
    it(`refuses a model.json with ${what}, naming the field and what was expected`, async () => {
      const { json, weights } = asFiles(await smallCnnArtifacts());
      const bad = JSON.parse(json);
      mutate(bad);
      const error = await assembleArtifacts(JSON.stringify(bad), async () => weights.slice().buffer, 'model.json').catch((e) => e);
      expect(error).toBeInstanceOf(ModelFileError);
      expect(error.message).toMatch(message);
    });
  }

  it('refuses metadata it would misread (class names, preprocessing) before building the model', async () => {
    const artifacts = await smallCnnArtifacts();
    const load = (userDefinedMetadata: Record<string, {}>) => ImageModel.fromArtifacts({ ...artifacts, userDefinedMetadata }, 'small').catch((e) => e);
    const range = await load({ preprocessing: { range: 'bogus' } });
    expect(range).toBeInstanceOf(ModelUseError);
    expect(range.message).toMatch(/^Model "small", model\.json: userDefinedMetadata\.preprocessing\.range: Invalid type: Expected \("unit" \| "symmetric" \| "meanstd"\) but received "bogus"\.$/);
    expect((await load({ classNames: 'cat,dog,bird' })).message).toMatch(/userDefinedMetadata\.classNames: Invalid type: Expected Array but received "cat,dog,bird"/);
    expect((await load({ preprocessing: { range: 'meanstd', std: [0.2, 0, 0.2] } })).message).toMatch(/userDefinedMetadata\.preprocessing\.std\[1\]: Invalid value: Expected >0 but received 0/);
    const model = await ImageModel.fromArtifacts({ ...artifacts, userDefinedMetadata: { classNames: ['a', 'b', 3], preprocessing: { range: 'symmetric' }, author: 'kept' } }, 'small');
    expect([model.classNames, model.preprocessing.range]).toEqual([['a', 'b', '3'], 'symmetric']);
    model.dispose();
  });
});
