//! What a managed environment needs of a pyproject.toml: whether it builds a package, its
//! dependencies, and its PEP 735 dependency groups, expanded so that plain pip can install them.

use std::fs;
use std::path::{Path, PathBuf};

use crate::exit::usage;

/// What the install needs of a pyproject.toml: whether it builds a package, its dependencies, its
/// PEP 735 dependency groups.
pub(crate) struct Pyproject {
    pub(crate) installable: bool,
    pub(crate) dependencies: Vec<String>,
    groups: toml::Table,
    path: PathBuf,
}

impl Pyproject {
    pub(crate) fn read(dir: &Path) -> anyhow::Result<Pyproject> {
        let path = dir.join("pyproject.toml");
        let text = fs::read_to_string(&path).map_err(|error| {
            usage(format!("cannot read {}: {error}: fix [backend] install in xtask.toml", path.display()))
        })?;
        let table: toml::Table = toml::from_str(&text)
            .map_err(|error| usage(format!("{}: {}", path.display(), error.message().trim_end())))?;
        let project = table.get("project").and_then(toml::Value::as_table);
        let strings = |value: Option<&toml::Value>| -> Vec<String> {
            value
                .and_then(toml::Value::as_array)
                .map(|items| items.iter().filter_map(|item| item.as_str().map(str::to_owned)).collect())
                .unwrap_or_default()
        };
        Ok(Pyproject {
            installable: project.is_some() && table.contains_key("build-system"),
            dependencies: strings(project.and_then(|p| p.get("dependencies"))),
            groups: table.get("dependency-groups").and_then(toml::Value::as_table).cloned().unwrap_or_default(),
            path,
        })
    }

    /// A group's requirements, `{include-group = "..."}` entries resolved.
    pub(crate) fn group(&self, name: &str) -> anyhow::Result<Vec<String>> {
        self.group_within(name, &mut Vec::new())
    }

    fn group_within(&self, name: &str, seen: &mut Vec<String>) -> anyhow::Result<Vec<String>> {
        let Some(items) = self.groups.get(name).and_then(toml::Value::as_array) else {
            let known: Vec<&str> = self.groups.keys().map(String::as_str).collect();
            return Err(usage(format!(
                "{} has no dependency group `{name}` (groups: {}): fix [backend] install in xtask.toml",
                self.path.display(),
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            )));
        };
        if seen.iter().any(|s| s == name) {
            return Err(usage(format!("{}: dependency group `{name}` includes itself", self.path.display())));
        }
        seen.push(name.to_owned());
        let mut requirements = Vec::new();
        for item in items {
            match (item.as_str(), item.get("include-group").and_then(toml::Value::as_str)) {
                (Some(requirement), _) => requirements.push(requirement.to_owned()),
                (None, Some(included)) => requirements.extend(self.group_within(included, seen)?),
                _ => {}
            }
        }
        seen.pop();
        Ok(requirements)
    }
}
