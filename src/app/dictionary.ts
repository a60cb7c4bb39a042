import type { Atlas } from '../compute/atlas';
import { downloadBlob, fileSlug } from '../export/download';
import { latentAtlasFiles, type LatentExamples } from '../export/latentAtlasFiles';
import { isAbortError } from '../lib/abort';
import { messageOf } from '../lib/errors';
import { wholeNumber } from '../lib/validate';
import { SAE_CFG_FILE, SAE_WEIGHTS_FILE } from '../model/sae/saelens';
import type { DictionaryTasks } from '../panels/dictionaryTasks';
import type { useAtlasStore } from '../store';
import type { BuildRef, DictionaryTarget, LatentTop, RowsLatent, SaeSummary, SaeTaskProgress, SaeTrainRequest, WaitProgress } from '../workers/protocol';
import { openLatentAtlasTab } from './latentAtlasTab';
import type { AtlasPipeline } from './pipeline';

type Store = typeof useAtlasStore;

/** Contexts of a text atlas the SAE's loss recovered is measured on at each training epoch's end. */
const EPOCH_LOSS_CONTEXTS = 8;

/**
 * The dictionary panel's work: train a sparse autoencoder on the atlas's rows in the model worker (a live curve,
 * cancellable), open and save SAELens's files, and each latent's top rows. Each task reports through the store's
 * `saeTask`; a failure is a message there, and the atlas and the SAE on screen stay. An answer about an atlas
 * that has since been replaced is dropped.
 */
export class DictionaryController implements DictionaryTasks {
  private running: AbortController | null = null;

  constructor(
    private readonly store: Store,
    private readonly pipeline: () => Promise<AtlasPipeline>,
    /** The workers' copy of the atlas on screen; null for an atlas opened from a file. */
    private readonly live: () => BuildRef | null,
  ) {}

  private layout(): number {
    const ref = this.live();
    if (!ref) throw new Error('an SAE trains on the activations of an atlas built in this session: build it first.');
    return ref.layout;
  }

  private target(atlas: Atlas): Omit<DictionaryTarget, 'width'> {
    return { layer: atlas.layer.name, modality: atlas.modality, modelName: atlas.model.name };
  }

  /** Runs a task that ends in a new SAE; its progress feeds the curve, and its end names how it ended. */
  private async task(kind: 'train' | 'open', work: (layout: number, atlas: Atlas, signal: AbortSignal, onProgress: (p: SaeTaskProgress | WaitProgress) => void) => Promise<SaeSummary>): Promise<void> {
    const s = this.store.getState();
    const version = s.atlasVersion;
    const current = () => this.store.getState().atlasVersion === version;
    this.running?.abort();
    const abort = new AbortController();
    this.running = abort;
    const name = kind === 'train' ? 'Training the SAE' : 'Opening the SAE';
    const report = (message: string, fraction: number) => {
      if (current() && this.running === abort) this.store.getState().setSaeTask({ kind, status: 'running', message, fraction });
    };
    report(`${name}…`, 0);
    if (kind === 'train') s.startSaeRun();
    try {
      const atlas = s.atlas;
      if (!atlas) throw new Error('no atlas is open.');
      const summary = await work(this.layout(), atlas, abort.signal, (p) => {
        if (!current()) return;
        if (p.stage === 'waiting') report(`${name}: ${p.message}`, 0);
        else if (p.stage === 'measure') report(`Measuring every row: ${p.done.toLocaleString('en')} of ${p.total.toLocaleString('en')}…`, p.done / p.total);
        else if (p.stage === 'epoch-loss') {
          if (this.running === abort) this.store.getState().addSaeEpochLoss(p.epoch, p.loss);
        } else {
          const { stage: _, ...span } = p;
          if (this.running !== abort) return;
          const message = `${name}: epoch ${span.epoch + 1}, ${span.rowsSeen.toLocaleString('en')} of ${span.totalRows.toLocaleString('en')} rows…`;
          this.store.getState().addSaeProgress(span, { kind, status: 'running', message, fraction: span.rowsSeen / span.totalRows });
        }
      });
      if (!current()) return;
      this.store.getState().setSaeSummary(summary);
      if (kind === 'train') this.store.getState().endSaeRun('done');
      this.store.getState().setSaeTask(null);
    } catch (e) {
      // A task replaced by a newer one, or about an atlas no longer on screen, leaves the state to what replaced it.
      if (!current() || this.running !== abort) return;
      if (kind === 'train' && isAbortError(e)) this.store.getState().endSaeRun('cancelled');
      this.store.getState().setSaeTask(isAbortError(e) ? null : { kind, status: 'error', message: `${name}: ${messageOf(e)}`, fraction: 0 });
    } finally {
      if (this.running === abort) this.running = null;
    }
  }

