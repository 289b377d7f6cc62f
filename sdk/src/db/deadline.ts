/** A point in time an operation must finish by. */
export class Deadline {
  readonly at: number;

  constructor(readonly budgetMs: number) {
    this.at = Date.now() + budgetMs;
  }

  /** Milliseconds left, never negative. */
  remainingMs(): number {
    return Math.max(0, this.at - Date.now());
  }

  /** True once the budget is spent. */
  expired(): boolean {
    return Date.now() >= this.at;
  }
}
