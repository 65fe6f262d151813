//! Reports in files: JUnit XML per suite and summary.md under target/xtask/reports/, and on GitHub
//! Actions the step summary and one `::error` annotation per failed test.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::events::{Outcome, SuiteResult, SuiteStatus, TestRecord};
use crate::reporter::summary::{seconds, status_word};
use crate::reporter::Style;

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

/// A test's file relative to the repository root, as JUnit consumers and GitHub want it.
fn repo_path(root: &Path, result: &SuiteResult, test: &TestRecord) -> Option<String> {
    let file = result.dir.join(test.file.as_deref()?);
    Some(file.strip_prefix(root).unwrap_or(&file).display().to_string())
}

pub(crate) fn junit(root: &Path, result: &SuiteResult) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let errors = u64::from(result.status == SuiteStatus::Errored);
    let counts = format!(
        "name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{errors}\" skipped=\"{}\" time=\"{:.3}\"",
        xml(&result.suite),
        result.tests.len(),
        result.stats.failed,
        result.stats.skipped,
        result.wall.as_secs_f64()
    );
    let _ = writeln!(out, "<testsuites {counts}>\n  <testsuite {counts}>");
    for test in &result.tests {
        let mut attributes = format!(
            "classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml(&result.suite),
            xml(&test.id),
            test.duration.as_secs_f64()
        );
        if let Some(file) = repo_path(root, result, test) {
            let _ = write!(attributes, " file=\"{}\"", xml(&file));
        }
        if let Some(line) = test.line {
            let _ = write!(attributes, " line=\"{line}\"");
        }
        let message = xml(test.message.as_deref().unwrap_or(""));
        match test.outcome {
            Outcome::Passed => {
                let _ = writeln!(out, "    <testcase {attributes}/>");
            }
            Outcome::Failed => {
                let _ = writeln!(out, "    <testcase {attributes}>\n      <failure message=\"{message}\" type=\"failure\"/>\n    </testcase>");
            }
            Outcome::Skipped => {
                let _ = writeln!(
                    out,
                    "    <testcase {attributes}>\n      <skipped message=\"{message}\"/>\n    </testcase>"
                );
            }
            Outcome::Flaky => {
                // Passed, but only on a retry: said in a property and in the output, never hidden.
                let _ = writeln!(
                    out,
                    "    <testcase {attributes}>\n      <properties><property name=\"flaky\" value=\"true\"/></properties>\n      \
                     <system-out>flaky: {message}</system-out>\n    </testcase>"
                );
            }
        }
    }
    if let Some(error) = &result.error {
        let _ = writeln!(
            out,
            "    <testcase classname=\"{0}\" name=\"{0} (runner)\">\n      <error message=\"{1}\" type=\"error\"/>\n    </testcase>",
            xml(&result.suite),
            xml(error)
        );
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

pub(crate) fn summary_markdown(results: &[SuiteResult], unassigned: Option<u64>, run: &str) -> String {
    let plain = Style::plain();
    let mut out = format!("## Test results (run {run})\n\n");
    out.push_str("| suite | tests | passed | failed | skipped | flaky | workers | wall | status |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md(&r.suite),
            r.stats.total,
            r.stats.passed,
            r.stats.failed,
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
    let failures: Vec<(&SuiteResult, &TestRecord)> =
        results.iter().flat_map(|r| r.failures().map(move |t| (r, t))).collect();
    if !failures.is_empty() {
        out.push_str("\n### Failures\n\n");
        for (result, test) in failures {
            let _ = writeln!(
                out,
                "- `{}` `{}`: {}",
                md(&result.suite),
                md(&test.id),
                md(test.message.as_deref().unwrap_or(""))
            );
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
            if let Some(file) = repo_path(root, result, test) {
                properties.push(format!("file={}", github_property(&file)));
            }
            if let Some(line) = test.line {
                properties.push(format!("line={line}"));
            }
            properties.push(format!("title={}", github_property(&format!("{} {}", result.suite, test.id))));
            format!("::error {}::{}", properties.join(","), github_data(test.message.as_deref().unwrap_or("failed")))
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
pub(crate) fn write_reports(
    dir: &Path,
    root: &Path,
    results: &[SuiteResult],
    markdown: &str,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for result in results.iter().filter(|r| r.status != SuiteStatus::NotRun) {
        let path = dir.join(format!("{}.xml", result.suite));
        std::fs::write(&path, junit(root, result))?;
        written.push(path);
    }
    let path = dir.join("summary.md");
    std::fs::write(&path, markdown)?;
    written.push(path);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn result() -> SuiteResult {
        let mut result = SuiteResult::new("api", 3, 2, PathBuf::from("/repo/backend"));
        result.status = SuiteStatus::Failed;
        let record = |id: &str, outcome, message: Option<&str>| TestRecord {
            id: id.into(),
            outcome,
            duration: Duration::from_millis(250),
            worker: "gw0".into(),
            message: message.map(str::to_owned),
            file: Some("core/tests/test_x.py".into()),
            line: Some(12),
            start: None,
            stop: None,
        };
        result.tests = vec![
            record("core/tests/test_x.py::test_ok", Outcome::Passed, None),
            record("core/tests/test_x.py::test_<bad>[a,b]", Outcome::Failed, Some("assert \"x\" == 'y' & 100%\nmore")),
            record("core/tests/test_x.py::test_retry", Outcome::Flaky, Some("timeout")),
        ];
        (result.stats.passed, result.stats.failed, result.stats.flaky) = (1, 1, 1);
        result
    }

    #[test]
    fn junit_escapes_and_marks_flaky_tests() {
        let text = junit(Path::new("/repo"), &result());
        assert!(text.contains(r#"<testsuite name="api" tests="3" failures="1" errors="0" skipped="0""#), "{text}");
        assert!(text.contains(r#"name="core/tests/test_x.py::test_&lt;bad&gt;[a,b]""#), "{text}");
        assert!(text.contains(r#"file="backend/core/tests/test_x.py" line="12""#), "{text}");
        assert!(text.contains(r#"<failure message="assert &quot;x&quot; == &apos;y&apos; &amp; 100%"#), "{text}");
        assert!(text.contains(r#"<property name="flaky" value="true"/>"#), "{text}");
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
        assert!(text.contains("| api | 3 | 1 | 1 | 0 | 1 | 2 | 0.0s | FAILED |"), "{text}");
        assert!(
            text.contains("- `api` `core/tests/test_x.py::test_<bad>[a,b]`: assert \"x\" == 'y' & 100% more"),
            "{text}"
        );
        assert!(text.contains("### Flaky (passed on a retry)"));
    }
}
