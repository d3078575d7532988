//! One configuration for both ways to run. Every setting has one name, spelt three ways:
//! the flag `--accept-within-minutes`, the variable `OMS_ACCEPT_WITHIN_MINUTES`, and the
//! key `accept_within_minutes` of the configuration file (`oms.toml` in the working
//! directory, or the file `--config` / `OMS_CONFIG` names). A flag wins over the
//! environment, the environment over the file, the file over the built-in default.
//!
//! The file may group its keys in tables (`[store-fulfilment]`) for the reader; a key
//! means the same wherever it stands, and a key no command knows is refused, named.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Arg, Command, CommandFactory, FromArgMatches};

/// What `oms config show` says of a setting whose default differs between commands.
pub const PER_COMMAND: &str = "(each its own)";

/// The file read when none is named.
pub const DEFAULT_FILE: &str = "oms.toml";

/// The `--config` flag every command takes (read before the rest: see [`parse`]).
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigFlag {
    /// The configuration file (TOML); without it, OMS_CONFIG or ./oms.toml when present.
    /// Flags win over the environment, the environment over the file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The settings a configuration file gives, by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub values: BTreeMap<String, String>,
}

impl ConfigFile {
    /// Reads a configuration file: `key = value` pairs, at the top or in tables.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> anyhow::Result<Self> {
        let document = toml_edit::Document::parse(text)
            .map_err(|e| anyhow::anyhow!("{} is not a TOML file: {e}", path.display()))?;
        let mut values = BTreeMap::new();
        collect(path, document.as_item(), "", &mut values)?;
        Ok(Self {
            path: path.to_owned(),
            values,
        })
    }

    /// The file named by `--config` or `OMS_CONFIG`, or `oms.toml` if there is one here.
    pub fn find(args: &[OsString]) -> anyhow::Result<Option<Self>> {
        let named = args
            .iter()
            .enumerate()
            .find_map(|(i, arg)| {
                let arg = arg.to_str()?;
                match arg.strip_prefix("--config=") {
                    Some(path) => Some(PathBuf::from(path)),
                    None if arg == "--config" => args.get(i + 1).map(PathBuf::from),
                    None => None,
                }
            })
            .or_else(|| std::env::var_os("OMS_CONFIG").map(PathBuf::from));
        match named {
            Some(path) => Self::read(&path).map(Some),
            None if Path::new(DEFAULT_FILE).exists() => Self::read(Path::new(DEFAULT_FILE)).map(Some),
            None => Ok(None),
        }
    }
}

fn collect(
    path: &Path,
    item: &toml_edit::Item,
    table: &str,
    values: &mut BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let Some(entries) = item.as_table_like() else {
        return Ok(());
    };
    for (key, value) in entries.iter() {
        let text = if let Some(s) = value.as_str() {
            s.to_owned()
        } else if let Some(n) = value.as_integer() {
            n.to_string()
        } else if let Some(b) = value.as_bool() {
            b.to_string()
        } else if let Some(f) = value.as_float() {
            f.to_string()
        } else if value.is_table_like() && table.is_empty() {
            collect(path, value, key, values)?;
            continue;
        } else {
            anyhow::bail!("{}: `{key}` must be a string, a number or true/false", path.display());
        };
        if values.insert(key.to_owned(), text).is_some() {
            anyhow::bail!("{}: `{key}` is given twice", path.display());
        }
    }
    Ok(())
}

/// The configuration-file key of a setting, from its variable (`OMS_X_Y` → `x_y`).
pub fn key_of(env: &str) -> Option<String> {
    env.strip_prefix("OMS_").map(str::to_lowercase)
}

/// One setting some command takes: its file key, its variable, and what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub env: String,
    pub help: String,
    pub default: Option<String>,
    /// The commands that take it (`run`, `serve routing`, `oms-routing`...).
    pub used_by: Vec<String>,
}

/// Every setting of `command` and its subcommands, by key.
pub fn settings_of(command: &Command) -> BTreeMap<String, Setting> {
    let mut settings = BTreeMap::new();
    visit(command, "", &mut settings);
    settings
}

fn visit(command: &Command, path: &str, settings: &mut BTreeMap<String, Setting>) {
    let here = if path.is_empty() {
        command.get_name().to_owned()
    } else {
        format!("{path} {}", command.get_name())
    };
    for arg in command.get_arguments() {
        let Some(env) = arg.get_env().and_then(|e| e.to_str()) else {
            continue;
        };
        let Some(key) = key_of(env) else { continue };
        let default = arg
            .get_default_values()
            .first()
            .and_then(|d| d.to_str())
            .map(str::to_owned);
        let setting = settings.entry(key.clone()).or_insert_with(|| Setting {
            key,
            env: env.to_owned(),
            help: arg.get_help().map(std::string::ToString::to_string).unwrap_or_default(),
            default: default.clone(),
            used_by: Vec::new(),
        });
        // One name, defaults of their own (each service's port): say so rather than pick one.
        if setting.default != default {
            setting.default = Some(PER_COMMAND.to_owned());
        }
        setting.used_by.push(here.clone());
    }
    for sub in command.get_subcommands() {
        visit(sub, &here, settings);
    }
}