  /** Trains an SAE on the atlas's rows with the panel's settings; on a GPT-2 layer, its loss recovered follows each epoch. */
  train(request: SaeTrainRequest): Promise<void> {
    return this.task('train', async (layout, atlas, signal, onProgress) => {
      const recording = this.live()?.recording;
      const epochLoss = atlas.modality === 'text' && recording !== undefined ? { of: recording, contexts: EPOCH_LOSS_CONTEXTS } : null;
      return (await this.pipeline()).trainSae(layout, this.target(atlas), request, epochLoss, signal, onProgress);
    });
  }

  /** Opens SAELens's two files (cfg.json and the .safetensors) for the atlas's layer. */
  open(files: File[]): Promise<void> {
    return this.task('open', async (layout, atlas, signal, onProgress) => {
      const cfg = files.find((f) => /\.json$/i.test(f.name));
      const weights = files.find((f) => /\.safetensors$/i.test(f.name));
      if (!cfg || !weights || files.length !== 2) {
        throw new Error(`pick the SAE's two files, ${SAE_CFG_FILE} and ${SAE_WEIGHTS_FILE} (a .json and a .safetensors); got ${files.map((f) => f.name).join(', ') || 'none'}.`);
      }
      const opened = { cfg: await cfg.text(), weights: new Uint8Array(await weights.arrayBuffer()) };
      return (await this.pipeline()).openSae(layout, this.target(atlas), opened, signal, onProgress);
    });
  }

  /** Downloads the SAE held as SAELens's two files, named after the atlas's model and layer. */
  async save(): Promise<void> {
    const atlas = this.store.getState().atlas;
    if (!atlas) return;
    try {
      const files = await (await this.pipeline()).saveSae(this.layout());
      const stem = `sae-${fileSlug(atlas.model.name)}-${fileSlug(atlas.layer.name)}`;
      downloadBlob(new Blob([files.cfg], { type: 'application/json' }), `${stem}-${SAE_CFG_FILE}`);
      downloadBlob(new Blob([files.weights as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }), `${stem}-${SAE_WEIGHTS_FILE}`);
    } catch (e) {
      this.store.getState().setSaeTask({ kind: 'save', status: 'error', message: `Saving the SAE: ${messageOf(e)}`, fraction: 0 });
    }
  }

  /**
   * The held SAE's latents by polysemanticity over the atlas's rows (a cosine threshold, or null for the modality's;
   * clusters of at least `minMembers`), with progress; a failure is the task's message, and the SAE stays.
   */
  async latentPolysemanticity(threshold: number | null, minMembers: number): Promise<void> {
    await this.measure('polysemanticity', "Measuring the latents' polysemanticity", 'latents', async (pipeline, signal, onProgress) => {
      if (threshold !== null && !(threshold >= -1 && threshold <= 1)) throw new Error(`the threshold is a cosine similarity, from -1 to 1; got ${threshold}.`);
      if (!Number.isInteger(minMembers) || minMembers < 1) throw new Error(`m is a whole number of examples, at least 1; got ${minMembers}.`);
      const measured = await pipeline.saePolysemanticity(this.layout(), threshold, minMembers, signal, onProgress);
      return () => this.store.getState().setSaePolysemanticity(measured);
    });
  }

  /** A GPT-2 layer's SAE spliced in for the layer over the atlas's first contexts: the loss clean, spliced and zero-ablated. */
  async lossRecovered(contexts: string): Promise<void> {
    await this.measure('loss', 'Measuring the loss recovered', 'contexts', async (pipeline, signal, onProgress) => {
      if (this.store.getState().atlas?.modality !== 'text') throw new Error('loss recovered is measured on a GPT-2 layer: the next-token loss of its texts.');
      const count = wholeNumber(contexts, 'Contexts', 1);
      const ref = this.live();
      if (!ref) throw new Error('the loss is measured on the texts of an atlas built in this session: build it first.');
      const measured = await pipeline.saeLossRecovered(ref.recording, ref.layout, count, signal, onProgress);
      return () => this.store.getState().setSaeLossRecovered(measured);
    });
  }

