/**
 * Progress of a run, as a subscriber of the loop's events: on a terminal, one line redrawn in place
 * (bar over all epochs of the run, ETA, current validation accuracy); otherwise one plain line per epoch.
 */
import type { LoopEvent } from '../loop/loop.js';

const fmt = (v: number, digits = 4) => v.toFixed(digits);

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export function progressPrinter(
  totalEpisodes: number,
  epochsPerEpisode: number,
  out: NodeJS.WriteStream = process.stdout,
) {
  const tty = Boolean(out.isTTY);
  const total = totalEpisodes * epochsPerEpisode;
  const started = performance.now();
  let done = 0;
  return {
    next(event: LoopEvent): void {
      if (event.type === 'step') {
        done += 1;
        const { info } = event.transition;
        const where = `episode ${event.episode}/${totalEpisodes} epoch ${info.epoch}/${epochsPerEpisode}`;
        const rates = info.rates.map((r) => r.toFixed(2)).join(',');
        if (tty) {
          const width = 24;
          const filled = Math.round((done / total) * width);
          const eta = ((performance.now() - started) / done) * (total - done);
          out.write(
            `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${where}  valAcc ${fmt(info.valAcc)}  rates ${rates}  ETA ${duration(eta)}   `,
          );
        } else {
          out.write(
            `${where}  trainLoss ${fmt(info.trainLoss)}  valLoss ${fmt(info.valLoss)}  valAcc ${fmt(info.valAcc)}  rates ${rates}  reward ${fmt(event.transition.reward)}\n`,
          );
        }
      } else if (event.type === 'episode') {
        const r = event.record;
        const line = `episode ${event.episode}/${totalEpisodes} done: return ${fmt(r.return)}  valAcc ${fmt(r.valAcc)}  testAcc ${fmt(r.testAcc)}  (${duration(r.episodeMs)})`;
        out.write(tty ? `\r${line.padEnd(110)}\n` : `${line}\n`);
      }
    },
  };
}

/** The queue's counts on the coordinator, one line per change: `queue: 3 queued, 2 running, 5 done, 0 failed, ETA 1m20s`. */
export function queueProgressLine(p: {
  queued: number;
  running: number;
  done: number;
  failed: number;
  etaMs: number | undefined;
}): string {
  return `queue: ${p.queued} queued, ${p.running} running, ${p.done} done, ${p.failed} failed${p.etaMs === undefined ? '' : `, ETA ${duration(p.etaMs)}`}`;
}

/** The best schedule as a table: a row per layer, a column per epoch. */
export function scheduleTable(schedule: number[][], layerNames: readonly string[]): string {
  // The name column as wide as the longest layer name (a user's 'dropout_input_features' included).
  const width = Math.max(10, ...layerNames.map((n) => n.length + 2));
  const header = ['epoch'.padEnd(width), ...schedule.map((_, e) => String(e + 1).padStart(5))].join('');
  const rows = layerNames.map((name, l) =>
    [name.padEnd(width), ...schedule.map((rates) => rates[l]!.toFixed(2).padStart(5))].join(''),
  );
  return [header, ...rows].map((line) => `  ${line}`).join('\n');
}
