//! The namespace-to-namespace reachability matrix: for each ordered pair of
//! namespaces, the ports some pod of the first may open on some pod of the
//! second. Built from the connectivity map's class pairs
//! ([`Decider`]), each decided once, and united per namespace pair. Like
//! that map it is NetworkPolicy's alone: policy layers are left out.

use std::collections::HashMap;
use std::thread;

use netposture_engine::Cluster;
use netposture_engine::classes::PodClasses;
use netposture_engine::connectivity::{Answer, Decider, PortRanges};
use netposture_engine::model::Protocol;
use netposture_engine::pod_cidrs::PodCidrs;

/// What one namespace's pods may open on another's, per protocol of
/// [`Protocol::ALL`]: ports allowed outright, and ports allowed only
/// through an ipBlock that holds a pod IP (whether they pass is up to the CNI).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Cell {
    pub allowed: [PortRanges; 3],
    pub cni_dependent: [PortRanges; 3],
}

impl Cell {
    pub fn allowed_ports(&self) -> u32 {
        self.allowed.iter().map(port_count).sum()
    }

    pub fn cni_dependent_ports(&self) -> u32 {
        self.cni_dependent.iter().map(port_count).sum()
    }
}

/// Every port of every protocol: the value of a cell nothing restricts.
pub const ALL_PORTS: u32 = 3 * 65_535;

pub struct Matrix {
    pub namespaces: Vec<String>,
    /// Distinct cells; index 0 is the empty one (nothing reachable, or no pods).
    pub values: Vec<Cell>,
    /// Row-major, `namespaces.len()` squared: source row, destination column,
    /// each an index into `values`.
    pub cells: Vec<u32>,
}

/// The matrix over `namespaces` (others' pods are left out). Source
/// namespaces are spread over the machine's threads; each interns its
/// cells, and the palettes are merged at the end.
pub fn build(cluster: &Cluster, pod_cidrs: &PodCidrs, namespaces: &[String]) -> Matrix {
    let classes = PodClasses::new(cluster, pod_cidrs);
    let decider = Decider::new(&classes);
    let position: HashMap<&str, usize> = namespaces
        .iter()
        .enumerate()
        .map(|(i, name)| (name.as_str(), i))
        .collect();
    // Per namespace, its classes (they come in namespace order).
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); namespaces.len()];
    let mut class_namespace = Vec::with_capacity(classes.classes.len());
    for (c, class) in classes.classes.iter().enumerate() {
        let at = position.get(class.namespace).copied();
        if let Some(at) = at {
            members[at].push(c);
        }
        class_namespace.push(at);
    }
    let workers = thread::available_parallelism().map_or(1, |n| n.get());
    let rows = Rows {
        decider: &decider,
        members: &members,
        class_namespace: &class_namespace,
        width: namespaces.len(),
    };
    let parts: Vec<Part> = thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let rows = &rows;
                scope.spawn(move || rows.part(worker, workers))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            })
            .collect()
    });
    merge(namespaces.to_vec(), parts)
}

/// What one worker needs to compute rows.
struct Rows<'a> {
    decider: &'a Decider<'a>,
    members: &'a [Vec<usize>],
    class_namespace: &'a [Option<usize>],
    width: usize,
}

/// One worker's rows, with cells as indices into its own palette.
struct Part {
    values: Vec<Cell>,
    rows: Vec<(usize, Vec<u32>)>,
}

impl Rows<'_> {
    /// Rows `worker`, `worker + workers`, ...
    fn part(&self, worker: usize, workers: usize) -> Part {
        let mut palette = Palette::default();
        let mut answers = Palette::<Answer>::default();
        let mut rows = Vec::new();
        for source in (worker..self.members.len()).step_by(workers) {
            // Per destination namespace, the distinct non-empty answers of its class pairs.
            let mut seen: Vec<Vec<u32>> = vec![Vec::new(); self.width];
            for &s in &self.members[source] {
                for (d, destination) in self.class_namespace.iter().enumerate() {
                    let Some(destination) = *destination else {
                        continue;
                    };
                    let Some(answer) = self.decider.decide(s, d) else {
                        continue;
                    };
                    if answer.iter().all(|(a, c)| a.is_empty() && c.is_empty()) {
                        continue;
                    }
                    let id = answers.intern(answer);
                    if !seen[destination].contains(&id) {
                        seen[destination].push(id);
                    }
                }
            }
            let row = seen
                .iter()
                .map(|ids| {
                    palette.intern(unite(ids.iter().map(|&id| &answers.values[id as usize])))
                })
                .collect();
            rows.push((source, row));
        }
        Part {
            values: palette.values,
            rows,
        }
    }
}

/// Distinct values, each with its index; the default value is index 0.
struct Palette<T> {
    values: Vec<T>,
    ids: HashMap<T, u32>,
}