  /**
   * A measure of the held SAE with progress in the store's `saeTask` (its count of `unit`s); `work` returns how to
   * store its answer, applied only while the atlas and the SAE it was asked about are on screen. A failure is the
   * task's message, and the SAE stays.
   */
  private async measure(
    kind: 'polysemanticity' | 'loss',
    name: string,
    unit: string,
    work: (pipeline: AtlasPipeline, signal: AbortSignal, onProgress: (p: SaeTaskProgress | WaitProgress) => void) => Promise<() => void>,
  ): Promise<void> {
    const s = this.store.getState();
    const version = s.atlasVersion;
    const digest = s.saeSummary?.digest;
    const current = () => this.store.getState().atlasVersion === version && this.store.getState().saeSummary?.digest === digest;
    this.running?.abort();
    const abort = new AbortController();
    this.running = abort;
    const report = (message: string, fraction: number) => current() && this.store.getState().setSaeTask({ kind, status: 'running', message, fraction });
    report(`${name}…`, 0);
    try {
      const store = await work(await this.pipeline(), abort.signal, (p) => {
        if (p.stage === 'waiting') report(`${name}: ${p.message}`, 0);
        else if (p.stage === 'measure') report(`${name}: ${p.done.toLocaleString('en')} of ${p.total.toLocaleString('en')} ${unit}…`, p.done / p.total);
      });
      if (!current()) return;
      store();
      this.store.getState().setSaeTask(null);
    } catch (e) {
      if (!current() || this.running !== abort) return;
      this.store.getState().setSaeTask(isAbortError(e) ? null : { kind, status: 'error', message: `${name}: ${messageOf(e)}`, fraction: 0 });
    } finally {
      if (this.running === abort) this.running = null;
    }
  }

  /** A latent's top rows (the atlas's points) and directions. */
  async latentTop(latent: number): Promise<LatentTop> {
    return (await this.pipeline()).saeLatentTop(this.layout(), latent);
  }

  /**
   * Opens the held SAE's latent atlas in a new tab: its live latents laid out by their unit decoder rows, each named by
   * its top rows' tokens (text) or labels (images), as `npm run sae -- --latent-atlas` makes it. This tab stays as it is.
   */
  async openLatentAtlas(): Promise<void> {
    const { atlas, saeSummary } = this.store.getState();
    if (!atlas || !saeSummary) return;
    try {
      const source = await (await this.pipeline()).saeLatentAtlasSource(this.layout());
      const example = topExample(atlas);
      const latents: LatentExamples[] = Array.from({ length: saeSummary.config.dSae }, (_, i) => ({
        index: i,
        frequency: saeSummary.measures.frequency[i],
        topExamples: Array.from(source.topRows.subarray(source.topStart[i], source.topStart[i + 1]), example),
      }));
      if (!(await openLatentAtlasTab(latentAtlasFiles(source.decoder, saeSummary.config.dIn, latents)))) throw new Error('the browser blocked the new tab; allow pop-ups for this page.');
    } catch (e) {
      this.store.getState().setSaeTask({ kind: 'atlas', status: 'error', message: `The latent atlas: ${messageOf(e)}`, fraction: 0 });
    }
  }

  /** The held SAE's `k` strongest latents over the given points of the atlas (a cell's). */
  async strongestLatents(points: Int32Array, k: number): Promise<RowsLatent[]> {
    return (await this.pipeline()).saeStrongestLatents(this.layout(), points, k);
  }

  /** Stops the training or opening under way; the SAE held before stays. */
  cancel(): void {
    this.running?.abort();
  }
}

/** What names a latent by one of its top rows (an atlas point): the token there (text) or the input's label (images). */
function topExample(atlas: Atlas): (row: number) => LatentExamples['topExamples'][number] {
  const { input, position } = atlas.points;
  if (atlas.modality === 'text') return (row) => ({ token: atlas.inputs.tokens[input[row]][position[row]] });
  return (row) => {
    const label = atlas.inputs.label[input[row]];
    return { label: label >= 0 && label < atlas.labelNames.length ? atlas.labelNames[label] : null };
  };
}
