//! SQLite's kept template: a project that tests on SQLite (the depot: an in-memory test database, as
//! pytest-django makes by default) migrates once per content key into a file under target/xtask, and
//! every worker's database is filled from it, run after run, until what `migrate` makes changes.

mod common;

use std::path::Path;

use common::{trace, Project};

const SEED: &str = r#"import os

from django.db import migrations


def seed(apps, schema_editor):
    schema_editor.execute("CREATE TABLE seeded (note text)")
    schema_editor.execute("INSERT INTO seeded VALUES ('seed')")
    # Counts the runs of this migration, for the test.
    with open(os.path.join(os.environ["FIXTURE_OUT"], "migrated"), "a") as out:
        out.write("x")


class Migration(migrations.Migration):
    dependencies = [("stock", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
"#;

const SEEDED_TEST: &str = r#"import pytest

from django.db import connection

pytestmark = [pytest.mark.web, pytest.mark.django_db]


def notes():
    with connection.cursor() as cursor:
        cursor.execute("SELECT note FROM seeded")
        return [row[0] for row in cursor.fetchall()]


def test_the_seed_row_is_there_once():
    assert notes() == ["seed"]


def test_a_write_stays_in_its_test():
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO seeded VALUES ('mine')")
    assert notes() == ["seed", "mine"]
"#;

fn migrated(out: &Path) -> usize {
    std::fs::read_to_string(out.join("migrated")).map_or(0, |text| text.len())
}

fn templates(project: &Project) -> Vec<String> {
    let dir = project.path().join("target/xtask/sqlite/depot");
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().join("default.sqlite3").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    found
}

#[test]
fn a_sqlite_project_migrates_once_into_a_kept_template_and_each_worker_starts_from_it() {
    let project = Project::bare_copy_of("depot");
    std::fs::write(project.path().join("stock/migrations/0002_seed.py"), SEED).unwrap();
    std::fs::write(project.path().join("tests/test_seeded.py"), SEEDED_TEST).unwrap();
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["test-all", "--workers", "2"];
        args.extend(extra);
        let run = common::Run::from(project.xtask(&args).env("FIXTURE_OUT", out_dir).output().unwrap());
        assert_eq!(run.code, 0, "{}", run.explain());
        run
    };

    run(&[]);
    assert_eq!(migrated(out.path()), 1, "one migration for two workers");
    let first = templates(&project);
    assert_eq!(first.len(), 1, "{first:?}");

    // Kept: the next run migrates nothing, and each worker's database is a copy of the template.
    run(&[]);
    assert_eq!(migrated(out.path()), 1, "the kept template was used");
    let spans = trace(project.path());
    let copies = spans.iter().filter(|(name, ..)| name.starts_with("copy ") && name.ends_with("into default")).count();
    assert_eq!(copies, 2, "one copy per worker: {spans:?}");
    assert!(!spans.iter().any(|(name, ..)| name.starts_with("migrate ")), "{spans:?}");

    // --fresh-db builds it again, once.
    run(&["--fresh-db"]);
    assert_eq!(migrated(out.path()), 2);
    assert_eq!(templates(&project), first, "same content, same key");

    // What migrate makes changed: another template; the old one is kept beside it (a branch's base).
    std::fs::write(
        project.path().join("stock/migrations/0003_noop.py"),
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    dependencies = [(\"stock\", \"0002_seed\")]\n    operations = []\n",
    )
    .unwrap();
    run(&[]);
    assert_eq!(migrated(out.path()), 3, "a changed migration rebuilds");
    let now = templates(&project);
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(now.contains(&first[0]), "{now:?}");
    // Back on the old content: its template is still there and used as it is.
    std::fs::remove_file(project.path().join("stock/migrations/0003_noop.py")).unwrap();
    run(&[]);
    assert_eq!(migrated(out.path()), 3, "the base's template was kept");

    let doctor = project.run(&["doctor"]);
    let line = doctor.stdout.lines().find(|line| line.contains("SQLite templates")).unwrap_or_default().to_owned();
    assert!(now.iter().all(|key| line.contains(key.as_str())), "doctor names both kept keys: {}", doctor.explain());
}
