//! Counts of a run's rows by outcome.

use serde::{Deserialize, Serialize};
use toolsync_plugin_api::OutcomeKind;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tally {
    /// Per outcome, in `OutcomeKind::ALL` order.
    counts: [u64; 7],
}

impl Tally {
    pub fn add(&mut self, kind: OutcomeKind) {
        self.counts[index(kind)] += 1;
    }

    pub fn get(&self, kind: OutcomeKind) -> u64 {
        self.counts[index(kind)]
    }

    /// Rows read (header, blank and comment lines excluded).
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn ok(&self) -> u64 {
        OutcomeKind::ALL
            .iter()
            .filter(|k| k.is_ok())
            .map(|k| self.get(*k))
            .sum()
    }

    pub fn failed(&self) -> u64 {
        self.get(OutcomeKind::Failed)
    }

    pub fn skipped(&self) -> u64 {
        self.get(OutcomeKind::Skipped)
    }
}

fn index(kind: OutcomeKind) -> usize {
    OutcomeKind::ALL
        .iter()
        .position(|k| *k == kind)
        .expect("every outcome is in ALL")
}
