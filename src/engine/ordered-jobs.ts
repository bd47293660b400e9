/**
 * A window of jobs that run in parallel but are consumed in the order they were started —
 * how the parallel signature and delta keep their output in stream order while every worker
 * stays busy. The window is bounded, so memory stays bounded whatever the input size.
 */
export class OrderedJobs<T> {
  private readonly queue: Promise<T>[] = [];

  constructor(readonly limit: number) {}

  get length(): number {
    return this.queue.length;
  }

  /** Whether the window is full (the caller should consume the oldest first). */
  get full(): boolean {
    return this.queue.length >= this.limit;
  }

  /** Start tracking a job; a failure is kept for when the job is consumed. */
  add(job: Promise<T>): void {
    job.catch(() => undefined);
    this.queue.push(job);
  }

  /** The result of the oldest job. */
  async next(): Promise<T> {
    return this.queue.shift()!;
  }
}
