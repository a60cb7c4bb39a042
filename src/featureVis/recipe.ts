import type { VisualiseOptions } from './optimise';

/** How much work an atlas icon gets: a user's choice between waiting and legibility. */
export const ICON_QUALITIES = ['fast', 'standard', 'best'] as const;
export type IconQuality = (typeof ICON_QUALITIES)[number];

/** The settings a quality fixes; the rest (whitening, colour basis) come from the recording. */
export type IconRecipe = Required<Pick<VisualiseOptions, 'steps' | 'learningRate' | 'decayPower' | 'site'>> & {
  /** Side of the optimised icon, at most the model's input. */
  size: number;
};

/**
 * The recipe chosen by issue 21's study (bench/results/featvis-study-2026-12-06.txt, judged by recognisability,
 * contrast and colourfulness against the dataset's crops, and by eye): the direction asked of the layer's vectors
 * averaged over the whole icon rather than at its centre, which fills the frame with the feature instead of a busy
 * centre in a grey halo, and a steeper 1/f spectrum (1.25), which trades high-frequency texture for shapes.
 * The qualities differ in steps and icon size only.
 */
const RECIPES: Record<IconQuality, IconRecipe> = {
  fast: { steps: 64, learningRate: 0.05, decayPower: 1.25, site: 'pooled', size: 64 },
  standard: { steps: 256, learningRate: 0.05, decayPower: 1.25, site: 'pooled', size: 96 },
  best: { steps: 512, learningRate: 0.05, decayPower: 1.25, site: 'pooled', size: 128 },
};

/** The recipe of `quality` for a model whose input is `inputSide` pixels on its shorter side. */
export function iconRecipe(quality: IconQuality, inputSide: number): IconRecipe {
  const recipe = RECIPES[quality];
  return { ...recipe, size: Math.min(recipe.size, inputSide) };
}
