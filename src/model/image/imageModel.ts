import * as tf from '@tensorflow/tfjs';
import * as v from 'valibot';
import type { ImageModelInfo } from '../../compute/atlas';
import { parseOrFail } from '../../lib/validate';
import { ModelUseError, type LayerInfo } from '../recordTable';
import type { Preprocessing } from './preprocess';

/** What the app and the CLI call the model in models/fashion-cnn. */
export const BUILT_IN_MODEL_NAME = 'fashion-cnn (built-in)';

/** Graph ops whose outputs are worth recording: convolutions, activations, pools, dense products. */
const RECORDABLE_OPS = new Set([
  'Conv2D',
  '_FusedConv2D',
  'DepthwiseConv2dNative',
  'FusedDepthwiseConv2dNative',
  'Relu',
  'Relu6',
  'Elu',
  'Selu',
  'Sigmoid',
  'Tanh',
  'Swish',
  'BiasAdd',
  'Add',
  'AddV2',
  'AvgPool',
  'MaxPool',
  'Mean',
  'MatMul',
  '_FusedMatMul',
  'ConcatV2',
  'Squeeze',
  'Softmax',
]);

const finite = v.pipe(v.number(), v.finite());

/** What this app reads from a model.json's userDefinedMetadata; other keys are left alone. */
const metadataSchema = v.looseObject({
  classNames: v.optional(v.array(v.union([v.string(), finite]))),
  preprocessing: v.optional(
    v.looseObject({
      range: v.optional(v.picklist(['unit', 'symmetric', 'meanstd'])),
      mean: v.optional(v.pipe(v.array(finite), v.minLength(1))),
      std: v.optional(v.pipe(v.array(v.pipe(finite, v.gtValue(0))), v.minLength(1))),
    }),
  ),
});

interface GraphNode {
  name: string;
  op: string;
  /** Inputs as "node", "node:k" (an output index) or "^node" (a control input). */
  input?: string[];
}

/** A loaded classifier with a uniform way to read any recordable layer and its class probabilities. */
export class ImageModel {
  readonly layers: LayerInfo[];
  readonly defaultLayer: string;
  private readonly subModels = new Map<string, tf.LayersModel>();
  private readonly cuts = new Map<string, { head: tf.LayersModel; tail: tf.LayersModel }>();
  /** How many times each layer is called in the model as loaded: a tail model (splitAt) adds calls of its own. */
  private readonly callsAtLoad = new Map<string, number>();

  private constructor(
    readonly name: string,
    readonly kind: 'layers' | 'graph',
    private readonly layersModel: tf.LayersModel | null,
    private readonly graphModel: tf.GraphModel | null,
    readonly inputHeight: number,
    readonly inputWidth: number,
    readonly inputChannels: number,
    layers: LayerInfo[],
    readonly classNames: string[] | null,
    readonly preprocessing: Preprocessing,
    private readonly outputIsProbability: boolean,
    /** Number of classes of the output, or 0 where the output is not a class vector. */
    readonly outputSize: number,
  ) {
    this.layers = layers;
    this.defaultLayer = pickDefaultLayer(layers);
    for (const layer of layersModel?.layers ?? []) this.callsAtLoad.set(layer.name, layer.inboundNodes.length);
  }

