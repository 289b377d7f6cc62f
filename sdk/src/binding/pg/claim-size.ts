/**
 * How many steps a claim asks for (docs/bindings.md, "Claim size"): it starts at `batchSize` and
 * doubles, up to `maxBatchSize`, while handlers empty the buffer before a full claim comes back;
 * it halves, down to `batchSize`, when a step waited in the buffer longer than MAX_BUFFER_WAIT_MS.
 * Fast handlers thus get big claims (each claim is a commit and a fixed cost in the database),
 * slow ones keep few steps away from the other workers of a fleet. The native core keeps the same
 * rule in native/src/claim_size.rs.
 */

/** A buffered step that waited longer than this was claimed too early: other workers could have run it. */
export const MAX_BUFFER_WAIT_MS = 100;

export class ClaimSize {
  private readonly floor: number;
  private readonly ceiling: number;
  private size: number;
  /** A caller found the buffer short while a claim was under way since the last claim returned. */
  private starving = false;

  constructor(floor: number, ceiling: number) {
    this.floor = Math.max(1, floor);
    this.ceiling = Math.max(this.floor, ceiling);
    this.size = this.floor;
  }

  get current(): number {
    return this.size;
  }

  /** A caller wanted more steps than were buffered, and a claim was under way. */
  starved(): void {
    this.starving = true;
  }

  /** A claim loop's claim came back; `full` when it got every step it asked for. */
  claimReturned(full: boolean): void {
    if (full && this.starving) this.size = Math.min(this.size * 2, this.ceiling);
    this.starving = false;
  }

  /** A step was handed out after `waitMs` in the buffer. */
  waited(waitMs: number): void {
    if (waitMs > MAX_BUFFER_WAIT_MS) this.size = Math.max(Math.floor(this.size / 2), this.floor);
  }
}
