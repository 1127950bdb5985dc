/**
 * A stop request that every thread sees: one Int32 in a SharedArrayBuffer. The main thread's signal
 * handler sets it; each run reads it through `stop$` and ends after the epoch in progress (the loop
 * checks its stop$ at every epoch boundary). A worker gets the buffer with each task: posting a
 * SharedArrayBuffer shares it, it does not copy it.
 */
import { filter, interval, map, take, type Observable } from 'rxjs';

export class StopFlag {
  readonly buffer: SharedArrayBuffer;
  private readonly cell: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)) {
    this.buffer = buffer;
    this.cell = new Int32Array(buffer, 0, 1);
  }

  request(): void {
    Atomics.store(this.cell, 0, 1);
  }

  get requested(): boolean {
    return Atomics.load(this.cell, 0) !== 0;
  }

  /**
   * Emits once, when a stop is requested. It polls: a timer is the one thing that runs in a worker
   * busy training, at the loop's once-per-epoch yield to the event loop.
   */
  stop$(pollMs = 25): Observable<void> {
    return interval(pollMs).pipe(
      // look at the shared cell on every tick
      filter(() => this.requested),
      // one emission is a stop; the timer ends with it
      take(1),
      map(() => undefined),
    );
  }
}
