//! Half-open time intervals `[start, end)` in milliseconds.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    pub start: i64,
    pub end: i64,
}

impl Span {
    pub fn new(start: i64, end: i64) -> Self {
        Self { start, end }
    }

    /// Length in ms; an inverted span counts as empty.
    pub fn len(&self) -> i64 {
        self.end.saturating_sub(self.start).max(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The part of `self` inside `other`, if any.
    pub fn clip(&self, other: &Span) -> Option<Span> {
        let clipped = Span::new(self.start.max(other.start), self.end.min(other.end));
        (!clipped.is_empty()).then_some(clipped)
    }
}

/// The spans sorted and merged where they overlap or touch, empty ones
/// dropped: a union that counts each instant once.
/// The spans of `period` where `active` holds, sampled every `step` ms
/// (a window of recurring rules, read by sampling: an edge is placed
/// within one step).
pub fn sampled(active: impl Fn(i64) -> bool, period: Span, step: i64) -> Vec<Span> {
    let step = step.max(1);
    let mut spans = Vec::new();
    let mut since = None;
    let mut at = period.start;
    while at < period.end {
        match (active(at), since) {
            (true, None) => since = Some(at),
            (false, Some(start)) => {
                spans.push(Span::new(start, at));
                since = None;
            }
            _ => {}
        }
        at = at.saturating_add(step);
    }
    if let Some(start) = since {
        spans.push(Span::new(start, period.end));
    }
    spans
}

pub fn union(spans: &[Span]) -> Vec<Span> {
    let mut sorted: Vec<Span> = spans.iter().copied().filter(|s| !s.is_empty()).collect();
    sorted.sort();
    let mut merged: Vec<Span> = Vec::with_capacity(sorted.len());
    for span in sorted {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// Total length of the union of `spans` within `within`.
pub fn covered(spans: &[Span], within: &Span) -> i64 {
    union(spans)
        .iter()
        .filter_map(|s| s.clip(within))
        .map(|s| s.len())
        .sum()
}

/// Length of what `a` and `b` share (each taken as a union).
pub fn overlap(a: &[Span], b: &[Span]) -> i64 {
    let (a, b) = (union(a), union(b));
    let mut total = 0;
    for x in &a {
        for y in &b {
            if let Some(shared) = x.clip(y) {
                total += shared.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(start: i64, end: i64) -> Span {
        Span::new(start, end)
    }

    #[test]
    fn unions_merge_overlapping_and_touching_spans_and_drop_empty_ones() {
        let check =
            |input: &[Span], expected: &[Span]| assert_eq!(union(input), expected, "{input:?}");
        check(&[], &[]);
        check(&[s(5, 5), s(9, 3)], &[]);
        check(&[s(10, 20), s(0, 5)], &[s(0, 5), s(10, 20)]);
        check(&[s(0, 10), s(5, 15), s(15, 20)], &[s(0, 20)]);
        check(&[s(0, 100), s(10, 20)], &[s(0, 100)]);
    }

    #[test]
    fn coverage_and_overlap_count_each_instant_once() {
        assert_eq!(covered(&[s(0, 10), s(5, 15)], &s(0, 100)), 15);
        assert_eq!(covered(&[s(-50, 10), s(90, 200)], &s(0, 100)), 20);
        assert_eq!(overlap(&[s(0, 10), s(20, 30)], &[s(5, 25)]), 10);
        assert_eq!(overlap(&[s(0, 10)], &[s(10, 20)]), 0);
    }

    #[test]
    fn activity_is_sampled_into_spans() {
        let period = Span::new(0, 100);
        let spans = sampled(|t| (20..40).contains(&t) || t >= 90, period, 10);
        assert_eq!(spans, vec![Span::new(20, 40), Span::new(90, 100)]);
        assert!(sampled(|_| false, period, 10).is_empty());
        assert_eq!(sampled(|_| true, period, 0).len(), 1);
    }
}
