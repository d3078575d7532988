//! Tokens for people, systems and tests: `oms token issue` signs one with a local key (the
//! one `oms run` keeps in its data directory, or one `oms token keygen` made for a
//! deployment), and the `oms` commands that call the APIs find theirs here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use oms_service::auth::keys::{ActsFor, JWKS_FILE, KEY_FILE};
use oms_service::auth::{Identity, LocalKey, Role};

/// Where `oms run` keeps its key: `auth/` in its data directory.
pub fn key_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("auth")
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenAction {
    /// Prints a token signed with the local key. For example, a store's staff for a shift:
    /// `oms token issue --role store-staff --store STORE-BER-MITTE --ttl 8h`.
    Issue(IssueArgs),
    /// Makes a signing key for a deployment: signing-key.json (secret: keep it where
    /// tokens are issued) and jwks.json (give it to every service: --auth-jwks-file).
    Keygen {
        /// Where to write the two files.
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    /// sales-channel, pos, store-staff, customer-service, wms, operator or service.
    #[arg(long, value_parser = parse_role)]
    role: Role,
    /// A store it acts for (repeat for several).
    #[arg(long = "store")]
    stores: Vec<String>,
    /// A channel it acts for: web, app, marketplace, store or call-centre (repeat).
    #[arg(long = "channel")]
    channels: Vec<String>,
    /// A node (warehouse, 3PL, supplier) it acts for (repeat).
    #[arg(long = "node")]
    nodes: Vec<String>,
    /// Who it is for (a person, a system; for role service, the service's name).
    #[arg(long, default_value = "oms-user")]
    subject: String,
    /// How long it is valid: 90s, 30m, 8h, 7d.
    #[arg(long, default_value = "8h", value_parser = parse_ttl)]
    ttl: Duration,
    /// The directory of the signing key.
    #[arg(long, env = "OMS_AUTH_KEY_DIR", default_value = "data/auth")]
    key_dir: PathBuf,
}

pub fn run(action: TokenAction) -> anyhow::Result<()> {
    match action {
        TokenAction::Issue(args) => {
            let key = LocalKey::load(&args.key_dir).with_context(|| {
                format!(
                    "no signing key in {}: `oms run` makes one in its data directory on first start, \
                     `oms token keygen --dir DIR` makes one for a deployment; pass --key-dir",
                    args.key_dir.display()
                )
            })?;
            let acts_for = ActsFor {
                stores: args.stores,
                channels: args.channels,
                nodes: args.nodes,
            };
            println!("{}", key.issue(&args.subject, args.role, acts_for, args.ttl)?);
            Ok(())
        }
        TokenAction::Keygen { dir } => {
            anyhow::ensure!(
                !dir.join(KEY_FILE).exists(),
                "{} already holds a key: a new one would invalidate every token it signed",
                dir.display()
            );
            LocalKey::generate()?.save(&dir)?;
            println!(
                "{}: the signing key (secret)\n{}: its public key, for every service's --auth-jwks-file",
                dir.join(KEY_FILE).display(),
                dir.join(JWKS_FILE).display()
            );
            Ok(())
        }
    }
}

/// Who the `oms` commands that call the APIs are: the token given, else an operator's
/// token signed with the local key of `data_dir` (returned too, for the other actors of a
/// simulated day), else nobody (the APIs will say so).
pub fn identity(token: Option<String>, data_dir: &Path) -> anyhow::Result<(Identity, Option<LocalKey>)> {
    if let Some(token) = token {
        return Ok((Identity::Token(token), None));
    }
    let dir = key_dir(data_dir);
    if dir.join(KEY_FILE).exists() {
        let key = LocalKey::load(&dir)?;
        return Ok((Identity::minted(&key, "oms", Role::Operator), Some(key)));
    }
    Ok((Identity::Anonymous, None))
}

fn parse_role(name: &str) -> Result<Role, String> {
    Role::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
        format!("not a role: one of {}", names.join(", "))
    })
}

/// `90s`, `30m`, `8h`, `7d`.
fn parse_ttl(text: &str) -> Result<Duration, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: a number and a unit, e.g. 8h"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit is s, m, h or d")),
    };
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_read_as_people_write_them() {
        assert_eq!(parse_ttl("8h"), Ok(Duration::from_secs(8 * 3600)));
        assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_ttl("8").is_err());
        assert!(parse_ttl("h").is_err());
    }
}
