import { classGradients } from '../directions/classGradients';
import { recordImageNeuronInputs } from '../directions/imageNeuronInputs';
import { defaultThreshold } from '../directions/polysemanticity';
import type { AtlasParams, AtlasRequest } from '../../compute/atlas';
import { NO_RECORDING, type ClassCapability, type GradientTarget, type ImageSource, type InputSet, type ModelSession, type SessionDeps, type SessionNeuronInputs, type StepOptions } from '../session';
import type { ImageModel } from './imageModel';
import { imageAblationTest, imageSteeringTest, layerMoments, splitImages, type LayerMoments, type SplitImages } from './intervention';
import { preparedInputs } from './modelInputs';
import type { RawImage } from './preprocess';
import { readAhead } from './readAhead';
import { recordActivations, recordImageAtlas, type ImageProvider } from './recordImages';

/** The most bytes of prepared images a steering or ablation holds (float32): 21,000 Fashion-MNIST images, 111 at 224 x 224 x 3. */
const INTERVENTION_IMAGE_BYTES = 64 * 2 ** 20;

/** Files read and decoded ahead of the recorder (a bound, whatever the folder's size: each is a file handle while it is read). */
const FILES_READ_AHEAD = 16;

/** The user's files as the recorder asks for them, one by one, a bounded few read ahead. */
function blobProvider(images: ImageSource[], decode: (blob: Blob) => Promise<RawImage>): ImageProvider {
  return readAhead({
    count: images.length,
    name: (i) => images[i].name,
    label: (i) => images[i].label,
    load: (i) => decode(images[i].blob),
  }, FILES_READ_AHEAD);
}

/** A CNN's side of the seam: images in, thumbnails as previews, class gradients, feature visualisation. */
export class ImageSession implements ModelSession {
  readonly modality = 'image';
  readonly defaultThreshold = defaultThreshold('image');
  readonly tokens = null;
  /** The last recording's inputs (by name: the table keeps only the inputs that recorded). */
  private recorded: { images: ImageProvider; names: string[] } | null = null;
  /** The last recording's images as the class interventions split them (a seed's), and the held-in half's moments at the last layer asked, kept between requests. */
  private split: { seed: number; images: SplitImages; moments: { layer: string; value: LayerMoments } | null } | null = null;

  constructor(
    readonly model: ImageModel,
    private readonly deps: SessionDeps,
    /** A hash of the model's weights (featureVis/fingerprint: the icon cache's key). */
    private readonly hashWeights: (model: ImageModel) => Promise<string>,
  ) {}

  describe(fingerprint: string) {
    return { ...this.model.info, modality: 'image' as const, layers: this.model.layers, defaultLayer: this.model.defaultLayer, fingerprint };
  }

  fingerprint(): Promise<string> {
    return this.hashWeights(this.model);
  }

  get hasRecording(): boolean {
    return this.recorded !== null;
  }

  layerShape(layer: string): number[] {
    return this.model.layer(layer).shape;
  }

  private imagesOf(inputs: InputSet): Promise<ImageProvider> | ImageProvider {
    if (inputs.kind === 'text') throw new Error('This is an image model: give it images, not text.');
    if (inputs.kind === 'sample') return this.deps.loadSample();
    const size = { width: this.model.inputWidth, height: this.model.inputHeight };
    return blobProvider(inputs.images, (blob) => this.deps.decodeImage(blob, size));
  }

  async record(inputs: InputSet, request: AtlasRequest, options: StepOptions) {
    const images = await this.imagesOf(inputs);
    const { thumbnails, ...recorded } = await recordImageAtlas(this.model, images, request, { encodePng: this.deps.encodePng, ...options });
    this.recorded = { images, names: recorded.names };
    this.split = null;
    const amount = { count: recorded.names.length, unit: 'images' as const };
    return { ...recorded, amount, visualisable: { model: this.model, layer: request.layer, thumbnails } };
  }

  async conceptActivations(inputs: InputSet, layer: string, params: Pick<AtlasParams, 'samplesPerInput' | 'seed'>, options: StepOptions) {
    if (inputs.kind !== 'images') throw new Error('This is an image model: a concept needs images.');
    const images = await this.imagesOf(inputs);
    return recordActivations(this.model, images, { layer, samplesPerInput: params.samplesPerInput, seed: params.seed, thumbnailSize: 1, ...options });
  }

