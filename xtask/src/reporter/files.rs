//! Reports in files: JUnit XML per suite and summary.md under target/xtask/reports/, and on GitHub
//! Actions the step summary and one `::error` annotation per failed test.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::events::{Outcome, SuiteResult, SuiteStatus, TestRecord};
use crate::reporter::summary::{seconds, status_word};
use crate::reporter::Style;
use crate::text::printable;

/// GitHub shows at most 10 error annotations per step; the rest are counted in one notice.
const GITHUB_ERROR_LIMIT: usize = 10;

/// Text made safe inside XML and HTML (JUnit files, the timeline's SVG).
pub(super) fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// Text from the tests in a markdown table cell: control characters written out, pipes escaped.
fn md(text: &str) -> String {
    crate::text::printable(text).replace('|', "\\|")
}

pub(crate) fn summary_markdown(results: &[SuiteResult], unassigned: Option<u64>, run: &str) -> String {
    let plain = Style::plain();
    let mut out = format!("## Test results (run {run})\n\n");
    out.push_str("| suite | tests | passed | failed | errors | skipped | flaky | workers | wall | status |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md(&r.suite),
            r.stats.total,
            r.stats.passed,
            r.stats.failed,
            r.stats.errors,
            r.stats.skipped,
            r.stats.flaky,
            r.workers,
            seconds(r.wall),
            status_word(r, plain)
        );
    }
    if let Some(count) = unassigned {
        let _ = writeln!(out, "\n{count} test(s) matched no suite's marker (run in `unassigned`).");
    }
    for result in results.iter().filter(|r| !r.notes.is_empty()) {
        let _ = writeln!(out, "\n**`{}`: its global set-up said:**\n", md(&result.suite));
        for note in &result.notes {
            let _ = writeln!(out, "> {}", md(note).replace('\n', "\n> "));
        }
    }
    let failures: Vec<(&SuiteResult, &TestRecord)> =
        results.iter().flat_map(|r| r.failures().map(move |t| (r, t))).collect();
    if !failures.is_empty() {
        out.push_str("\n### Failures\n\n");
        for (result, test) in failures {
            let report = test.report.as_deref();
            let at = report.and_then(|r| r.at.as_deref()).map(|at| format!(" at `{}`", md(at))).unwrap_or_default();
            let _ = writeln!(
                out,
                "- `{}` `{}`{at}: {}",
                md(&result.suite),
                md(&test.id),
                md(test.message.as_deref().unwrap_or(""))
            );
            if let Some(details) = report.and_then(|r| r.details.as_deref()) {
                // The tool's own report, folded: fenced so that nothing in it is read as markdown.
                let fence = if details.contains("```") { "~~~~" } else { "```" };
                let _ = writeln!(
                    out,
                    "  <details><summary>report</summary>\n\n  {fence}\n{}\n  {fence}\n  </details>",
                    crate::text::printable_lines(details)
                );
            }
            for (name, path) in report.map(|r| r.artifacts.as_slice()).unwrap_or_default() {
                let _ = writeln!(out, "  - {}: `{}`", md(name), md(&path.display().to_string()));
            }
        }
    }
    let flaky: Vec<(&SuiteResult, &TestRecord)> = results
        .iter()
        .flat_map(|r| r.tests.iter().filter(|t| t.outcome == Outcome::Flaky).map(move |t| (r, t)))
        .collect();
    if !flaky.is_empty() {
        out.push_str("\n### Flaky (passed on a retry)\n\n");
        for (result, test) in flaky {
            let _ = writeln!(out, "- `{}` `{}`", md(&result.suite), md(&test.id));
        }
    }
    for result in results.iter().filter(|r| r.error.is_some()) {
        let _ = writeln!(out, "\n**{}**: {}", md(&result.suite), md(result.error.as_deref().unwrap_or("")));
    }
    out
}

/// Escaping of a workflow command's message (`::error ...::MESSAGE`).
fn github_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escaping of a workflow command's property value (`file=VALUE,line=...`).
fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

pub(crate) fn github_annotations(root: &Path, results: &[SuiteResult]) -> Vec<String> {
    let failures: Vec<(&SuiteResult, &TestRecord)> =
        results.iter().flat_map(|r| r.failures().map(move |t| (r, t))).collect();
    let mut lines: Vec<String> = failures
        .iter()
        .take(GITHUB_ERROR_LIMIT)
        .map(|(result, test)| {
            let mut properties = Vec::new();
            let report = test.report.as_deref();
            // The failing line when the tool said which; else the test's own.
            let failing = report.and_then(|r| r.at.as_deref()).and_then(|at| at.rsplit_once(':'));
            let failing = failing.and_then(|(file, line)| Some((result.dir.join(file), line.parse::<u32>().ok()?)));
            match failing {
                Some((file, line)) => {
                    let file = file.strip_prefix(root).unwrap_or(&file).display().to_string();
                    properties.push(format!("file={}", github_property(&file)));
                    properties.push(format!("line={line}"));
                }
                None => {
                    if let Some(file) = result.repo_file(root, test) {
                        properties.push(format!("file={}", github_property(&file)));
                    }
                    if let Some(line) = test.line {
                        properties.push(format!("line={line}"));
                    }
                }
            }
            properties.push(format!("title={}", github_property(&format!("{} {}", result.suite, printable(&test.id)))));
            let mut message = crate::text::printable_lines(test.message.as_deref().unwrap_or("failed"));
            if let Some(details) = report.and_then(|r| r.details.as_deref()) {
                message = format!("{message}\n\n{}", crate::text::printable_lines(details));
            }
            format!("::error {}::{}", properties.join(","), github_data(&message))
        })
        .collect();
    if failures.len() > GITHUB_ERROR_LIMIT {
        lines.push(format!(
            "::notice::{} more failed test(s) are listed in the job summary and the JUnit reports",
            failures.len() - GITHUB_ERROR_LIMIT
        ));
    }
    lines
}

