//! Which occurrence of an identical input a line is (the second line asking the same token for the same body is
//! occurrence 2), in memory that does not grow with the number of lines.
//!
//! The journal keys a line by its token, its canonical body and this number, so that inserting a line elsewhere
//! re-sends nothing. Remembering every input seen would cost memory in proportion to the file; instead a fixed
//! Bloom filter says "certainly not seen before" for nearly every first occurrence, and only the inputs it
//! cannot rule out are counted exactly. A false positive (a first occurrence the filter mistakes for a repeat, about
//! one in a million lines at 200,000 lines) numbers that line 2 instead of 1: the same on every run of the same
//! file, so a resume still matches it; at worst an edited file re-sends it, never skips it wrongly (a key names
//! the exact body, so a wrong number can only confuse it with an identical request to the same token).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use uuid::Uuid;

/// The filter's size in bits: 2 MiB, whatever the file's size.
const BITS: usize = 1 << 24;
/// Bits set per input.
const PROBES: u64 = 5;

/// Counts identical inputs per token as lines arrive.
pub struct Occurrences {
    seen: Vec<u64>,
    /// Inputs the filter could not rule out, with how many times they came.
    repeated: HashMap<u64, u32>,
}

impl Occurrences {
    /// An empty count (the filter is allocated zeroed: pages are touched only as bits are set).
    pub fn new() -> Self {
        Occurrences {
            seen: vec![0; BITS / 64],
            repeated: HashMap::new(),
        }
    }

    /// The occurrence number of this input (portfolio, token, canonical body): 1 for the first.
    pub fn next(&mut self, portfolio: Uuid, token: Uuid, body: &str) -> u32 {
        let (first, step) = hashes(portfolio, token, body);
        let mut all_set = true;
        for probe in 0..PROBES {
            let bit = (first.wrapping_add(probe.wrapping_mul(step)) % BITS as u64) as usize;
            let (word, mask) = (bit / 64, 1u64 << (bit % 64));
            all_set &= self.seen[word] & mask != 0;
            self.seen[word] |= mask;
        }
        if !all_set {
            return 1;
        }
        let count = self.repeated.entry(first).or_insert(1);
        *count += 1;
        *count
    }
}

/// Where the input's probes start, and their stride (fixed keys: the same on every run). One 64-bit hash gives
/// both: the filter's 2^24 bits take the low bits of each half, so the two are independent.
fn hashes(portfolio: Uuid, token: Uuid, body: &str) -> (u64, u64) {
    let mut hasher = DefaultHasher::new();
    portfolio.hash(&mut hasher);
    token.hash(&mut hasher);
    body.hash(&mut hasher);
    let hash = hasher.finish();
    // An odd stride visits distinct bits.
    (hash, (hash >> 32) | 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_inputs_are_numbered_in_order_and_others_start_at_one() {
        let mut occurrences = Occurrences::new();
        let (p, t, other) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        assert_eq!(occurrences.next(p, t, "{\"a\":1}"), 1);
        assert_eq!(occurrences.next(p, t, "{\"a\":2}"), 1);
        assert_eq!(occurrences.next(p, other, "{\"a\":1}"), 1, "another token");
        assert_eq!(occurrences.next(p, t, "{\"a\":1}"), 2);
        assert_eq!(occurrences.next(p, t, "{\"a\":1}"), 3);
        assert_eq!(occurrences.next(p, t, "{\"a\":2}"), 2);
    }

    #[test]
    fn two_hundred_thousand_distinct_inputs_are_first_occurrences() {
        let mut occurrences = Occurrences::new();
        let portfolio = Uuid::from_u128(7);
        let repeats = (0..200_000u128)
            .filter(|i| occurrences.next(portfolio, Uuid::from_u128(*i), "{\"ipsWhitelist\":[\"203.0.113.7\"]}") != 1)
            .count();
        assert!(repeats <= 2, "{repeats} false positives");
        assert!(occurrences.repeated.len() <= 2, "only repeats are counted exactly");
    }
}
