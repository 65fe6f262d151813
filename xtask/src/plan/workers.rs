//! How many workers, and why: the run's CPU budget shared between the pytest session and the
//! Playwright run beside it, then each sized by its suites' caps and recorded work.

pub(crate) use crate::history::Recorded;

/// Recorded work below which another worker costs more (start-up, database set-up) than it saves;
/// at least, since the plan uses twice the start-up the last run measured when that is more (the
/// xdist controller starts before its workers do: a second process pays for itself only when half
/// the work outweighs that start-up).
pub(crate) const PYTEST_SECONDS_PER_WORKER: f64 = 1.0;
pub(crate) const PLAYWRIGHT_SECONDS_PER_WORKER: f64 = 3.0;
/// The same for a `watch` cycle forked from the warm interpreter, whose xdist workers are forked
/// from it too (`warm_launch.py`): a worker's first test comes 0.3-0.4 s after the in-process one's
/// would (its project imports, collection and clone), whatever the cold start-up; on the fine
/// benchmark project, 200 tests of 2.6 s ran from the save to the result line in 2.9 s on two
/// workers and in 3.7 s on one.
pub(crate) const WARM_SECONDS_PER_WORKER: f64 = 1.0;

/// The CPUs each side of the run may fill.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    pub(crate) pytest: u32,
    pub(crate) playwright: u32,
    pub(crate) why: String,
}

impl Budget {
    /// Measured on this repository's test-all (2 CPUs, three interleaved runs each, median): the
    /// pytest session on every CPU beside Playwright 21.6 s; on half of them 20.0 s (one worker runs
    /// in-process, with no worker start-up, and leaves CPU to the E2E run, the longest part); and
    /// with a third Playwright worker 20.5 s. So Playwright gets every CPU, and the pytest session
    /// half of them while Playwright runs beside it.
    pub(crate) fn split(cpus: usize, pytest: bool, playwright: bool) -> Budget {
        let cpus = u32::try_from(cpus.max(1)).unwrap_or(u32::MAX);
        if pytest && playwright {
            let half = (cpus / 2).max(1);
            return Budget {
                pytest: half,
                playwright: cpus,
                why: format!(
                    "{cpus} CPUs: Playwright may use all {cpus}, the pytest session {half} beside it \
                     (measured fastest on this shape of run: see plan/workers.rs)"
                ),
            };
        }
        Budget { pytest: cpus, playwright: cpus, why: format!("{cpus} CPUs") }
    }
}

/// What bounds a pool from above besides the CPUs: its name in the formula, and in the reason.
pub(crate) struct Cap {
    pub(crate) workers: u32,
    pub(crate) named: String,
    pub(crate) reason: String,
}

impl Cap {
    pub(crate) fn new(workers: u32, named: &str, reason: &str) -> Cap {
        Cap { workers, named: named.to_owned(), reason: reason.to_owned() }
    }

    /// A Playwright suite's `max_workers`.
    pub(crate) fn suite(workers: u32) -> Cap {
        Cap::new(workers, "max", "the configured maximum")
    }

    /// The pytest session's: its suites' `max_workers` added up.
    pub(crate) fn session(workers: u32) -> Cap {
        Cap::new(workers, "max_workers added up", "the suites' max_workers added up")
    }
}

/// The pytest session's pool: `choose_workers` with its suites' caps added up and its recorded run;
/// one process without pytest-xdist. (One worker then runs in-process: no worker start-up to pay.)
pub(crate) fn pytest_workers(
    cpus: u32,
    caps: u32,
    recorded: Option<Recorded>,
    requested: Option<u32>,
    xdist: bool,
    per_worker: f64,
) -> (u32, String) {
    if !xdist {
        return (1, "pytest-xdist is not installed in the backend environment: one process".to_owned());
    }
    let tests = recorded.map(|recorded| recorded.tests.max(1));
    let work = recorded.map(|recorded| (recorded.seconds, per_worker));
    let (workers, why) = choose_workers(Cap::session(caps), cpus, tests, work, requested);
    match recorded {
        None if requested.is_none() => (workers, format!("{why} (no complete recorded run of these suites yet)")),
        _ => (workers, why),
    }
}

/// The one sizing rule: `min(cap, CPUs, tests)`, further capped by the recorded work (`(seconds,
/// seconds worth one worker)`) when known; or the override. `tests` is None when only the run will
/// tell.
pub(crate) fn choose_workers(
    cap: Cap,
    cpus: u32,
    tests: Option<u64>,
    work: Option<(f64, f64)>,
    requested: Option<u32>,
) -> (u32, String) {
    if tests == Some(0) {
        return (0, "no tests: nothing is started".to_owned());
    }
    if let Some(workers) = requested {
        return (workers, format!("--workers {workers}"));
    }
    let cpus = cpus.max(1);
    let max = cap.workers.max(1);
    let tests_cap = tests.map_or(u32::MAX, |tests| u32::try_from(tests).unwrap_or(u32::MAX));
    let mut workers = max.min(cpus).min(tests_cap);
    let mut limit = if workers == max {
        cap.reason.clone()
    } else if workers == cpus {
        "the available CPUs".to_owned()
    } else {
        "the number of tests".to_owned()
    };
    // A suite with no maximum of its own shows none.
    let named = if max == u32::MAX { String::new() } else { format!("{} {max}, ", cap.named) };
    let mut formula = match tests {
        Some(tests) => format!("min({named}{cpus} CPUs, {tests} tests"),
        None => format!("min({named}{cpus} CPUs"),
    };
    if let Some((seconds, per_worker)) = work {
        let by_work = ((seconds / per_worker).floor() as u32).max(1);
        formula += &format!(", {seconds:.1} s of recorded work / {per_worker:.1} s per worker");
        if by_work < workers {
            workers = by_work;
            limit = "the recorded durations (more workers would cost more start-up than they save)".to_owned();
        }
    }
    (workers, format!("{formula}) = {workers}, set by {limit}"))
}

pub(crate) fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
