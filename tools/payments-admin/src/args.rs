//! The command line, parsed by hand: four commands and a handful of options.

use payments::ids::OrderId;
use payments::store::ReviewOutcome;
use thiserror::Error;

/// Shown by `--help`, and named by every usage error.
pub const HELP: &str = "\
payments-admin: the operator's tool for the payments table.

USAGE:
    payments-admin [--table NAME] [--json] <COMMAND>

COMMANDS:
    review [--limit N]      orders in review, longest waiting first (the `review` index; N: 1 to 1000, default 100)
    show ORDER              the order, every attempt, every notification and inquiry answer (never the
                            signed text), the resolutions, and the transitions they show
    reconcile ORDER         ask 2C2P about the order's current attempt now and apply the answer, as the
                            reconcile function does for {\"orderId\": ORDER}
    resolve ORDER --to paid|failed --reason TEXT [--version V]
                            move an order in review to paid or failed, keeping TEXT and the time; refused
                            unless the order is in review (and, with --version, still at version V)

OPTIONS:
    --table NAME   the DynamoDB table (default: TABLE_NAME)
    --json         JSON on stdout instead of text
    -h, --help     this text

ENVIRONMENT:
    AWS credentials and region as for the AWS CLI (AWS_PROFILE, AWS_REGION, ...); your own rights are used.
    AWS_ENDPOINT_URL_DYNAMODB   a local DynamoDB-compatible server instead of AWS
    reconcile only: the reconcile function's settings, read the same way (Settings::load):
    PGW_MERCHANT_ID, PGW_SECRET_KEY (or SECRETS_ARN), PGW_SECRET_KEY_PREVIOUS, PGW_ACTION_URL
    RUST_LOG       how much of the shared code's log goes to stderr (default: warn)

EXIT STATUS: 0 done, 1 failed (one line on stderr says why), 2 usage error.
";

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Review { limit: usize },
    Show { order_id: OrderId },
    Reconcile { order_id: OrderId },
    Resolve { order_id: OrderId, to: ReviewOutcome, reason: String, version: Option<u64> },
}

/// The whole command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cli {
    pub table: Option<String>,
    pub json: bool,
    pub command: Command,
}

/// A command line that cannot be run; exit status 2.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0} (payments-admin --help for usage)")]
pub struct UsageError(pub String);

fn usage(text: impl Into<String>) -> UsageError {
    UsageError(text.into())
}

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

