import type * as tf from '@tensorflow/tfjs';
import { abortError } from '../lib/abort';
import { artifactsFromFiles, artifactsFromUrl } from './image/artifacts';
import { BUILT_IN_MODEL_NAME, ImageModel } from './image/imageModel';
import { ImageSession } from './image/imageSession';
import type { LoadProgress, ModelSession, ModelSource, SessionDeps } from './session';
import { loadHubModel } from './text/hub';
import { BUILT_IN_TEXT_MODELS, TextModel, type BuiltInTextModel, type ModelFile } from './text/textModel';
import { TextSession } from './text/textSession';
import type { WeightCache } from './text/weightCache';

/** What opening a model needs besides the sessions' own needs: the built-in models and the hub cache. */
export interface OpenSessionDeps extends SessionDeps {
  /** The built-in image model's artifacts. */
  loadDefaultModel(): Promise<tf.io.ModelArtifacts>;
  /** The built-in text model's files (config.json, model.safetensors). */
  loadDefaultTextModel(size: BuiltInTextModel): Promise<ModelFile[]>;
  /** Where models fetched from the hub are kept, so the next load is offline; null: not kept. */
  weightCache(): WeightCache | null;
  /** A hash of an image model's weights, for icon cache keys. */
  hashWeights(model: ImageModel): Promise<string>;
}

export interface OpenOptions {
  signal: AbortSignal;
  onProgress: (progress: LoadProgress) => void;
}

const isTextCheckpointFile = (name: string) => /(^|\/)config\.json$|\.safetensors(\.index\.json)?$/.test(name);

/** A text model's files from the user's picks, as bytes: config.json, the safetensors and an index; nothing else is read. */
const modelFilesOf = (files: File[]): Promise<ModelFile[]> =>
  Promise.all(
    files
      .map((f) => ({ file: f, name: f.webkitRelativePath || f.name }))
      .filter(({ name }) => isTextCheckpointFile(name))
      .map(async ({ file, name }) => ({ name, bytes: new Uint8Array(await file.arrayBuffer()) })),
  );

/** GPT-2 sources: the built-in one, a hub id, or picked files with a config.json or safetensors among them. */
const isTextSource = (source: ModelSource) =>
  source.kind === 'default-text' || source.kind === 'hub' || (source.kind === 'files' && source.files.some((f) => isTextCheckpointFile(f.name)));

async function openText(source: ModelSource, deps: OpenSessionDeps, options: OpenOptions): Promise<{ model: TextModel; notices: string[] }> {
  if (source.kind === 'default-text') {
    const size = source.size ?? 'small';
    return { model: await TextModel.fromFiles(await deps.loadDefaultTextModel(size), BUILT_IN_TEXT_MODELS[size].name), notices: [] };
  }
  if (source.kind === 'files') {
    const name = source.files.find((f) => /config\.json$/.test(f.name))?.webkitRelativePath.split('/')[0] || 'GPT-2 (files)';
    return { model: await TextModel.fromFiles(await modelFilesOf(source.files), name), notices: [] };
  }
  if (source.kind !== 'hub') throw new Error(`A ${source.kind} source is not a text model.`);
  const load = await loadHubModel(source.id, {
    baseUrl: source.baseUrl,
    cache: deps.weightCache(),
    signal: options.signal,
    onProgress: (p) =>
      options.onProgress({
        done: p.loaded,
        total: p.total ?? 0,
        message: `${p.file}: ${(p.loaded / 1e6).toFixed(1)}${p.total ? ` of ${(p.total / 1e6).toFixed(1)}` : ''} MB`,
      }),
  });
  options.onProgress({ done: 1, total: 1, message: load.fromCache ? 'Read from this browser\'s storage; building the model…' : 'Building the model…' });
  return { model: await TextModel.fromFiles(load.files, source.id), notices: load.cacheWarning ? [load.cacheWarning] : [] };
}

async function openImage(source: ModelSource, deps: OpenSessionDeps, options: OpenOptions): Promise<ImageModel> {
  let found: { artifacts: tf.io.ModelArtifacts; name: string };
  const fetchCancellable: typeof fetch = (input, init) => fetch(input, { ...init, signal: options.signal });
  if (source.kind === 'files') found = await artifactsFromFiles(source.files);
  else if (source.kind === 'url') found = { artifacts: await artifactsFromUrl(source.url, fetchCancellable), name: source.url.split('/').slice(-2)[0] || source.url };
  else found = { artifacts: await deps.loadDefaultModel(), name: BUILT_IN_MODEL_NAME };
  // A download cut by the cancel reads as a failed fetch: say it was cancelled.
  if (options.signal.aborted) throw abortError();
  return ImageModel.fromArtifacts(found.artifacts, found.name);
}

/** Loads a model of either modality, by its source, as a session; `signal` cancels (nothing is kept then). */
export async function openSession(source: ModelSource, deps: OpenSessionDeps, options: OpenOptions): Promise<ModelSession> {
  let session: ModelSession;
  if (isTextSource(source)) {
    const { model, notices } = await openText(source, deps, options);
    session = new TextSession(model, deps, notices);
  } else session = new ImageSession(await openImage(source, deps, options), deps, deps.hashWeights);
  if (options.signal.aborted) {
    session.dispose();
    throw abortError();
  }
  return session;
}
