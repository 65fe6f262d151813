//! A PostgreSQL server reached through `psql`: the user's server (`--db-url`), whose test databases
//! of this run are dropped at the end, the sweep's exact drops, and describing a URL without its
//! credentials.

use xshell::{cmd, Shell};

use crate::exit::environment;
use crate::services::pg_bin::find_psql;
use crate::text::telling_line;

/// The user's server. This run's test databases (names starting with its prefix) are dropped on drop.
pub(crate) struct ExternalServer {
    url: String,
    prefix: String,
}

impl ExternalServer {
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn connect(url: &str, prefix: &str) -> anyhow::Result<ExternalServer> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            // Not echoed: without a scheme, nothing tells a password from a host name in it.
            return Err(crate::exit::usage(
                "the database URL (--db-url or DATABASE_URL) must start with postgresql://: fix it, e.g. \
                 postgresql://user@localhost:5432/postgres",
            ));
        }
        let role = psql(url, "SELECT current_user, rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")
            .map_err(|error| {
                environment(format!(
                    "cannot reach PostgreSQL at {}: {error}: start it or fix --db-url / DATABASE_URL",
                    describe(url)
                ))
            })?;
        // Every test database is created by this role: without the privilege, every test would fail.
        if let Some((user, "f")) = role.trim().split_once('|') {
            return Err(environment(format!(
                "the role `{user}` of --db-url / DATABASE_URL ({}) may not create databases, and the tests need \
                 to: grant it (ALTER ROLE {user} CREATEDB) or name a role that may",
                describe(url)
            )));
        }
        // The prefix goes into a query: only the characters of names the xtask makes.
        if !is_safe_name(prefix) {
            return Err(crate::exit::usage(format!("`{prefix}` cannot prefix database names: [a-z0-9_] only")));
        }
        Ok(ExternalServer { url: url.to_owned(), prefix: prefix.to_owned() })
    }
}

impl Drop for ExternalServer {
    /// This run's test databases still on the server, all dropped by one `psql`.
    fn drop(&mut self) {
        let _ = drop_where(&self.url, &format!("starts_with(datname, '{}')", self.prefix));
    }
}

/// The sweep's part: drops exactly these names (those a dead run recorded), where they exist; how
/// many were dropped. A name that is not one the xtask could have made is never touched.
pub(crate) fn drop_recorded(url: &str, names: &[String]) -> Result<usize, String> {
    let names: Vec<&String> = names.iter().filter(|name| is_safe_name(name) && name.starts_with("test_")).collect();
    if names.is_empty() {
        return Ok(0);
    }
    let list = names.iter().map(|name| format!("'{name}'")).collect::<Vec<_>>().join(", ");
    drop_where(url, &format!("datname IN ({list})"))
}

/// Drops every database that `condition` (SQL on `pg_database`, built by the xtask from safe names
/// only) selects, whoever is still connected to it, in one `psql`: a run's end waits for one
/// process rather than one per database. How many there were.
pub(crate) fn drop_where(url: &str, condition: &str) -> Result<usize, String> {
    let script = format!(
        "SELECT count(*) FROM pg_database WHERE {condition};\n\
         SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', datname) FROM pg_database WHERE {condition} \\gexec\n"
    );
    let out = run_psql(url, &["-f", "-"], Some(&script))?;
    Ok(out.trim().parse().unwrap_or(0))
}

