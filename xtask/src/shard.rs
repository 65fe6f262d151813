//! Splitting a suite's tests across machines: greedy longest-first into the lightest shard, which
//! keeps the heaviest shard close to the ideal and gives the same split for the same history.

use std::str::FromStr;

/// `--shard K/N`: this machine runs the K-th of N parts (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    pub(crate) index: usize,
    pub(crate) count: usize,
}

impl Shard {
    pub(crate) fn new(index: usize, count: usize) -> Result<Shard, String> {
        format!("{index}/{count}").parse()
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let invalid = || format!("`{text}` is not K/N with 1 <= K <= N, e.g. 2/4");
        let (index, count) = text.split_once('/').ok_or_else(invalid)?;
        let (index, count): (usize, usize) =
            (index.trim().parse().map_err(|_| invalid())?, count.trim().parse().map_err(|_| invalid())?);
        if index == 0 || count == 0 || index > count {
            return Err(invalid());
        }
        Ok(Shard { index, count })
    }
}

/// Splits weighted items into `count` parts; each part keeps the input order of its items.
pub(crate) fn partition<'a>(items: &[(&'a str, f64)], count: usize) -> Vec<Vec<&'a str>> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    // Longest first; ties by id, so the split does not depend on collection order.
    order.sort_by(|&a, &b| items[b].1.total_cmp(&items[a].1).then_with(|| items[a].0.cmp(items[b].0)));
    let mut loads = vec![0.0f64; count.max(1)];
    let mut owner = vec![0usize; items.len()];
    for index in order {
        let lightest = (0..loads.len()).min_by(|&a, &b| loads[a].total_cmp(&loads[b]).then(a.cmp(&b))).unwrap_or(0);
        loads[lightest] += items[index].1.max(0.0);
        owner[index] = lightest;
    }
    let mut parts = vec![Vec::new(); loads.len()];
    for (index, (id, _)) in items.iter().enumerate() {
        parts[owner[index]].push(*id);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "4", "a/b", "1/0", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    fn weighted(n: usize) -> Vec<(String, f64)> {
        // Durations with a long tail, as test suites have: a few slow tests, many quick ones.
        (0..n)
            .map(|i| (format!("t{i:03}"), 0.05 + ((i * 37) % 101) as f64 / 20.0 + if i % 17 == 0 { 6.0 } else { 0.0 }))
            .collect()
    }

    #[test]
    fn shards_cover_every_test_exactly_once() {
        let owned = weighted(245);
        let items: Vec<(&str, f64)> = owned.iter().map(|(id, d)| (id.as_str(), *d)).collect();
        for count in 1..=7 {
            let parts = partition(&items, count);
            assert_eq!(parts.len(), count);
            let mut all: Vec<&str> = parts.concat();
            all.sort();
            let mut expected: Vec<&str> = items.iter().map(|(id, _)| *id).collect();
            expected.sort();
            assert_eq!(all, expected, "{count} shards");
        }
    }

    #[test]
    fn heaviest_shard_is_within_ten_percent_of_the_ideal() {
        let owned = weighted(245);
        let items: Vec<(&str, f64)> = owned.iter().map(|(id, d)| (id.as_str(), *d)).collect();
        let total: f64 = items.iter().map(|(_, d)| d).sum();
        for count in [2, 3, 4, 8] {
            let parts = partition(&items, count);
            let load =
                |part: &Vec<&str>| part.iter().map(|id| items.iter().find(|(i, _)| i == id).unwrap().1).sum::<f64>();
            let heaviest = parts.iter().map(load).fold(0.0, f64::max);
            let ideal = total / count as f64;
            assert!(heaviest <= ideal * 1.10, "{count} shards: heaviest {heaviest:.2}s, ideal {ideal:.2}s");
        }
    }

    #[test]
    fn the_split_is_deterministic_and_order_independent() {
        let owned = weighted(60);
        let items: Vec<(&str, f64)> = owned.iter().map(|(id, d)| (id.as_str(), *d)).collect();
        let mut reversed = items.clone();
        reversed.reverse();
        fn sorted(parts: Vec<Vec<&str>>) -> Vec<Vec<&str>> {
            parts
                .into_iter()
                .map(|mut p| {
                    p.sort();
                    p
                })
                .collect::<Vec<_>>()
        }
        assert_eq!(sorted(partition(&items, 4)), sorted(partition(&reversed, 4)));
        assert_eq!(partition(&items, 4), partition(&items, 4));
    }

    #[test]
    fn equal_durations_spread_evenly() {
        let items: Vec<(&str, f64)> = ["a", "b", "c", "d", "e", "f", "g"].iter().map(|id| (*id, 1.0)).collect();
        let sizes: Vec<usize> = partition(&items, 3).iter().map(Vec::len).collect();
        assert_eq!(sizes, [3, 2, 2]);
    }
}