  async gradients(
    request: { layer: string; target: GradientTarget; input: number[]; position: number[] },
    options: StepOptions & { pause(): Promise<void> },
  ) {
    const recorded = this.requireRecording();
    if (request.target.kind !== 'class') throw new Error('An image model\'s gradients are of a class: pick one.');
    const { layer, input, position } = request;
    const model = this.model;
    const dim = model.layer(layer).shape.at(-1)!;
    const classIndex = request.target.classIndex;
    const positions = model.layer(layer).positionShape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(input.length * dim);
    const distinct = [...new Set(input)];
    const rowsOf = new Map<number, number[]>();
    input.forEach((i, k) => {
      const rows = rowsOf.get(i);
      if (rows) rows.push(k);
      else rowsOf.set(i, [k]);
    });
    const chunk = 32;
    for (let start = 0; start < distinct.length; start += chunk) {
      await options.pause();
      const batch = distinct.slice(start, start + chunk);
      const prepared = await preparedInputs(model, recorded.images, recorded.names, batch);
      const all = await classGradients(model, layer, prepared, classIndex, { sites: 'all' });
      batch.forEach((inputIndex, b) => {
        for (const k of rowsOf.get(inputIndex)!) {
          const p = position[k];
          const row = out.subarray(k * dim, (k + 1) * dim);
          if (p >= 0) row.set(all.subarray((b * positions + p) * dim, (b * positions + p + 1) * dim));
          // A pooled row's gradient is the sum of its positions' (see classGradients).
          else for (let q = 0; q < positions; q++) for (let d = 0; d < dim; d++) row[d] += all[(b * positions + q) * dim + d];
        }
      });
      options.onProgress({ stage: 'gradients', done: Math.min(distinct.length, start + chunk), total: distinct.length });
    }
    return { gradients: out, dim, tokenId: null, target: model.classNames?.[classIndex] ?? `class ${classIndex}` };
  }

  async neuronInputs(layer: string, options: StepOptions): Promise<SessionNeuronInputs> {
    const { names } = this.requireRecording();
    const index = new Map(names.map((n, i) => [n, i]));
    const { provider, kept } = this.recordedInputs();
    const recorded = await recordImageNeuronInputs(this.model, provider, layer, options);
    return { recorded, inputOf: (w) => index.get(kept[w])!, notices: [...recorded.notices] };
  }

  /** The inputs the last recording kept (by name), as a provider that reads them again. */
  private recordedInputs(): { provider: ImageProvider; kept: string[] } {
    const { images, names } = this.requireRecording();
    const byName = new Map<string, number>();
    for (let i = images.count - 1; i >= 0; i--) byName.set(images.name(i), i);
    const kept = names.filter((n) => byName.has(n));
    const provider: ImageProvider = { count: kept.length, name: (i) => kept[i], label: (i) => images.label(byName.get(kept[i])!), load: (i) => images.load(byName.get(kept[i])!) };
    return { provider, kept };
  }

  /**
   * The recording's images (at most INTERVENTION_IMAGE_BYTES of them, prepared) split in halves, seeded: the held-in
   * half gives the layer's moments (α's unit, the units' means), the held-out half is measured. The split, and the
   * moments of the last layer asked (one layer's: a width x width matrix each), are kept for the next request with the
   * same seed (reading and preparing every image again is most of a request's time, a pass over the held-in half the
   * rest of its set-up).
   */
  private async interventionImages(layer: string, seed: number, signal?: AbortSignal) {
    if (this.split?.seed !== seed) {
      const size = this.model.inputHeight * this.model.inputWidth * this.model.inputChannels;
      const max = Math.max(4, Math.floor(INTERVENTION_IMAGE_BYTES / (4 * size)));
      // The old split goes first, so that two are never held at once (each up to INTERVENTION_IMAGE_BYTES).
      this.split = null;
      this.split = { seed, images: await splitImages(this.model, this.recordedInputs().provider, { heldOut: 0.5, seed, max, signal }), moments: null };
    }
    const split = this.split;
    if (split.moments?.layer !== layer) split.moments = { layer, value: layerMoments(this.model, layer, split.images.heldIn) };
    return { ...split.images, moments: split.moments.value };
  }

  readonly classes: ClassCapability = {
    steer: async (request, options) => {
      const layer = this.model.layer(request.layer).name;
      const { heldOut, moments } = await this.interventionImages(layer, request.seed, options.signal);
      return imageSteeringTest(this.model, layer, heldOut, request.direction, request.alpha, request.classIndex, { random: request.random, seed: request.seed, scale: moments, ...options });
    },
    ablate: async (request, options) => {
      const layer = this.model.layer(request.layer).name;
      const { heldOut, moments } = await this.interventionImages(layer, request.seed, options.signal);
      return imageAblationTest(this.model, layer, heldOut, heldOut.labels, request.target, request.mode, request.classIndex, { random: request.random, seed: request.seed, means: moments.means, ...options });
    },
  };

  private requireRecording() {
    if (!this.recorded) throw new Error(NO_RECORDING);
    return this.recorded;
  }

  dispose(): void {
    this.model.dispose();
  }
}
