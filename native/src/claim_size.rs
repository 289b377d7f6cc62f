//! How many steps a claim asks for (docs/bindings.md, "Claim size"): it starts at `batchSize`
//! and doubles, up to `maxBatchSize`, while handlers empty the buffer before a full claim comes
//! back; it halves, down to `batchSize`, when a step waited in the buffer longer than
//! `MAX_BUFFER_WAIT`. Fast handlers thus get big claims (each claim is a commit and a fixed cost
//! in the database), slow ones keep few steps away from the other workers of a fleet.
//! `src/binding/pg/claim-size.ts` in the SDK keeps the same rule.

use std::time::Duration;

/// A buffered step that waited longer than this was claimed too early: other workers could have
/// run it meanwhile.
pub const MAX_BUFFER_WAIT: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimSize {
    floor: usize,
    ceiling: usize,
    current: usize,
    /// A caller found the buffer empty while a claim was under way since the last claim returned.
    starved: bool,
}

impl ClaimSize {
    /// `floor` ≤ `ceiling` (config.rs checks it; a larger floor is taken as the ceiling).
    pub fn new(floor: usize, ceiling: usize) -> Self {
        let floor = floor.max(1);
        Self {
            floor,
            ceiling: ceiling.max(floor),
            current: floor,
            starved: false,
        }
    }

    pub fn current(&self) -> usize {
        self.current
    }

    /// A caller wanted a step, the buffer had none, and a claim was under way.
    pub fn starved(&mut self) {
        self.starved = true;
    }

    /// A claim loop's claim came back; `full` when it got every step it asked for (the queue
    /// may hold more).
    pub fn claim_returned(&mut self, full: bool) {
        if full && self.starved {
            self.current = (self.current * 2).min(self.ceiling);
        }
        self.starved = false;
    }

    /// A step was handed out after `wait` in the buffer.
    pub fn waited(&mut self, wait: Duration) {
        if wait > MAX_BUFFER_WAIT {
            self.current = (self.current / 2).max(self.floor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_only_on_a_full_claim_after_starving() {
        let mut size = ClaimSize::new(10, 50);
        size.claim_returned(true);
        assert_eq!(size.current(), 10, "full, nobody starved");
        size.starved();
        size.claim_returned(false);
        assert_eq!(size.current(), 10, "starved, but the queue ran out");
        size.claim_returned(true);
        assert_eq!(
            size.current(),
            10,
            "the starving was consumed by the previous claim"
        );
        size.starved();
        size.claim_returned(true);
        assert_eq!(size.current(), 20);
        size.starved();
        size.claim_returned(true);
        size.starved();
        size.claim_returned(true);
        assert_eq!(size.current(), 50, "capped at the ceiling");
    }

    #[test]
    fn shrinks_when_a_step_waited_too_long() {
        let mut size = ClaimSize::new(10, 80);
        for _ in 0..3 {
            size.starved();
            size.claim_returned(true);
        }
        assert_eq!(size.current(), 80);
        size.waited(MAX_BUFFER_WAIT);
        assert_eq!(size.current(), 80, "exactly the limit is fine");
        size.waited(MAX_BUFFER_WAIT + Duration::from_millis(1));
        assert_eq!(size.current(), 40);
        size.waited(Duration::from_secs(1));
        size.waited(Duration::from_secs(1));
        size.waited(Duration::from_secs(1));
        assert_eq!(size.current(), 10, "never below the floor");
    }

    #[test]
    fn a_floor_equal_to_the_ceiling_is_fixed() {
        let mut size = ClaimSize::new(1, 1);
        size.starved();
        size.claim_returned(true);
        assert_eq!(size.current(), 1);
        assert_eq!(ClaimSize::new(30, 10).current(), 30);
    }
}