  /** Loads a layers or graph model from artifacts (the format is read from model.json). */
  static async fromArtifacts(
    artifacts: tf.io.ModelArtifacts,
    name: string,
    options: { classNames?: string[] | null; preprocessing?: Preprocessing; inputSize?: number } = {},
  ): Promise<ImageModel> {
    const { userDefinedMetadata: meta } = parseOrFail(
      v.object({ userDefinedMetadata: metadataSchema }),
      { userDefinedMetadata: artifacts.userDefinedMetadata ?? {} },
      (problems) => new ModelUseError(`Model "${name}", model.json: ${problems}.`),
    );
    const metaClasses = meta.classNames?.map(String) ?? null;
    const preprocessing: Preprocessing = options.preprocessing ?? { range: meta.preprocessing?.range ?? 'unit', mean: meta.preprocessing?.mean, std: meta.preprocessing?.std };
    const topology = artifacts.modelTopology as { node?: GraphNode[] } | undefined;
    const isGraph = artifacts.format === 'graph-model' || Array.isArray(topology?.node);
    if (isGraph) return ImageModel.fromGraph(artifacts, name, options.classNames ?? metaClasses, preprocessing, options.inputSize);
    let model: tf.LayersModel;
    try {
      model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    } catch (e) {
      throw new ModelUseError(`Could not build the layers model "${name}": ${(e as Error).message}`);
    }
    const inputShape = model.inputs[0].shape;
    const [h, w, c] = [inputShape[1], inputShape[2], inputShape[3]];
    if (model.inputs.length !== 1 || inputShape.length !== 4 || !h || !w || !c) {
      model.dispose();
      throw new ModelUseError(`Model "${name}" takes input ${JSON.stringify(inputShape)}; only one image input [batch, height, width, channels] is supported.`);
    }
    const layers: LayerInfo[] = [];
    for (const layer of model.layers) {
      if (layer.getClassName() === 'InputLayer') continue;
      let shape: tf.Shape;
      try {
        shape = (layer.output as tf.SymbolicTensor).shape;
      } catch {
        continue; // shared layers with several outputs cannot be read as one tensor
      }
      if (!Array.isArray(shape) || shape.some((d, i) => i > 0 && d == null)) continue;
      const dims = shape.slice(1) as number[];
      layers.push({ name: layer.name, shape: dims, positionShape: dims.slice(0, -1) });
    }
    const last = model.layers[model.layers.length - 1];
    const activation = (last.getConfig() as { activation?: string }).activation;
    const outShape = model.outputs[0].shape;
    const outputSize = outShape.length === 2 ? (outShape[1] ?? 0) : 0;
    const classNames = fitClassNames(options.classNames ?? metaClasses, outputSize);
    return new ImageModel(name, 'layers', model, null, h, w, c, layers, classNames, preprocessing, activation === 'softmax', outputSize);
  }

  private static async fromGraph(
    artifacts: tf.io.ModelArtifacts,
    name: string,
    classNames: string[] | null,
    preprocessing: Preprocessing,
    inputSize?: number,
  ): Promise<ImageModel> {
    let model: tf.GraphModel;
    try {
      model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
    } catch (e) {
      throw new ModelUseError(`Could not build the graph model "${name}": ${(e as Error).message}`);
    }
    if (model.inputs.length !== 1) {
      model.dispose();
      throw new ModelUseError(`Graph model "${name}" has ${model.inputs.length} inputs; only single-image models are supported.`);
    }
    const shape = model.inputs[0].shape ?? [-1, -1, -1, 3];
    const h = shape[1] && shape[1] > 0 ? shape[1] : (inputSize ?? 224);
    const w = shape[2] && shape[2] > 0 ? shape[2] : (inputSize ?? 224);
    const c = shape[3] && shape[3] > 0 ? shape[3] : 3;
    const nodes = ((artifacts.modelTopology as { node: GraphNode[] }).node ?? []).filter((n) => RECORDABLE_OPS.has(n.op));
    const outputName = model.outputs[0].name.replace(/:\d+$/, '');
    // Shapes are only known by running the graph once on a blank image.
    const names = nodes.map((n) => n.name);
    const layers: LayerInfo[] = [];
    const probe = tf.zeros([1, h, w, c]);
    let outputSize = 0;
    try {
      const outs = model.execute(probe, [...names, outputName]) as tf.Tensor[];
      const out = outs.pop()!;
      outputSize = out.rank === 2 ? out.shape[1]! : 0;
      out.dispose();
      outs.forEach((t, i) => {
        const dims = t.shape.slice(1);
        if (t.shape[0] === 1 && (dims.length === 1 || dims.length === 3)) layers.push({ name: names[i], shape: dims, positionShape: dims.slice(0, -1) });
      });
      tf.dispose(outs);
    } catch (e) {
      throw new ModelUseError(`Graph model "${name}" fails on a ${h}x${w}x${c} input: ${(e as Error).message}`);
    } finally {
      probe.dispose();
    }
    const outputOp = ((artifacts.modelTopology as { node: GraphNode[] }).node ?? []).find((n) => n.name === outputName)?.op;
    const model_ = new ImageModel(name, 'graph', null, model, h, w, c, layers, fitClassNames(classNames, outputSize), preprocessing, outputOp === 'Softmax', outputSize);
    model_.graphOutput = outputName;
    model_.graphNodes = new Map(((artifacts.modelTopology as { node: GraphNode[] }).node ?? []).map((n) => [n.name, (n.input ?? []).map((i) => i.replace(/^\^/, '').replace(/:\d+$/, ''))]));
    return model_;
  }

  private graphOutput = '';
  /** A graph model's nodes and the nodes each reads, for which layers its output depends on. */
  private graphNodes = new Map<string, string[]>();

