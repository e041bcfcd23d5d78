/**
 * One timer for many deadlines: acknowledgement timeouts, heartbeats and handshake deadlines of
 * every connection share a single native timer, armed for the earliest deadline.
 *
 * @module
 */

/** A scheduled callback; pass it to {@linkcode TimerQueue.cancel}. */
export interface TimerEntry {
  /** When it runs, in `performance.now()` milliseconds. */
  readonly deadline: number;
}

interface Entry extends TimerEntry {
  deadline: number;
  callback: () => void;
  index: number;
}

/**
 * A min-heap of deadlines behind one `setTimeout`. Scheduling and cancelling cost O(log n); the
 * native timer exists only while something is scheduled, so an idle queue holds no resources.
 */
export class TimerQueue {
  #heap: Entry[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedFor = Infinity;
  #onError: (error: unknown) => void;

  /**
   * Creates an empty queue.
   *
   * @param onError Receives what a callback throws; the queue keeps running.
   */
  constructor(onError: (error: unknown) => void = (error) => console.error(error)) {
    this.#onError = onError;
  }

  /** How many callbacks are scheduled. */
  get size(): number {
    return this.#heap.length;
  }

  /**
   * Runs `callback` once, `delay` milliseconds from now.
   *
   * @param delay Milliseconds from now.
   * @param callback What to run.
   * @returns The entry, for {@linkcode TimerQueue.cancel}.
   */
  schedule(delay: number, callback: () => void): TimerEntry {
    const entry: Entry = {
      deadline: performance.now() + Math.max(0, delay),
      callback,
      index: this.#heap.length,
    };
    this.#heap.push(entry);
    this.#up(entry.index);
    this.#arm();
    return entry;
  }

  /**
   * Cancels a scheduled callback. Cancelling one that ran or was cancelled does nothing.
   *
   * @param timer The entry {@linkcode TimerQueue.schedule} returned.
   */
  cancel(timer: TimerEntry): void {
    const entry = timer as Entry;
    const index = entry.index;
    if (index < 0 || this.#heap[index] !== entry) return;
    this.#removeAt(index);
    this.#arm();
  }

  /** Cancels everything and releases the native timer. */
  clear(): void {
    for (const entry of this.#heap) entry.index = -1;
    this.#heap = [];
    this.#disarm();
  }

  #run = (): void => {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = performance.now();
    while (this.#heap.length > 0 && this.#heap[0]!.deadline <= now + 1) {
      const entry = this.#heap[0]!;
      this.#removeAt(0);
      try {
        entry.callback();
      } catch (error) {
        this.#onError(error);
      }
    }
    this.#arm();
  };

  #arm(): void {
    const first = this.#heap[0];
    if (first === undefined) return this.#disarm();
    if (first.deadline >= this.#armedFor) return;
    this.#disarm();
    this.#armedFor = first.deadline;
    this.#timer = setTimeout(this.#run, Math.max(0, first.deadline - performance.now()));
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
  }

  #removeAt(index: number): void {
    const heap = this.#heap;
    const removed = heap[index]!;
    removed.index = -1;
    const last = heap.pop()!;
    if (last !== removed) {
      heap[index] = last;
      last.index = index;
      this.#down(index);
      this.#up(last.index);
    }
  }

  #up(index: number): void {
    const heap = this.#heap;
    const entry = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (parent.deadline <= entry.deadline) break;
      heap[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    heap[index] = entry;
    entry.index = index;
  }

  #down(index: number): void {
    const heap = this.#heap;
    const entry = heap[index]!;
    const half = heap.length >> 1;
    while (index < half) {
      let child = 2 * index + 1;
      const right = child + 1;
      if (right < heap.length && heap[right]!.deadline < heap[child]!.deadline) child = right;
      const smallest = heap[child]!;
      if (smallest.deadline >= entry.deadline) break;
      heap[index] = smallest;
      smallest.index = index;
      index = child;
    }
    heap[index] = entry;
    entry.index = index;
  }
}