/// On a given server, before the pytest session starts: for every alias of `project` with a
/// template there (of `settings` when known), clones the one a run used last under the name each
/// process will ask for, marked for `run` exactly as the xdist controller marks the clones it makes
/// ahead (`db/early.py`), so that each process takes its clone as it is. A clone of a server's disk
/// takes a while (0.4 s on the fine benchmark project), and the interpreters' start-up is that time
/// spent anyway.
///
/// `processes`: each process's base name (the session's) and suffix (`_gw0`; "" in-process), in
/// the order they start; an alias's name is the plugin's (`isolation.test_name`), and an alias whose
/// name the plugin would shorten by a hash is left to the processes. A name of this run's still
/// there is a cycle's before (`watch`, `stress`), which none of this run's processes uses now: it is
/// replaced. It holds the project's template lock (the plugin's `_lock_id`, computed by the server),
/// only if free: a run that builds or clones meanwhile is not waited for. A guess gone stale (the
/// content key changed) is dropped by the process that finds it and cloned again, as any clone made
/// for another template. The templates cloned, or why nothing was.
pub(crate) fn clone_ahead(
    url: &str,
    project: &str,
    settings: Option<&str>,
    run: &str,
    processes: &[(String, String)],
) -> Result<String, String> {
    if processes.is_empty() || !processes.iter().all(|(base, suffix)| is_safe_name(&format!("{base}{suffix}"))) {
        return Err("no name to clone under".to_owned());
    }
    let values: Vec<String> = processes
        .iter()
        .enumerate()
        .map(|(order, (base, suffix))| format!("({order}, '{base}', '{suffix}')"))
        .collect();
    // Per alias, the template used last; per process, its name (the plugin's rule for an alias).
    let clones = format!(
        "kept AS (SELECT datname, shobj_description(oid, 'pg_database') AS fields FROM pg_database \
           WHERE starts_with(datname, 'xtask_tpl_' || :'project' || '_')), \
         last AS (SELECT DISTINCT ON (alias) substring(fields from ' alias=([^ ]+)') AS alias, datname AS template \
           FROM kept WHERE substring(fields from ' alias=([^ ]+)') IS NOT NULL \
           AND (:'settings' = '' OR position(' settings=' || :'settings' || ' ' in fields) > 0) \
           ORDER BY alias, coalesce(substring(fields from ' used=([0-9]+)')::bigint, 0) DESC), \
         named AS (SELECT last.*, process.position, process.suffix, process.base || CASE WHEN alias = 'default' \
           THEN '' ELSE '_' || regexp_replace(lower(alias), '[^a-z0-9_]', '_', 'g') END AS stem \
           FROM last CROSS JOIN (VALUES {values}) AS process(position, base, suffix)), \
         clones AS (SELECT template, stem || suffix AS name, position, alias FROM named \
           WHERE alias = 'default' OR length(stem) <= 56)",
        values = values.join(", ")
    );
    let script = format!(
        "SELECT pg_try_advisory_lock(('x' || left(encode(sha256(convert_to('xtask-templates:' || :'project', \
         'UTF8')), 'hex'), 16))::bit(64)::bigint) AS locked \\gset\n\
         \\if :locked\n\
         WITH {clones} \
         SELECT coalesce(string_agg(DISTINCT template, ', '), '') FROM clones;\n\
         WITH {clones} \
         SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', name), \
           format('CREATE DATABASE %I TEMPLATE %I', name, template), \
           format('COMMENT ON DATABASE %I IS %L', name, 'xtask clone for a worker: preclone=' || template || ' run=' || :'run') \
           FROM clones ORDER BY position, alias <> 'default', alias \\gexec\n\
         \\else\n\
         \\echo -\n\
         \\endif\n",
    );
    let variables = [("project", project), ("settings", settings.unwrap_or("")), ("run", run)]
        .map(|(name, value)| format!("{name}={value}"));
    let args: Vec<&str> = variables.iter().flat_map(|pair| ["-v", pair.as_str()]).chain(["-f", "-"]).collect();
    let out = run_psql(url, &args, Some(&script))?;
    match out.lines().next().unwrap_or("").trim() {
        "-" => Err("another run holds the project's template lock".to_owned()),
        "" => Err("no template of this project on the server yet".to_owned()),
        templates => Ok(templates.to_owned()),
    }
}

/// Runs one statement through `psql`. A password in the URL goes to psql's environment
/// (`PGPASSWORD`), never to its command line, where any user could read it.
pub(crate) fn psql(url: &str, sql: &str) -> Result<String, String> {
    run_psql(url, &["-c", sql], None)
}

fn run_psql(url: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let psql = find_psql().ok_or("psql is not installed (apt-get install postgresql-client-15)")?;
    let (url, password) = split_password(url);
    let sh = Shell::new().map_err(|error| error.to_string())?;
    let mut command = cmd!(sh, "{psql} -X -A -t -q -v ON_ERROR_STOP=1 -d {url} {args...}")
        .env("PGCONNECT_TIMEOUT", "5")
        .ignore_status();
    if let Some(password) = password {
        command = command.env("PGPASSWORD", password);
    }
    if let Some(stdin) = stdin {
        command = command.stdin(stdin);
    }
    let output = command.output().map_err(|error| error.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(crate::text::redact(&telling_line(&String::from_utf8_lossy(&output.stderr)).replace("psql: error: ", "")))
    }
}

/// The URL without its password, and the password (percent-decoded, as libpq would).
fn split_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else { return (url.to_owned(), None) };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some((credentials, host)) = rest[..end].rsplit_once('@') else { return (url.to_owned(), None) };
    let Some((user, password)) = credentials.split_once(':') else { return (url.to_owned(), None) };
    (format!("{scheme}://{user}@{host}{}", &rest[end..]), Some(percent_decode(password)))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[index], bytes.get(index + 1).and_then(|b| hex(*b)), bytes.get(index + 2).and_then(|b| hex(*b))) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                index += 3;
            }
            (byte, ..) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A name the xtask could have made: `[a-z0-9_]`, at most 63 bytes (PostgreSQL's limit).
fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `host:port/db` of a URL, without user or password, for messages.
pub(crate) fn describe(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
    let socket = query.split('&').find_map(|pair| pair.strip_prefix("host="));
    match socket {
        Some(dir) => format!("{dir} ({address})"),
        None => address.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_hides_credentials() {
        assert_eq!(describe("postgresql://user:secret@db.local:5433/app"), "db.local:5433/app");
        assert_eq!(describe("postgresql://postgres@/postgres?host=/tmp/x&port=5432"), "/tmp/x (/postgres)");
        assert_eq!(
            split_password("postgresql://u:p%40ss@h:5/d?x=1"),
            ("postgresql://u@h:5/d?x=1".to_owned(), Some("p@ss".to_owned()))
        );
        assert_eq!(split_password("postgresql://u@h/d"), ("postgresql://u@h/d".to_owned(), None));
    }

    #[test]
    fn unsafe_database_names_are_never_dropped() {
        assert!(is_safe_name("test_demo_ab12cd34_unit_gw0"));
        assert!(!is_safe_name("test\"; DROP"));
        assert!(!is_safe_name(""));
        assert!(!is_safe_name("zz'); CREATE TABLE injected_marker(x int); SELECT ('"));
    }
}
