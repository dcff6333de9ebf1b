//! `steward`: the server (`serve`, `quickstart`) and its admin CLI.

mod agent_releases;
mod agentless;
mod automation;
mod backups;
mod client;
mod config;
mod devices;
mod incidents;
mod intel;
mod local;
mod monitors;
mod names;
mod ops;
mod output;
mod patch_rules;
mod patching;
mod plan;
mod quickstart;
mod reports;
mod serve;
pub use serve::shutdown_signal;
use serve::{ServeArgs, serve};
mod runbooks;
mod telemetry;
mod users;

use anyhow::Result;
use clap::{Parser, Subcommand};
use client::{Client, Remote};
use names::Kind;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "steward",
    version,
    about = "Steward remote monitoring and management"
)]
struct Cli {
    /// Log filter, e.g. `info` or `steward_server=debug`.
    #[arg(long, env = "STEWARD_LOG", default_value = "info", global = true)]
    log: String,
    #[command(flatten)]
    remote: Remote,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Start the server and enrol this machine's own agent: the quickest way
    /// to see Steward working.
    Quickstart(ServeArgs),
    /// List devices.
    Devices {
        #[arg(long)]
        json: bool,
    },
    /// One device.
    Device {
        #[command(subcommand)]
        command: devices::DeviceCommand,
    },
    /// Devices running a package, e.g. `steward software --name openssl
    /// --below 3.0.15` (versions compared by the package manager's rules).
    Software {
        /// The package name, exactly.
        #[arg(long)]
        name: String,
        /// Only devices whose version orders below this one.
        #[arg(long)]
        below: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Incidents: the work around alerts that need a human.
    Incident {
        #[command(subcommand)]
        command: incidents::IncidentCommand,
    },
    /// Runbooks: documented procedures shown on alerts and incidents.
    Runbook {
        #[command(subcommand)]
        command: runbooks::RunbookCommand,
    },
    /// An organisation's report over a month (2026-11) or ISO week
    /// (2026-W45): KPIs with their definitions, as text, or a CSV or PDF
    /// (with charts) file.
    Report {
        /// YYYY-MM or YYYY-Www (default: last month).
        #[arg(long)]
        period: Option<String>,
        /// The organisation, by name (yours when you have one).
        #[arg(long)]
        org: Option<String>,
        /// text, csv or pdf.
        #[arg(long, default_value = "text")]
        format: String,
        /// The file a CSV or PDF is written to.
        #[arg(long)]
        out: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// SLA targets per priority: incidents near or past them are warned
    /// about through the notification channels.
    Sla {
        #[command(subcommand)]
        command: reports::SlaCommand,
    },
    /// OTLP ingestion tokens: OpenTelemetry exporters push metrics and logs
    /// to /api/v1/otlp with one.
    OtlpToken {
        #[command(subcommand)]
        command: telemetry::OtlpTokenCommand,
    },
    /// Agentless devices (switches, printers, websites…) probed by a
    /// chosen agent, and their probes.
    Agentless {
        #[command(subcommand)]
        command: agentless::AgentlessCommand,
    },
    /// Patch compliance: the share of reporting devices with no security
    /// update pending longer than --days, overall and per site.
    Compliance {
        #[arg(long, default_value_t = 14)]
        days: u32,
        #[arg(long)]
        json: bool,
        /// One device a line, as CSV (for a spreadsheet).
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// Agent releases: keygen and sign (offline, with the release key),
    /// upload, list.
    AgentRelease {
        #[command(subcommand)]
        command: agent_releases::ReleaseCommand,
    },
    /// Agent rollouts by ring: start, list, show, stop.
    AgentRollout {
        #[command(subcommand)]
        command: agent_releases::RolloutCommand,
    },
    /// Patch policies and holds: list, create, edit, delete; hold, lift.
    Patch {
        #[command(subcommand)]
        command: patch_rules::PatchCommand,
    },
    /// A device's metric series, e.g. `steward metrics web-01 system.cpu.utilization --since 1h`.
    Metrics {
        /// The device's NAME or ID (or hostname).
        device: String,
        metric: String,
        #[arg(long, default_value = "1h")]
        since: String,
        #[arg(long)]
        json: bool,
    },
    /// Backup success rates per organisation, site and device over a
    /// period, or one device's backup jobs and restore tests.
    Backups {
        /// One device's jobs (NAME or ID) instead of the summary.
        #[arg(long)]
        device: Option<String>,
        #[arg(long, default_value = "30d")]
        since: String,
        #[arg(long)]
        json: bool,
    },
    /// Filesystems and memory forecast to reach 90 % within a horizon.
    Capacity {
        /// 7d, 30d or 90d.
        #[arg(long, default_value = "30d")]
        within: String,
        #[arg(long)]
        json: bool,
    },
    /// Devices far from their peers (same tag or OS).
    Outliers {
        #[arg(long)]
        json: bool,
    },
    /// Aging infrastructure: devices past or near their OS's end of life,
    /// up for months, or with disks whose SMART counters rise.
    Aging {
        /// Every judged device, not only the flagged ones.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Enrollment tokens for agents.
    EnrollToken {
        #[command(subcommand)]
        command: EnrollTokenCommand,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Monitors: list, create from a JSON file, delete.
    Monitors {
        #[command(subcommand)]
        command: Option<monitors::MonitorCommand>,
        /// JSON output, for this listing and each subcommand.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Alerts: list (active by default), acknowledge, resolve, history.
    Alerts {
        #[command(subcommand)]
        command: Option<AlertCommand>,
        /// Include resolved alerts.
        #[arg(long)]
        all: bool,
        /// Only the alerts of this device (NAME or ID).
        #[arg(long)]
        device: Option<String>,
        /// Only the alerts of this monitor (NAME or ID).
        #[arg(long)]
        monitor: Option<String>,
        /// JSON output, for this listing and each subcommand.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Notification channels.
    Channel {
        #[command(subcommand)]
        command: ChannelCommand,
    },
    /// The audit trail: verify its hash chain, or export it as JSON lines.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Organisations (tenants).
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Users and their roles.
    User {
        #[command(subcommand)]
        command: users::UserCommand,
    },
    #[command(flatten)]
    Automation(automation::Command),
    #[command(flatten)]
    Ops(ops::Command),
    #[command(flatten)]
    Config(config::Command),
    /// Run the agent (same as the steward-agent binary).
    #[command(hide = true)]
    Agent {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum AlertCommand {
    Ack { id: String },
    Resolve { id: String },
    History { id: String },
}

#[derive(Subcommand, Debug)]
enum ChannelCommand {
    /// A webhook: JSON POSTs signed with X-Steward-Signature: sha256=HMAC(secret, body).
    Webhook {
        name: String,
        url: String,
        #[arg(long, env = "STEWARD_WEBHOOK_SECRET", hide_env_values = true)]
        secret: String,
        #[arg(long, default_value = "warning")]
        min_severity: String,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Send a test notification through a channel.
    Test {
        /// The channel's NAME or ID.
        channel: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check that no audit entry was altered or removed. With --data-dir it
    /// reads the database directly (the server may be running or stopped).
    Verify {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Print the audit trail as JSON lines (for a SIEM).
    Export {
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Only entries after this id.
        #[arg(long, default_value_t = 0)]
        after: i64,
    },
}

#[derive(Subcommand, Debug)]
enum OrgCommand {
    Create {
        name: String,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Require two-factor sign-in for an organisation's users.
    RequireTotp {
        /// The organisation's NAME or ID.
        org: String,
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        require: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum EnrollTokenCommand {
    /// Create a token; prints the token and the agent command that uses it.
    Create {
        /// The organisation's NAME or ID (default: your own).
        #[arg(long)]
        org: Option<String>,
        #[arg(long, default_value = "default")]
        site: String,
        #[arg(long = "tag")]
        tags: Vec<String>,
        #[arg(long, default_value = "24h")]
        expires: String,
        /// How many agents may use it (default: unlimited until expiry).
        #[arg(long)]
        uses: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// List tokens.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token.
    Revoke {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Create an API token. With --data-dir it works on the server's data
    /// directory directly (server stopped or running), for bootstrap.
    Create {
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The user the token acts as (with --data-dir).
        #[arg(long, default_value = "admin")]
        user: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// Expiry such as 90d; none by default.
        #[arg(long)]
        expires: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Command::Agent { args } = cli.command {
        let argv = std::iter::once("steward-agent".to_string()).chain(args);
        let result = steward_agent::cli::Cli::try_parse_from(argv)
            .map_err(anyhow::Error::from)
            .and_then(steward_agent::cli::run);
        if let Err(error) = result {
            eprintln!("steward agent: {error:#}");
            std::process::exit(1);
        }
        return;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    steward_pki::install_default_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(error) = runtime.block_on(run(cli)) {
        eprintln!("steward: {error:#}");
        std::process::exit(1);
    }
}

pub(crate) fn print_text(text: impl std::fmt::Display) -> Result<()> {
    println!("{text}");
    Ok(())
}

/// An action's outcome: the API's answer with `--json`, else `sentence`.
pub(crate) fn answered(json: bool, answer: &Value, sentence: String) -> Result<()> {
    if json {
        print_json(answer)
    } else {
        print_text(sentence)
    }
}

pub(crate) fn print_json(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

async fn run(cli: Cli) -> Result<()> {
    let remote = cli.remote;
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Quickstart(args) => quickstart::run(args.config()).await,
        Command::Devices { json } => {
            let devices = Client::new(&remote)?.get("/api/v1/devices").await?;
            if json {
                print_json(&devices)
            } else {
                print_text(output::devices_table(&devices))
            }
        }
        Command::Device { command } => devices::run(command, &remote).await,
        Command::Incident { command } => incidents::run(command, &remote).await,
        Command::Runbook { command } => runbooks::run(command, &remote).await,
        Command::Report {
            period,
            org,
            format,
            out,
            json,
        } => reports::report(&remote, org, period, &format, out, json).await,
        Command::Sla { command } => reports::sla(command, &remote).await,
        Command::OtlpToken { command } => telemetry::otlp_token(command, &remote).await,
        Command::Agentless { command } => agentless::run(command, &remote).await,
        Command::Compliance { days, json, csv } => {
            patching::compliance(&remote, days, json, csv).await
        }
        Command::Patch { command } => patch_rules::run(command, &remote).await,
        Command::AgentRelease { command } => agent_releases::release(command, &remote).await,
        Command::AgentRollout { command } => agent_releases::rollout(command, &remote).await,
        Command::Software { name, below, json } => {
            patching::software(&remote, &name, below.as_deref(), json).await
        }
        Command::Metrics {
            device,
            metric,
            since,
            json,
        } => devices::metrics(&remote, &device, &metric, &since, json).await,
        Command::Backups {
            device,
            since,
            json,
        } => backups::run(&remote, device.as_deref(), &since, json).await,
        Command::Capacity { within, json } => intel::capacity(&remote, &within, json).await,
        Command::Outliers { json } => intel::outliers(&remote, json).await,
        Command::Aging { all, json } => intel::aging(&remote, all, json).await,
        Command::EnrollToken { command } => {
            let client = Client::new(&remote)?;
            match command {
                EnrollTokenCommand::Create {
                    org,
                    site,
                    tags,
                    expires,
                    uses,
                    json,
                } => {
                    let org = names::org_name(&client, org).await?;
                    let body = json!({ "org": org, "site": site, "tags": tags, "expires_in": expires, "uses": uses });
                    let created = client.post("/api/v1/enroll-tokens", &body).await?;
                    if json {
                        return print_json(&created);
                    }
                    println!("{}", created["token"].as_str().unwrap_or(""));
                    eprintln!(
                        "\nOn the endpoint, run:\n  {}",
                        created["install_command"].as_str().unwrap_or("")
                    );
                    Ok(())
                }
                EnrollTokenCommand::List { json } => {
                    let tokens = client.get("/api/v1/enroll-tokens").await?;
                    if json {
                        print_json(&tokens)
                    } else {
                        print_text(output::enroll_tokens_table(&tokens))
                    }
                }
                EnrollTokenCommand::Revoke { id, json } => answered(
                    json,
                    &client
                        .post(&format!("/api/v1/enroll-tokens/{id}/revoke"), &json!({}))
                        .await?,
                    format!("Enrollment token {id} revoked."),
                ),
            }
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    data_dir,
                    user,
                    name,
                    expires,
                    json,
                },
        } => {
            let created = match data_dir {
                Some(dir) => local::offline_token(&dir, &user, &name, expires.as_deref()).await?,
                None => {
                    Client::new(&remote)?
                        .post(
                            "/api/v1/tokens",
                            &json!({ "name": name, "expires_in": expires }),
                        )
                        .await?
                }
            };
            if json {
                print_json(&created)
            } else {
                print_text(created["token"].as_str().unwrap_or(""))
            }
        }
        Command::Audit { command } => local::audit(command, &remote).await,
        Command::Monitors { command, json } => monitors::run(command, json, &remote).await,
        Command::Alerts {
            command,
            all,
            device,
            monitor,
            json,
        } => {
            let client = Client::new(&remote)?;
            match command {
                None => {
                    let mut query = format!("active={}", !all);
                    if let Some(device) = device {
                        let id = names::id_of(&client, Kind::Device, &device).await?;
                        query.push_str(&format!("&device={id}"));
                    }
                    let mut alerts = client.get(&format!("/api/v1/alerts?{query}")).await?;
                    if let Some(monitor) = monitor {
                        let id = names::id_of(&client, Kind::Monitor, &monitor).await?;
                        if let Some(list) = alerts.as_array_mut() {
                            list.retain(|a| a["monitor_id"] == id.as_str());
                        }
                    }
                    if json {
                        print_json(&alerts)
                    } else {
                        print_text(output::alerts_table(&alerts))
                    }
                }
                Some(AlertCommand::Ack { id }) => answered(
                    json,
                    &client
                        .post(&format!("/api/v1/alerts/{id}/acknowledge"), &json!({}))
                        .await?,
                    format!("Alert {id} acknowledged."),
                ),
                Some(AlertCommand::Resolve { id }) => answered(
                    json,
                    &client
                        .post(&format!("/api/v1/alerts/{id}/resolve"), &json!({}))
                        .await?,
                    format!(
                        "Alert {id} resolved (if its condition still holds, a new alert opens)."
                    ),
                ),
                Some(AlertCommand::History { id }) => {
                    let history = client.get(&format!("/api/v1/alerts/{id}/history")).await?;
                    if json {
                        print_json(&history)
                    } else {
                        print_text(output::alert_history(&history))
                    }
                }
            }
        }
        Command::Channel { command } => {
            let client = Client::new(&remote)?;
            match command {
                ChannelCommand::Webhook { name, url, secret, min_severity, json } => answered(
                    json,
                    &client
                        .post("/api/v1/channels", &json!({ "name": name, "kind": "webhook", "url": url, "secret": secret, "min_severity": min_severity }))
                        .await?,
                    format!("Webhook channel {name:?} created."),
                ),
                ChannelCommand::List { json } => {
                    let channels = client.get("/api/v1/channels").await?;
                    if json {
                        print_json(&channels)
                    } else {
                        print_text(output::channels_table(&channels))
                    }
                }
                ChannelCommand::Test { channel, json } => {
                    let id = names::id_of(&client, Kind::Channel, &channel).await?;
                    let answer = client
                        .post(&format!("/api/v1/channels/{id}/test"), &json!({}))
                        .await?;
                    let sentence = match answer["error"].as_str() {
                        None => format!("A test notification went out through {channel}."),
                        Some(error) => format!("The test notification through {channel} failed: {error}"),
                    };
                    answered(json, &answer, sentence)
                }
            }
        }
        Command::Org { command } => {
            let client = Client::new(&remote)?;
            match command {
                OrgCommand::Create { name, json } => answered(
                    json,
                    &client
                        .post("/api/v1/orgs", &json!({ "name": name }))
                        .await?,
                    format!("Organisation {name:?} created."),
                ),
                OrgCommand::List { json } => {
                    let orgs = client.get("/api/v1/orgs").await?;
                    if json {
                        return print_json(&orgs);
                    }
                    for o in orgs.as_array().into_iter().flatten() {
                        println!(
                            "{}  {}",
                            o["id"].as_str().unwrap_or(""),
                            o["name"].as_str().unwrap_or("")
                        );
                    }
                    Ok(())
                }
                OrgCommand::RequireTotp { org, require, json } => {
                    let id = names::id_of(&client, Kind::Org, &org).await?;
                    answered(
                        json,
                        &client
                            .post(
                                &format!("/api/v1/orgs/{id}/require-totp"),
                                &json!({ "require": require }),
                            )
                            .await?,
                        format!(
                            "Two-factor sign-in is {} for organisation {org}.",
                            if require { "required" } else { "optional" }
                        ),
                    )
                }
            }
        }
        Command::User { command } => users::run(command, &remote).await,
        Command::Automation(command) => automation::run(command, &remote).await,
        Command::Ops(command) => ops::run(command).await,
        Command::Config(command) => config::run(command, &remote).await,
        Command::Agent { .. } => unreachable!("handled before the runtime starts"),
    }
}

#[cfg(test)]
#[path = "main_tests.rs"]
mod tests;
