/**
 * Change notices for the dashboard's live views: one watch per key (a run folder, the run list) however
 * many clients follow it, started by the first subscriber and released with the last. A watch calls a
 * probe (a cheap signature of what it follows: file sizes and times) when fs.watch reports something
 * and on a polling timer, since fs.watch misses events on some file systems (network, containers), and
 * tells its listeners only when the signature changed.
 */
import { watch as fsWatch, type FSWatcher } from 'node:fs';

interface Watch {
  listeners: Set<() => void>;
  probe: () => string;
  signature: string;
  timer: NodeJS.Timeout;
  fsWatcher: FSWatcher | undefined;
  debounce: NodeJS.Timeout | undefined;
}

export interface WatchHubOptions {
  /** How often every watch probes, whatever fs.watch says. @default 1000 */
  pollMs?: number;
}

export class WatchHub {
  private readonly watches = new Map<string, Watch>();
  private readonly pollMs: number;

  constructor(opts: WatchHubOptions = {}) {
    this.pollMs = opts.pollMs ?? 1000;
  }

  /**
   * Calls `listener` whenever `probe()` changes; `dir`, when given, is also watched with fs.watch for a
   * prompt notice. Returns the unsubscribe function (calling it twice is harmless).
   */
  subscribe(key: string, probe: () => string, listener: () => void, dir?: string): () => void {
    let watch = this.watches.get(key);
    if (watch === undefined) {
      const created: Watch = {
        listeners: new Set(),
        probe,
        signature: safe(probe),
        timer: setInterval(() => this.check(created), this.pollMs),
        fsWatcher: undefined,
        debounce: undefined,
      };
      created.timer.unref();
      if (dir !== undefined) {
        try {
          created.fsWatcher = fsWatch(dir, () => {
            // a burst of events (append, rename of an atomic write) makes one check
            created.debounce ??= setTimeout(() => {
              created.debounce = undefined;
              this.check(created);
            }, 50);
          });
          created.fsWatcher.on('error', () => created.fsWatcher?.close());
        } catch {
          // the folder does not exist yet (a run about to start) or cannot be watched: polling covers it
        }
      }
      watch = created;
      this.watches.set(key, watch);
    }
    const own = () => listener();
    watch.listeners.add(own);
    const current = watch;
    return () => {
      if (!current.listeners.delete(own) || current.listeners.size > 0) return;
      this.release(key, current);
    };
  }

  /** Watches in use, and listeners over all of them: what a leak would grow. */
  stats(): { watches: number; listeners: number } {
    let listeners = 0;
    for (const w of this.watches.values()) listeners += w.listeners.size;
    return { watches: this.watches.size, listeners };
  }

  close(): void {
    for (const [key, watch] of this.watches) this.release(key, watch);
  }

  private check(watch: Watch): void {
    const signature = safe(watch.probe);
    if (signature === watch.signature) return;
    watch.signature = signature;
    for (const listener of [...watch.listeners]) listener();
  }

  private release(key: string, watch: Watch): void {
    clearInterval(watch.timer);
    clearTimeout(watch.debounce);
    watch.fsWatcher?.close();
    if (this.watches.get(key) === watch) this.watches.delete(key);
  }
}

function safe(probe: () => string): string {
  try {
    return probe();
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}