impl<T: Clone + Default + Eq + std::hash::Hash> Default for Palette<T> {
    fn default() -> Self {
        let mut palette = Palette {
            values: Vec::new(),
            ids: HashMap::new(),
        };
        palette.intern(T::default());
        palette
    }
}

impl<T: Clone + Eq + std::hash::Hash> Palette<T> {
    fn intern(&mut self, value: T) -> u32 {
        if let Some(&id) = self.ids.get(&value) {
            return id;
        }
        let id = self.values.len() as u32;
        self.values.push(value.clone());
        self.ids.insert(value, id);
        id
    }
}

fn merge(namespaces: Vec<String>, parts: Vec<Part>) -> Matrix {
    let width = namespaces.len();
    let mut palette = Palette::<Cell>::default();
    let mut cells = vec![0; width * width];
    for part in parts {
        let remap: Vec<u32> = part
            .values
            .into_iter()
            .map(|cell| palette.intern(cell))
            .collect();
        for (source, row) in part.rows {
            for (d, id) in row.into_iter().enumerate() {
                cells[source * width + d] = remap[id as usize];
            }
        }
    }
    Matrix {
        namespaces,
        values: palette.values,
        cells,
    }
}

/// The union of class-pair answers: a port allowed by one pair is allowed,
/// whatever another says; it is CNI-dependent only when no pair allows it.
fn unite<'a>(answers: impl Iterator<Item = &'a Answer>) -> Cell {
    let mut cell = Cell::default();
    for answer in answers {
        for (p, (allowed, cni_dependent)) in answer.iter().enumerate() {
            cell.allowed[p] = union(&cell.allowed[p], allowed);
            cell.cni_dependent[p] = union(&cell.cni_dependent[p], cni_dependent);
        }
    }
    for p in 0..Protocol::ALL.len() {
        cell.cni_dependent[p] = subtract(&cell.cni_dependent[p], &cell.allowed[p]);
    }
    cell
}

fn port_count(ranges: &PortRanges) -> u32 {
    ranges
        .iter()
        .map(|&(start, end)| u32::from(end) - u32::from(start) + 1)
        .sum()
}

/// Sorted, disjoint and merged where adjacent.
fn union(a: &PortRanges, b: &PortRanges) -> PortRanges {
    let mut all: PortRanges = a.iter().chain(b).copied().collect();
    all.sort_unstable();
    let mut merged: PortRanges = Vec::with_capacity(all.len());
    for (start, end) in all {
        match merged.last_mut() {
            Some((_, last)) if u32::from(start) <= u32::from(*last) + 1 => {
                *last = (*last).max(end);
            }
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// The ports of `a` not in `b`.
fn subtract(a: &PortRanges, b: &PortRanges) -> PortRanges {
    let mut left = PortRanges::new();
    for &(start, end) in a {
        let mut from = u32::from(start);
        let end = u32::from(end);
        for &(cut_start, cut_end) in b {
            let (cut_start, cut_end) = (u32::from(cut_start), u32::from(cut_end));
            if cut_end < from || cut_start > end {
                continue;
            }
            if cut_start > from {
                left.push((from as u16, (cut_start - 1) as u16));
            }
            from = cut_end + 1;
        }
        if from <= end {
            left.push((from as u16, end as u16));
        }
    }
    left
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_merges_overlapping_and_adjacent_ranges() {
        assert_eq!(
            union(
                &vec![(1, 10), (20, 30)],
                &vec![(11, 15), (25, 40), (50, 50)]
            ),
            vec![(1, 15), (20, 40), (50, 50)]
        );
        assert_eq!(
            union(&vec![(65535, 65535)], &vec![(1, 65535)]),
            vec![(1, 65535)]
        );
    }

    #[test]
    fn subtract_cuts_holes_and_ends() {
        assert_eq!(
            subtract(&vec![(1, 100)], &vec![(1, 10), (50, 60), (100, 100)]),
            vec![(11, 49), (61, 99)]
        );
        assert_eq!(subtract(&vec![(5, 5)], &vec![(1, 65535)]), vec![]);
        assert_eq!(subtract(&vec![(1, 65535)], &vec![]), vec![(1, 65535)]);
    }

    #[test]
    fn a_port_one_pair_allows_is_not_cni_dependent() {
        let tcp_only = |ranges: PortRanges| [ranges, vec![], vec![]];
        let first: Answer = [
            (vec![(80, 80)], vec![(5432, 5432)]),
            Default::default(),
            Default::default(),
        ];
        let second: Answer = [
            (vec![(5432, 5432)], vec![(9000, 9001)]),
            Default::default(),
            Default::default(),
        ];
        let cell = unite([first, second].iter());
        assert_eq!(cell.allowed, tcp_only(vec![(80, 80), (5432, 5432)]));
        assert_eq!(cell.cni_dependent, tcp_only(vec![(9000, 9001)]));
        assert_eq!((cell.allowed_ports(), cell.cni_dependent_ports()), (2, 2));
    }
}
