/**
 * SAELens names the activation an SAE reads by its TransformerLens hook (`blocks.L.hook_resid_post`); this tool
 * names GPT-2's recordable layers h.L (residual stream after block L), h.L.attn (attention output after c_proj)
 * and h.L.mlp.act (MLP neurons after GELU). Image-model layers keep their own names in hook_name.
 */
import type { Modality } from '../../compute/atlas';

const GPT2_LAYER = /^h\.(\d+)(\.attn|\.mlp\.act)?$/;
const TRANSFORMER_LENS_HOOK = /^blocks\.(\d+)\.(.+)$/;

/** A hook with no recordable layer here. */
export class UnmappedHookError extends Error {
  override name = 'UnmappedHookError';
}

/** SAELens's hook_name for one of this tool's layers. */
export function hookNameOfLayer(layer: string, modality: Modality): string {
  const match = modality === 'text' ? GPT2_LAYER.exec(layer) : null;
  if (!match) return layer;
  const block = match[1];
  if (match[2] === '.attn') return `blocks.${block}.hook_attn_out`;
  if (match[2] === '.mlp.act') return `blocks.${block}.mlp.hook_post`;
  return `blocks.${block}.hook_resid_post`;
}

/** This tool's layer for SAELens's hook_name; throws UnmappedHookError for a GPT-2 hook no layer here records. */
export function layerOfHookName(hookName: string, modality: Modality): string {
  const match = modality === 'text' ? TRANSFORMER_LENS_HOOK.exec(hookName) : null;
  if (!match) return hookName;
  const block = Number(match[1]);
  const hook = match[2];
  switch (hook) {
    case 'hook_resid_post':
      return `h.${block}`;
    case 'hook_resid_pre':
      if (block > 0) return `h.${block - 1}`;
      throw new UnmappedHookError(`${hookName} is the embeddings (token plus position), which are not a recordable layer here; the residual stream is recorded after each block (h.L, SAELens's blocks.L.hook_resid_post).`);
    case 'hook_attn_out':
      return `h.${block}.attn`;
    case 'mlp.hook_post':
      return `h.${block}.mlp.act`;
    case 'hook_mlp_out':
      throw new UnmappedHookError(`${hookName} is the MLP's output after c_proj, which is not a recordable layer here; the MLP neurons before it are h.${block}.mlp.act (blocks.${block}.mlp.hook_post).`);
    case 'hook_resid_mid':
      throw new UnmappedHookError(`${hookName} is the residual stream between attention and MLP, which is not a recordable layer here; recordable are h.${block}.attn, h.${block}.mlp.act and h.${block}.`);
    default:
      throw new UnmappedHookError(
        `${hookName} has no recordable layer here; recordable GPT-2 hooks are blocks.L.hook_resid_post (h.L), blocks.L.hook_resid_pre (h.{L-1}), blocks.L.hook_attn_out (h.L.attn) and blocks.L.mlp.hook_post (h.L.mlp.act).`,
      );
  }
}
