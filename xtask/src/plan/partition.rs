//! Which test files each xdist worker collects, once a run recorded the whole collection
//! (`deps.rs`): each worker owns a contiguous range of files of about equal expected work and
//! collects it with the last third of every other worker's range (at least its last file), which it
//! may take over when it runs dry; so no worker imports every test module. A file the record does not know (a new one)
//! is collected by every worker, and a worker the partition does not name (xdist's replacement for
//! a crashed one) collects every file: the shipped plugin decides that, from this.

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// The share of another worker's range (by expected work, from its end) a worker also collects.
const TAIL: f64 = 1.0 / 3.0;

/// At least this many known files per worker, or the shares would be a file or two each and a
/// take-over could hardly find anything.
const FILES_PER_WORKER: usize = 3;

/// The workers' shares of the test files.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Partition {
    /// The known test files, relative to the root, in collection order (by path, as pytest walks
    /// a directory: its entries sorted by name).
    pub(crate) files: Vec<String>,
    /// Per worker (`gw0`, ...): the indices of the files it owns, its range.
    pub(crate) own: BTreeMap<String, Vec<usize>>,
    /// Per worker: the indices of the files it collects, its range and the others' tails.
    pub(crate) collect: BTreeMap<String, Vec<usize>>,
}

impl Partition {
    /// How many files the worker that collects the most collects, of how many.
    pub(crate) fn largest_share(&self) -> (usize, usize) {
        (self.collect.values().map(Vec::len).max().unwrap_or(0), self.files.len())
    }
}

/// pytest's order of two paths: directory by directory, each level's entries by name.
fn by_path(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// The shares of `files` (each with its tests' expected seconds) among `workers`; None when there
/// are too few files to share.
pub(crate) fn partition(files: &[(String, f64)], workers: u32) -> Option<Partition> {
    let count = workers as usize;
    if count < 2 || files.len() < FILES_PER_WORKER * count {
        return None;
    }
    let mut ordered: Vec<(String, f64)> = files.to_vec();
    ordered.sort_by(|a, b| by_path(&a.0, &b.0));
    let total: f64 = ordered.iter().map(|(_, seconds)| seconds.max(0.0)).sum();
    let share = total / count as f64;
    let name = |worker: usize| format!("gw{worker}");
    let mut own: BTreeMap<String, Vec<usize>> = (0..count).map(|worker| (name(worker), Vec::new())).collect();
    let mut done = 0.0;
    for (index, (_, seconds)) in ordered.iter().enumerate() {
        let seconds = seconds.max(0.0);
        // A file goes to the range its middle falls in (equal shares when nothing is timed).
        let part = if share > 0.0 {
            (((done + seconds / 2.0) / share) as usize).min(count - 1)
        } else {
            index * count / ordered.len()
        };
        own.get_mut(&name(part)).expect("a worker per part").push(index);
        done += seconds;
    }
    if own.values().any(Vec::is_empty) {
        return None;
    }
    let tails: BTreeMap<&String, Vec<usize>> = own
        .iter()
        .map(|(worker, indices)| {
            let work: f64 = indices.iter().map(|&i| ordered[i].1.max(0.0)).sum();
            let (mut kept, mut above) = (Vec::new(), 0.0);
            // The last file always, then each whose middle lies in the last third.
            for &index in indices.iter().rev() {
                let seconds = ordered[index].1.max(0.0);
                if !kept.is_empty() && above + seconds / 2.0 > TAIL * work {
                    break;
                }
                kept.push(index);
                above += seconds;
            }
            (worker, kept)
        })
        .collect();
    let collect = own
        .iter()
        .map(|(worker, indices)| {
            let mut all: Vec<usize> = indices.clone();
            all.extend(tails.iter().filter(|(other, _)| **other != worker).flat_map(|(_, tail)| tail.iter().copied()));
            all.sort_unstable();
            all.dedup();
            (worker.clone(), all)
        })
        .collect();
    Some(Partition { files: ordered.into_iter().map(|(path, _)| path).collect(), own, collect })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(seconds: &[(&str, f64)]) -> Vec<(String, f64)> {
        seconds.iter().map(|(path, s)| ((*path).to_owned(), *s)).collect()
    }

    #[test]
    fn each_worker_owns_a_contiguous_range_of_equal_work_and_collects_the_others_tails() {
        let given = files(&[
            ("tests/test_f.py", 1.0),
            ("tests/test_a.py", 1.0),
            ("tests/sub/test_z.py", 1.0),
            ("app/tests/test_b.py", 3.0),
            ("tests/test_c.py", 1.0),
            ("tests/test_d.py", 1.0),
        ]);
        let shares = partition(&given, 2).unwrap();
        // As pytest walks: `app` before `tests`, and in `tests` the directory `sub` among the files.
        assert_eq!(
            shares.files,
            [
                "app/tests/test_b.py",
                "tests/sub/test_z.py",
                "tests/test_a.py",
                "tests/test_c.py",
                "tests/test_d.py",
                "tests/test_f.py"
            ]
        );
        assert_eq!(shares.own["gw0"], [0, 1], "4 s of 8");
        assert_eq!(shares.own["gw1"], [2, 3, 4, 5]);
        // gw0 also collects the last third of gw1's work (test_f), gw1 the last file of gw0's.
        assert_eq!(shares.collect["gw0"], [0, 1, 5]);
        assert_eq!(shares.collect["gw1"], [1, 2, 3, 4, 5]);
        assert_eq!(shares.largest_share(), (5, 6));
    }

    #[test]
    fn too_few_files_or_one_worker_share_nothing() {
        let given = files(&[("a.py", 1.0), ("b.py", 1.0), ("c.py", 1.0), ("d.py", 1.0), ("e.py", 1.0)]);
        assert!(partition(&given, 2).is_none(), "3 files a worker at least");
        assert!(partition(&given, 1).is_none());
        let untimed: Vec<(String, f64)> = (0..6).map(|n| (format!("t{n}.py"), 0.0)).collect();
        let shares = partition(&untimed, 2).unwrap();
        assert_eq!((shares.own["gw0"].len(), shares.own["gw1"].len()), (3, 3), "nothing timed: equal counts");
    }

    #[test]
    fn a_worker_left_without_a_range_shares_nothing() {
        // Two files of 100 s among three workers: the middle one would own nothing.
        let mut given = files(&[("a.py", 0.1), ("b.py", 100.0), ("c.py", 100.0)]);
        given.extend((0..6).map(|n| (format!("d{n}.py"), 0.1)));
        assert!(partition(&given, 3).is_none());
        assert!(partition(&given, 2).is_some());
    }
}
