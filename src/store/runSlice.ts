import type { StateCreator } from 'zustand';
import { DEFAULT_ATLAS_PARAMS, type AtlasParams } from '../compute/atlas';
import type { BuildResult, RecordingStats, Stage, StageProgress } from '../workers/protocol';
import type { AtlasStore } from './index';

/** What the app is doing, as the test contract (`window.__atlas.status`) reports it. */
export type AppStatus = 'idle' | 'loading' | 'recording' | 'projecting' | 'ready' | 'error';

export const STAGES: Stage[] = ['decode', 'record', 'project', 'grid', 'icons'];

/** The parameters the panels edit: exactly the atlas request's, so every one reaches the engines and the file. */
export type RunParams = AtlasParams;

export const DEFAULT_PARAMS: RunParams = DEFAULT_ATLAS_PARAMS;

/** A problem shown in the error list: which file or step, and what went wrong. */
export interface AppError {
  source: string;
  message: string;
}

/** A summary of the inputs the user gave (the files stay outside the store). */
export interface UserInputs {
  /** 'activations': a precomputed .npy, each row an input. */
  kind: 'images' | 'text' | 'activations';
  count: number;
  labels: string[];
}

export interface RunSlice {
  status: AppStatus;
  error: string | null;
  params: RunParams;
  /** Progress of the running build, by stage; null before a stage starts. */
  progress: Partial<Record<Stage, StageProgress>>;
  running: boolean;
  errors: AppError[];
  /** Images the user dropped or picked (the files stay outside the store); null: the bundled sample. */
  userInputs: UserInputs | null;
  sampling: BuildResult['sampling'];
  /** The last build's recording: its rate and a digest of its rows; null before one finished, or for precomputed activations. */
  recordingStats: RecordingStats | null;
  /** What the last build wants the user to know that is not an error. */
  notices: string[];
  setParams: (params: Partial<RunParams>) => void;
  setStatus: (status: AppStatus) => void;
  setUserInputs: (inputs: UserInputs | null) => void;
  runStarted: () => void;
  runProgress: (progress: StageProgress) => void;
  /** Intermediate layouts shown while the projection settles, in this run. */
  previewFrames: number;
  layoutPreviewed: () => void;
  runSucceeded: (result: Pick<BuildResult, 'sampling' | 'recordingStats'>, notices: string[]) => void;
  /** What the user should know about the atlas on screen (e.g. pictures dropped from an opened file). */
  showNotices: (notices: string[]) => void;
  setRunning: (running: boolean) => void;
  /** The last request failed as a whole: status 'error', and the reason in the error list. */
  fail: (source: string, message: string) => void;
  addErrors: (errors: AppError[]) => void;
  clearErrors: () => void;
}

const statusOfStage = (stage: Stage): AppStatus => (stage === 'decode' || stage === 'record' ? 'recording' : 'projecting');

export const createRunSlice: StateCreator<AtlasStore, [], [], RunSlice> = (set) => ({
  status: 'idle',
  error: null,
  params: DEFAULT_PARAMS,
  progress: {},
  running: false,
  errors: [],
  userInputs: null,
  sampling: null,
  recordingStats: null,
  notices: [],
  setParams: (params) => set((s) => ({ params: { ...s.params, ...params } })),
  setStatus: (status) => set({ status, ...(status === 'error' ? {} : { error: null }) }),
  setUserInputs: (userInputs) => set({ userInputs }),
  runStarted: () => set({ running: true, progress: {}, status: 'recording', error: null, sampling: null, recordingStats: null, notices: [], previewFrames: 0 }),
  previewFrames: 0,
  layoutPreviewed: () => set((s) => ({ previewFrames: s.previewFrames + 1 })),
  runProgress: (p) => set((s) => ({ progress: { ...s.progress, [p.stage]: p }, status: statusOfStage(p.stage) })),
  runSucceeded: ({ sampling, recordingStats }, notices) =>
    set((s) => ({
      sampling,
      recordingStats,
      notices,
      // Stages report progress in steps; a finished build has finished every stage it started.
      progress: Object.fromEntries(Object.entries(s.progress).map(([k, p]) => [k, { ...p, done: p.total }])),
    })),
  showNotices: (notices) => set({ notices }),
  setRunning: (running) => set({ running }),
  fail: (source, message) =>
    set((s) => ({ status: 'error', error: `${source}: ${message}`, errors: [...s.errors, { source, message }] })),
  addErrors: (errors) => set((s) => ({ errors: [...s.errors, ...errors] })),
  clearErrors: () => set({ errors: [] }),
});
