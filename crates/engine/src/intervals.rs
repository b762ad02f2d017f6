//! Sorted, disjoint, inclusive integer intervals: the arithmetic under both
//! IP address sets and port sets.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Intervals {
    ranges: Vec<(u128, u128)>,
}

impl Intervals {
    pub fn from_range(start: u128, end: u128) -> Self {
        Intervals {
            ranges: vec![(start, end)],
        }
    }

    #[cfg(test)]
    pub fn ranges(&self) -> &[(u128, u128)] {
        &self.ranges
    }

    pub fn insert(&mut self, (start, end): (u128, u128)) {
        let mut merged = Vec::with_capacity(self.ranges.len() + 1);
        let (mut lo, mut hi) = (start, end);
        for &(a, b) in &self.ranges {
            // Disjoint and not adjacent: keep as is; otherwise absorb into the new range.
            if b.saturating_add(1) < lo || hi.saturating_add(1) < a {
                merged.push((a, b));
            } else {
                lo = lo.min(a);
                hi = hi.max(b);
            }
        }
        merged.push((lo, hi));
        merged.sort_unstable();
        self.ranges = merged;
    }

    pub fn remove(&mut self, (start, end): (u128, u128)) {
        let mut kept = Vec::with_capacity(self.ranges.len() + 1);
        for &(a, b) in &self.ranges {
            if b < start || a > end {
                kept.push((a, b));
                continue;
            }
            if a < start {
                kept.push((a, start - 1));
            }
            if b > end {
                kept.push((end + 1, b));
            }
        }
        self.ranges = kept;
    }

    pub fn union_with(&mut self, other: &Intervals) {
        for &range in &other.ranges {
            self.insert(range);
        }
    }

    pub fn subtract(&mut self, other: &Intervals) {
        for &range in &other.ranges {
            self.remove(range);
        }
    }

    /// Whether some value is in both.
    pub fn intersects(&self, other: &Intervals) -> bool {
        self.ranges.iter().any(|&(a, b)| {
            other
                .ranges
                .iter()
                .any(|&(start, end)| a <= end && start <= b)
        })
    }

    /// Whether every value of `other` is in `self`.
    pub fn covers(&self, other: &Intervals) -> bool {
        other
            .ranges
            .iter()
            .all(|&(start, end)| self.ranges.iter().any(|&(a, b)| a <= start && end <= b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjacent_ranges_merge() {
        let mut set = Intervals::from_range(1, 10);
        set.insert((11, 20));
        assert_eq!(set.ranges(), &[(1, 20)]);
    }

    #[test]
    fn insert_bridging_two_ranges_merges_all_three() {
        let mut set = Intervals::from_range(1, 5);
        set.insert((10, 15));
        set.insert((4, 11));
        assert_eq!(set.ranges(), &[(1, 15)]);
    }

    #[test]
    fn removing_the_middle_splits_a_range() {
        let mut set = Intervals::from_range(0, 100);
        set.remove((10, 20));
        assert_eq!(set.ranges(), &[(0, 9), (21, 100)]);
        assert!(!set.covers(&Intervals::from_range(5, 15)));
        assert!(set.covers(&Intervals::from_range(21, 100)));
    }

    #[test]
    fn sets_intersect_only_when_they_share_a_value() {
        let mut set = Intervals::from_range(0, 9);
        set.insert((20, 29));
        assert!(set.intersects(&Intervals::from_range(9, 12)));
        assert!(set.intersects(&Intervals::from_range(15, 20)));
        assert!(!set.intersects(&Intervals::from_range(10, 19)));
        assert!(!set.intersects(&Intervals::default()));
    }

    #[test]
    fn extremes_do_not_overflow() {
        let mut set = Intervals::from_range(0, u128::MAX);
        set.remove((0, 0));
        set.remove((u128::MAX, u128::MAX));
        assert_eq!(set.ranges(), &[(1, u128::MAX - 1)]);
        set.insert((0, u128::MAX));
        assert_eq!(set.ranges(), &[(0, u128::MAX)]);
    }
}