/// Writes the JUnit files and summary.md; returns the paths written.
/// Copies what failed browser tests left (screenshots, traces, videos) from the run's directory,
/// which goes at the end of the run, to `<dir>/<suite>/<test>/`; the results then name the copies.
pub(crate) fn keep_artifacts(dir: &Path, results: &[SuiteResult]) -> Vec<SuiteResult> {
    let mut kept = results.to_vec();
    for result in &mut kept {
        for test in &mut result.tests {
            let Some(report) = test.report.as_mut().filter(|r| !r.artifacts.is_empty()) else { continue };
            let folder = dir.join(&result.suite).join(slug(&test.id));
            for (number, (_, path)) in report.artifacts.iter_mut().enumerate() {
                let name =
                    path.file_name().map_or_else(|| format!("artifact-{number}"), |n| n.to_string_lossy().into_owned());
                // Two attempts name their screenshot alike: the later ones are numbered.
                let target = match folder.join(&name).exists() {
                    true => folder.join(format!("{number}-{name}")),
                    false => folder.join(&name),
                };
                if std::fs::create_dir_all(&folder).and_then(|()| std::fs::copy(&*path, &target)).is_ok() {
                    *path = target;
                }
            }
        }
    }
    kept
}

/// A test id as a directory name: letters, digits, `.`, `_` and `-`, at most 80 of them, and a hash
/// that keeps two long ids apart.
fn slug(id: &str) -> String {
    let plain: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).take(80).collect();
    format!("{}-{:08x}", plain.trim_matches('-'), crate::text::short_hash(id))
}

/// Empties the reports directory: a run's reports replace the last run's whole, so that no JUnit
/// file of a suite this run did not have is read by CI as this run's.
pub(crate) fn fresh_reports_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
        _ => {}
    }
    std::fs::create_dir_all(dir)
}

pub(crate) fn write_reports(
    dir: &Path,
    root: &Path,
    results: &[SuiteResult],
    markdown: &str,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let hostname = super::junit::hostname();
    for result in results.iter().filter(|r| r.status != SuiteStatus::NotRun) {
        let path = dir.join(format!("{}.xml", result.suite));
        std::fs::write(&path, super::junit::junit(root, result, &hostname))?;
        written.push(path);
    }
    let path = dir.join("summary.md");
    std::fs::write(&path, markdown)?;
    written.push(path);
    Ok(written)
}

/// The run's results as `merge-reports` reads them back (`events::RunRecord`).
pub(crate) fn write_record(dir: &Path, record: &crate::events::RunRecord) -> std::io::Result<()> {
    let text = serde_json::to_string(record).map_err(std::io::Error::other)?;
    std::fs::write(dir.join(crate::events::record::FILE), text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result() -> SuiteResult {
        let mut result = SuiteResult::new("api", 3, 2, PathBuf::from("/repo/backend"));
        result.status = SuiteStatus::Failed;
        let record = TestRecord::sample;
        result.tests = vec![
            record("core/tests/test_x.py::test_ok", Outcome::Passed, None),
            record("core/tests/test_x.py::test_<bad>[a,b]", Outcome::Failed, Some("assert \"x\" == 'y' & 100%\nmore")),
            record("core/tests/test_x.py::test_retry", Outcome::Flaky, Some("timeout")),
        ];
        (result.stats.passed, result.stats.failed, result.stats.flaky) = (1, 1, 1);
        result
    }

    #[test]
    fn github_annotations_are_escaped_and_limited() {
        let lines = github_annotations(Path::new("/repo"), &[result()]);
        assert_eq!(
            lines,
            ["::error file=backend/core/tests/test_x.py,line=12,title=api core/tests/test_x.py%3A%3Atest_<bad>[a%2Cb]::assert \"x\" == 'y' & 100%25%0Amore"]
        );
        let mut many = result();
        let failed = many.tests[1].clone();
        many.tests = vec![failed; 14];
        let lines = github_annotations(Path::new("/repo"), &[many]);
        assert_eq!(lines.len(), 11);
        assert!(lines[10].starts_with("::notice::4 more failed test(s)"));
    }

    #[test]
    fn markdown_summary_has_the_table_and_failures() {
        let text = summary_markdown(&[result()], Some(0), "ab12cd34");
        assert!(text.contains("| api | 3 | 1 | 1 | 0 | 0 | 1 | 2 | 0.0s | FAILED |"), "{text}");
        assert!(
            text.contains("- `api` `core/tests/test_x.py::test_<bad>[a,b]`: assert \"x\" == 'y' & 100%\\nmore"),
            "{text}"
        );
        assert!(text.contains("### Flaky (passed on a retry)"));
    }
}
