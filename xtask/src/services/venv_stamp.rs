//! The stamp a finished install writes into a managed virtualenv (`.xtask-requirements`): the hash
//! of what it was made from, then what was installed (each `*.dist-info` of its site-packages, that
//! is a distribution's name and version). A run compares both: changed requirements make it stale,
//! and so does a package installed, upgraded or removed by hand since (`pip install pypdf==7.1.1`
//! over a pin), so the next run puts the pins back and `doctor` names what drifted. Reading a
//! directory listing costs no interpreter start.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use super::venv_owner::STAMP;

/// What a stamp says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) inputs: String,
    /// None for a stamp written before the installed distributions were recorded.
    pub(crate) installed: Option<BTreeSet<String>>,
}

impl Stamp {
    pub(crate) fn read(venv: &Path) -> Option<Stamp> {
        let text = fs::read_to_string(venv.join(STAMP)).ok()?;
        let mut lines = text.lines();
        let inputs = lines.next()?.trim().to_owned();
        let installed: BTreeSet<String> =
            lines.map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect();
        Some(Stamp { inputs, installed: (!installed.is_empty()).then_some(installed) })
    }

    /// Stamps the environment as it is now, made from `inputs`.
    pub(crate) fn write(venv: &Path, inputs: &str) -> std::io::Result<()> {
        let mut text = format!("{inputs}\n");
        for name in installed(venv) {
            text.push_str(&name);
            text.push('\n');
        }
        fs::write(venv.join(STAMP), text)
    }

    /// What changed in the environment since it was stamped, as `pypdf 7.1.0 → 7.1.1, six 1.16.0
    /// added`; None when nothing did (or the stamp did not record it).
    pub(crate) fn drift(&self, venv: &Path) -> Option<String> {
        let before = self.installed.as_ref()?;
        let now = installed(venv);
        if &now == before {
            return None;
        }
        let versions =
            |set: &BTreeSet<String>| -> Vec<(String, String)> { set.iter().map(|name| split(name)).collect() };
        let (old, new) = (versions(before), versions(&now));
        let version_of = |list: &[(String, String)], name: &str| {
            list.iter().find(|(n, _)| n == name).map(|(_, version)| version.clone())
        };
        let mut changes = Vec::new();
        for (name, version) in &new {
            match version_of(&old, name) {
                Some(was) if &was != version => changes.push(format!("{name} {was} → {version}")),
                Some(_) => {}
                None => changes.push(format!("{name} {version} added")),
            }
        }
        for (name, version) in &old {
            if version_of(&new, name).is_none() {
                changes.push(format!("{name} {version} removed"));
            }
        }
        Some(changes.join(", "))
    }
}

/// The `*.dist-info` directories of the environment's site-packages, without the suffix
/// (`pypdf-7.1.0`).
fn installed(venv: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for lib in ["lib", "lib64"] {
        for python in fs::read_dir(venv.join(lib)).into_iter().flatten().flatten() {
            for entry in fs::read_dir(python.path().join("site-packages")).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(stem) = name.strip_suffix(".dist-info") {
                    found.insert(stem.to_owned());
                }
            }
        }
    }
    found
}

/// `pypdf-7.1.0` → (`pypdf`, `7.1.0`): a distribution's file name has no `-` in its name part.
fn split(stem: &str) -> (String, String) {
    match stem.split_once('-') {
        Some((name, version)) => (name.to_owned(), version.to_owned()),
        None => (stem.to_owned(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_changed_by_hand_since_the_stamp_is_named_with_both_versions() {
        let venv = tempfile::tempdir().unwrap();
        let site = venv.path().join("lib/python3.11/site-packages");
        for name in ["pypdf-7.1.0.dist-info", "pytest-8.3.0.dist-info", "six-1.16.0.dist-info", "pypdf"] {
            fs::create_dir_all(site.join(name)).unwrap();
        }
        Stamp::write(venv.path(), "abc").unwrap();
        let stamp = Stamp::read(venv.path()).unwrap();
        assert_eq!(stamp.inputs, "abc");
        assert_eq!(stamp.drift(venv.path()), None, "nothing changed");
        fs::rename(site.join("pypdf-7.1.0.dist-info"), site.join("pypdf-7.1.1.dist-info")).unwrap();
        fs::remove_dir(site.join("six-1.16.0.dist-info")).unwrap();
        fs::create_dir(site.join("requests-2.32.0.dist-info")).unwrap();
        assert_eq!(
            stamp.drift(venv.path()).as_deref(),
            Some("pypdf 7.1.0 → 7.1.1, requests 2.32.0 added, six 1.16.0 removed")
        );
        // A stamp of an older xtask (the hash alone) says nothing of drift.
        fs::write(venv.path().join(STAMP), "abc\n").unwrap();
        assert_eq!(Stamp::read(venv.path()).unwrap().drift(venv.path()), None);
    }
}