/// Parses the arguments after the program name. Options may come before or after the command.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Cli, UsageError> {
    let mut table = None;
    let mut json = false;
    let mut help = false;
    let mut limit = None;
    let mut to = None;
    let mut reason = None;
    let mut version = None;
    let mut positional = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_owned(), Some(value.to_owned())),
            _ => (arg.clone(), None),
        };
        // The next argument is the value, unless it is another option (`--reason --json` forgot the
        // reason): refused, with the way to give a value that really starts with `--`.
        let mut value = |name: &str| match inline.clone() {
            Some(given) => Ok(given),
            None => match args.next() {
                Some(next) if next.starts_with("--") => Err(usage(format!(
                    "{name} needs a value, not the option {next} (write {name}=VALUE for a value that starts with --)"
                ))),
                Some(next) => Ok(next),
                None => Err(usage(format!("{name} needs a value"))),
            },
        };
        match name.as_str() {
            "-h" | "--help" => help = true,
            "--json" => json = true,
            "--table" => table = Some(value("--table")?),
            "--limit" => limit = Some(value("--limit")?),
            "--to" => to = Some(value("--to")?),
            "--reason" => reason = Some(value("--reason")?),
            "--version" => version = Some(value("--version")?),
            other if other.starts_with('-') && other.len() > 1 => {
                return Err(usage(format!("unknown option {other}")));
            }
            _ => positional.push(arg),
        }
    }
    if help {
        return Ok(Cli { table, json, command: Command::Help });
    }
    if table.as_deref().is_some_and(str::is_empty) {
        return Err(usage("--table must not be empty"));
    }
    let order_id = |positional: &[String], command: &str| match positional {
        [_, id] => OrderId::parse(id).map_err(|e| usage(e.to_string())),
        [_] => Err(usage(format!("{command} needs an ORDER"))),
        _ => Err(usage(format!("{command} takes one ORDER"))),
    };
    let command_name = positional.first().map(String::as_str).ok_or_else(|| usage("no command given"))?;
    let only = |allowed: &[&str]| -> Result<(), UsageError> {
        let given = [("--limit", limit.is_some()), ("--to", to.is_some()), ("--reason", reason.is_some())];
        let given = given.into_iter().chain([("--version", version.is_some())]);
        match given.filter(|(name, set)| *set && !allowed.contains(name)).map(|(name, _)| name).next() {
            Some(name) => Err(usage(format!("{name} does not apply to {command_name}"))),
            None => Ok(()),
        }
    };
    let command = match command_name {
        "review" => {
            only(&["--limit"])?;
            if positional.len() > 1 {
                return Err(usage("review takes no ORDER"));
            }
            let limit = match limit {
                None => DEFAULT_LIMIT,
                Some(text) => text
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| usage(format!("--limit must be a whole number from 1 to {MAX_LIMIT}")))?,
            };
            Command::Review { limit }
        }
        "show" => {
            only(&[])?;
            Command::Show { order_id: order_id(&positional, "show")? }
        }
        "reconcile" => {
            only(&[])?;
            Command::Reconcile { order_id: order_id(&positional, "reconcile")? }
        }
        "resolve" => {
            only(&["--to", "--reason", "--version"])?;
            let order_id = order_id(&positional, "resolve")?;
            let to = to.ok_or_else(|| usage("resolve needs --to paid or --to failed"))?;
            let to =
                ReviewOutcome::parse(&to).ok_or_else(|| usage(format!("--to must be paid or failed, not {to:?}")))?;
            let reason = reason.filter(|r| !r.trim().is_empty()).ok_or_else(|| usage("resolve needs --reason TEXT"))?;
            let version =
                version.map(|v| v.parse::<u64>().map_err(|_| usage("--version must be a whole number"))).transpose()?;
            Command::Resolve { order_id, to, reason, version }
        }
        other => return Err(usage(format!("unknown command {other:?}"))),
    };
    Ok(Cli { table, json, command })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Result<Cli, UsageError> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    fn id(text: &str) -> OrderId {
        OrderId::parse(text).expect("id")
    }

    #[test]
    fn commands_and_options_in_any_order() {
        let cli = parsed("--json review --limit=5 --table t").expect("review");
        assert_eq!(cli, Cli { table: Some("t".into()), json: true, command: Command::Review { limit: 5 } });
        assert_eq!(parsed("review").expect("review").command, Command::Review { limit: DEFAULT_LIMIT });
        assert_eq!(parsed("show A-1").expect("show").command, Command::Show { order_id: id("A-1") });
        assert_eq!(
            parsed("reconcile A-1 --json").expect("reconcile").command,
            Command::Reconcile { order_id: id("A-1") }
        );
        let resolve = parse(
            ["resolve", "A-1", "--to", "failed", "--reason", "refunded in full", "--version", "4"].map(String::from),
        )
        .expect("resolve");
        assert_eq!(
            resolve.command,
            Command::Resolve {
                order_id: id("A-1"),
                to: ReviewOutcome::Failed,
                reason: "refunded in full".into(),
                version: Some(4)
            }
        );
        assert_eq!(parsed("show --help").expect("help").command, Command::Help);
        let dashes = parsed("resolve A-1 --to paid --reason=--refunded-- --version 2").expect("an inline value");
        assert!(matches!(dashes.command, Command::Resolve { ref reason, .. } if reason == "--refunded--"));
    }

    #[test]
    fn usage_errors_name_the_problem() {
        let error = |line: &str| parsed(line).expect_err(line).0;
        assert_eq!(error(""), "no command given");
        assert_eq!(error("list"), "unknown command \"list\"");
        assert_eq!(error("show"), "show needs an ORDER");
        assert_eq!(error("show A B"), "show takes one ORDER");
        assert_eq!(
            error("resolve A-1 --to paid --reason --json"),
            "--reason needs a value, not the option --json (write --reason=VALUE for a value that starts with --)"
        );
        assert_eq!(error("show A/1"), "orderId must be 1 to 64 of A-Z a-z 0-9 _ -");
        assert_eq!(error("review --limit 0"), "--limit must be a whole number from 1 to 1000");
        assert_eq!(error("show A --limit 3"), "--limit does not apply to show");
        assert_eq!(error("resolve A --reason x"), "resolve needs --to paid or --to failed");
        assert_eq!(error("resolve A --to review --reason x"), "--to must be paid or failed, not \"review\"");
        assert_eq!(error("resolve A --to paid"), "resolve needs --reason TEXT");
        assert_eq!(error("resolve A --to paid --reason"), "--reason needs a value");
        assert_eq!(error("show A --force"), "unknown option --force");
    }
}