  /** Whether a graph model's output is computed from `layer` (a node upstream of it). */
  private outputReads(layer: string): boolean {
    const seen = new Set<string>();
    const stack = [this.graphOutput];
    while (stack.length) {
      const node = stack.pop()!;
      if (node === layer) return true;
      if (seen.has(node)) continue;
      seen.add(node);
      stack.push(...(this.graphNodes.get(node) ?? []));
    }
    return false;
  }

  layer(name: string): LayerInfo {
    const info = this.layers.find((l) => l.name === name);
    if (!info) {
      const some = this.layers.slice(-5).map((l) => l.name).join(', ');
      throw new ModelUseError(`Layer "${name}" cannot be recorded in model "${this.name}"; recordable layers include: ${some}.`);
    }
    return info;
  }

  /**
   * Runs a batch [B, H, W, C] and returns the layer's output and class probabilities [B, K] (null without a
   * classifier output). The caller owns and disposes both.
   */
  run(batch: tf.Tensor4D, layerName: string): { activation: tf.Tensor; probabilities: tf.Tensor2D | null } {
    this.layer(layerName);
    this.checkInput(batch);
    const [activation, probabilities] = tf.tidy(() => {
      let activation: tf.Tensor;
      let output: tf.Tensor;
      if (this.layersModel) {
        const [a, o] = this.subModel(layerName).predict(batch) as tf.Tensor[];
        activation = a;
        output = o;
      } else {
        const [a, o] = this.graphModel!.execute(batch, [layerName, this.graphOutput]) as tf.Tensor[];
        activation = a;
        output = o;
      }
      const probabilities = output.rank === 2 ? (this.outputIsProbability ? output : tf.softmax(output)) : null;
      return probabilities ? [activation, probabilities] : [activation];
    });
    return { activation, probabilities: (probabilities as tf.Tensor2D | undefined) ?? null };
  }

  private checkInput(batch: tf.Tensor4D): void {
    const [, h, w, c] = batch.shape;
    if (h !== this.inputHeight || w !== this.inputWidth || c !== this.inputChannels) {
      throw new ModelUseError(
        `Input is ${h}x${w}x${c} but model "${this.name}" expects ${this.inputHeight}x${this.inputWidth}x${this.inputChannels}.`,
      );
    }
  }

  /**
   * The model cut at a layer, for interventions (issue 20): the layer's activation for a batch, and the class
   * probabilities the rest of the network computes from a value of that activation (the same weights). A graph
   * model is run on from the layer's node with the batch still fed at its input, so branches around the layer
   * (skip connections) see the image as they would; a layers model is rebuilt from the layer on, and refused where
   * a branch goes around it. `probabilitiesFrom` reads the batch: call it while the batch lives. The caller owns
   * what both return.
   */
  splitAt(batch: tf.Tensor4D, layerName: string): { activation: tf.Tensor; probabilitiesFrom: (value: tf.Tensor) => tf.Tensor2D } {
    this.layer(layerName);
    this.checkInput(batch);
    if (this.outputSize === 0) throw new ModelUseError(`Model "${this.name}" has no class output to read an intervention's effect on.`);
    const probabilities = (out: tf.Tensor) => (this.outputIsProbability ? out : tf.softmax(out)) as tf.Tensor2D;
    if (this.graphModel) {
      if (!this.outputReads(layerName)) throw new ModelUseError(`The output of model "${this.name}" does not depend on layer "${layerName}".`);
      const graph = this.graphModel;
      const input = graph.inputs[0].name;
      const activation = graph.execute(batch, layerName) as tf.Tensor;
      const probabilitiesFrom = (value: tf.Tensor) => tf.tidy(() => probabilities(graph.execute({ [input]: batch, [layerName]: value }, this.graphOutput) as tf.Tensor));
      return { activation, probabilitiesFrom };
    }
    const { head, tail } = this.cut(layerName);
    const activation = head.predict(batch) as tf.Tensor;
    const probabilitiesFrom = (value: tf.Tensor) => tf.tidy(() => probabilities(tail.predict(value) as tf.Tensor));
    return { activation, probabilitiesFrom };
  }

