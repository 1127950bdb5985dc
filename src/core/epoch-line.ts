/** The one line per epoch that `verbose` prints, as Keras's verbose=2 does (metrics, then droptune's rates). */
import type { StepInfo } from './types.js';

export function epochLine(episode: number, info: StepInfo, maxEpochs: number, ms?: number): string {
  const parts = [
    `episode ${episode} epoch ${info.epoch}/${maxEpochs}`,
    ...(ms !== undefined ? [`${Math.round(ms)}ms`] : []),
    `loss: ${info.trainLoss.toFixed(4)}`,
    `acc: ${info.trainAcc.toFixed(4)}`,
    `val_loss: ${info.valLoss.toFixed(4)}`,
    `val_acc: ${info.valAcc.toFixed(4)}`,
    `rates: ${info.rates.map((r) => r.toFixed(2)).join(', ')}`,
  ];
  return parts.join(' - ');
}