/// `command` with the file's values as its defaults (under flags and the environment).
/// A key none of the commands knows is refused, with the keys that are known.
pub fn with_file(command: Command, file: &ConfigFile) -> anyhow::Result<Command> {
    let known = settings_of(&command);
    if let Some(unknown) = file.values.keys().find(|k| !known.contains_key(*k)) {
        anyhow::bail!(
            "{}: no command takes a setting `{unknown}`; the settings are: {}",
            file.path.display(),
            known.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(apply(command, file))
}

fn apply(command: Command, file: &ConfigFile) -> Command {
    command
        .mut_args(|arg| file_default(arg, file))
        .mut_subcommands(|sub| apply(sub, file))
}

fn file_default(arg: Arg, file: &ConfigFile) -> Arg {
    let value = arg
        .get_env()
        .and_then(|env| env.to_str())
        .and_then(key_of)
        .and_then(|key| file.values.get(&key).cloned());
    match value {
        // A setting the file gives is no longer missing.
        Some(value) => arg.default_value(value).required(false),
        None => arg,
    }
}

/// Parses the process's arguments as `P`, with the configuration file under the
/// environment and the flags; exits with clap's message on bad input.
pub fn parse<P: CommandFactory + FromArgMatches>() -> anyhow::Result<P> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let command = match ConfigFile::find(&args)? {
        Some(file) => with_file(P::command(), &file)?,
        None => P::command(),
    };
    let matches = command.get_matches_from(args);
    P::from_arg_matches(&matches).map_err(|e| e.exit())
}

/// Where a setting's value comes from, as `oms config show` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Environment,
    File,
    Default,
    Unset,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Environment => "environment",
            Source::File => "file",
            Source::Default => "default",
            Source::Unset => "not set",
        }
    }
}

/// The value a setting has without flags, and where it comes from. Secrets are masked.
pub fn effective(setting: &Setting, file: Option<&ConfigFile>) -> (String, Source) {
    let (value, source) = if let Ok(value) = std::env::var(&setting.env) {
        (value, Source::Environment)
    } else if let Some(value) = file.and_then(|f| f.values.get(&setting.key)) {
        (value.clone(), Source::File)
    } else if let Some(value) = &setting.default {
        (value.clone(), Source::Default)
    } else {
        (String::new(), Source::Unset)
    };
    (redact(&setting.key, &value), source)
}

/// A value as it may be shown: passwords in URLs and secret settings masked.
pub fn redact(key: &str, value: &str) -> String {
    let secret = ["password", "secret", "token", "private_key"]
        .iter()
        .any(|word| key.contains(word));
    if secret && !value.is_empty() {
        return "********".to_owned();
    }
    // scheme://user:password@host... → scheme://user:********@host...
    if let Some((scheme, rest)) = value.split_once("://")
        && let Some((credentials, host)) = rest.split_once('@')
        && let Some((user, _password)) = credentials.split_once(':')
    {
        return format!("{scheme}://{user}:********@{host}");
    }
    value.to_owned()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    #[command(name = "oms")]
    struct Cli {
        #[arg(long, env = "OMS_TEST_ACCEPT_WITHIN_MINUTES", default_value_t = 60)]
        accept_within_minutes: i64,
        #[arg(long, env = "OMS_TEST_STORE_URL")]
        store_url: String,
    }

    fn file(text: &str) -> ConfigFile {
        ConfigFile::parse(Path::new("oms.toml"), text).expect("a configuration file")
    }

    #[test]
    fn the_file_gives_values_under_the_flags_and_grouping_tables_are_only_for_the_reader() {
        let file =
            file("test_store_url = \"sqlite://data/x.db\"\n[store-fulfilment]\ntest_accept_within_minutes = 2\n");
        let command = with_file(Cli::command(), &file).unwrap();
        let cli = Cli::from_arg_matches(&command.clone().get_matches_from(["oms"])).unwrap();
        assert_eq!(
            (cli.accept_within_minutes, cli.store_url.as_str()),
            (2, "sqlite://data/x.db")
        );
        let flag = command.get_matches_from(["oms", "--accept-within-minutes", "5"]);
        assert_eq!(Cli::from_arg_matches(&flag).unwrap().accept_within_minutes, 5);
    }

    #[test]
    fn an_unknown_key_is_refused_by_name_with_the_known_ones() {
        let error = with_file(Cli::command(), &file("accept_within_mintues = 2\n"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("`accept_within_mintues`"), "{error}");
        assert!(error.contains("test_accept_within_minutes"), "{error}");
    }

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(
            redact("store_url", "postgres://oms:hunter2@db:5432/oms"),
            "postgres://oms:********@db:5432/oms"
        );
        assert_eq!(redact("kafka_sasl_password", "hunter2"), "********");
        assert_eq!(
            redact("store_url", "sqlite://data/orders.db"),
            "sqlite://data/orders.db"
        );
    }
}