  /**
   * Input -> layer and layer -> output as two models sharing the loaded weights. The tail calls again every layer
   * downstream of the cut, in the loaded model's (topological) order; a model the layer does not cut (a later layer
   * also reads something computed before it, as a skip connection around it would) or whose downstream layers are
   * shared is refused rather than run wrong.
   */
  private cut(layerName: string): { head: tf.LayersModel; tail: tf.LayersModel } {
    const known = this.cuts.get(layerName);
    if (known) return known;
    const base = this.layersModel!;
    const layer = base.getLayer(layerName);
    const at = layer.output as tf.SymbolicTensor;
    const start = tf.input({ shape: at.shape.slice(1) as number[] });
    const replaced = new Map<number, tf.SymbolicTensor>([[at.id, start]]);
    for (const later of base.layers.slice(base.layers.indexOf(layer) + 1)) {
      const node = later.inboundNodes[0];
      const inputs = node.inputTensors.map((t) => replaced.get(t.id));
      if (inputs.every((t) => t === undefined)) continue;
      if ((this.callsAtLoad.get(later.name) ?? 1) > 1) {
        throw new ModelUseError(`Model "${this.name}" calls layer "${later.name}" more than once; interventions at "${layerName}" cannot split it.`);
      }
      const before = node.inputTensors.filter((_, k) => inputs[k] === undefined).map((t) => t.name);
      if (before.length) {
        throw new ModelUseError(
          `Layer "${layerName}" does not cut model "${this.name}": "${later.name}" also reads ${before.join(', ')}, computed before it, so the rest of the network cannot run from that layer alone.`,
        );
      }
      const out = later.apply(inputs.length === 1 ? inputs[0]! : (inputs as tf.SymbolicTensor[]), node.callArgs);
      const outs = Array.isArray(out) ? out : [out];
      node.outputTensors.forEach((t, k) => replaced.set(t.id, outs[k] as tf.SymbolicTensor));
    }
    const output = replaced.get(base.outputs[0].id);
    if (!output) throw new ModelUseError(`The output of model "${this.name}" does not depend on layer "${layerName}".`);
    const cut = { head: tf.model({ inputs: base.inputs, outputs: at }), tail: tf.model({ inputs: start, outputs: output }) };
    this.cuts.set(layerName, cut);
    return cut;
  }

  /** Class probabilities only, for classification checks. */
  classify(batch: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const out = this.layersModel
        ? (this.layersModel.predict(batch) as tf.Tensor)
        : (this.graphModel!.execute(batch, this.graphOutput) as tf.Tensor);
      return (this.outputIsProbability ? out : tf.softmax(out)) as tf.Tensor2D;
    });
  }

  /** A model from input to [layer, output], built once per layer (weights are shared, not copied). */
  private subModel(layerName: string): tf.LayersModel {
    let sub = this.subModels.get(layerName);
    if (!sub) {
      const base = this.layersModel!;
      const layer = base.getLayer(layerName);
      sub = tf.model({ inputs: base.inputs, outputs: [layer.output as tf.SymbolicTensor, base.outputs[0]] });
      this.subModels.set(layerName, sub);
    }
    return sub;
  }

  /** The model as an atlas describes it. */
  get info(): ImageModelInfo {
    const { name, kind, inputHeight, inputWidth, inputChannels, classNames } = this;
    return { name, kind, inputHeight, inputWidth, inputChannels, classNames };
  }

  /** The underlying TF.js model, for gradient work such as feature visualisation. */
  get tfModel(): tf.LayersModel | tf.GraphModel {
    return (this.layersModel ?? this.graphModel)!;
  }

  dispose(): void {
    this.subModels.clear();
    this.cuts.clear();
    this.layersModel?.dispose();
    this.graphModel?.dispose();
  }
}

/**
 * Class names that line up with the output: a list one short gains a leading "background" (as TF Hub's
 * 1001-way ImageNet classifiers expect); a list of any other wrong length is dropped rather than mislabelling.
 */
export function fitClassNames(names: string[] | null, outputSize: number): string[] | null {
  if (!names || outputSize === 0) return names;
  if (names.length === outputSize) return names;
  if (names.length === outputSize - 1) return ['background', ...names];
  return null;
}

/** The last spatial layer at least 3x3 (where an atlas is most telling), else the last vector layer. */
function pickDefaultLayer(layers: LayerInfo[]): string {
  const spatial = layers.filter((l) => l.positionShape.length === 2 && l.shape[0] >= 3 && l.shape[1] >= 3);
  if (spatial.length) return spatial[spatial.length - 1].name;
  const vectors = layers.filter((l) => l.positionShape.length === 0);
  return (vectors.length > 1 ? vectors[vectors.length - 2] : layers[layers.length - 1])?.name ?? '';
}
