//! `steward scripts | run | jobs | schedules | shell | file`: the
//! automation CLI. Everything goes through the API, so it is authorised and
//! audited like the console.

use crate::client::{Client, Remote};
use crate::names::{self, Kind};
use crate::output::table;
use anyhow::{Context, Result, bail};
use base64::Engine;
use clap::Subcommand;
use serde_json::{Value, json};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The script library: list, show, import files, export, versions, delete.
    Scripts {
        #[command(subcommand)]
        command: Option<ScriptCommand>,
        #[arg(long, global = true)]
        json: bool,
    },
    /// Run a script (or a built-in action) on devices.
    Run(RunArgs),
    /// Jobs: list, show one with every target's result, approve, cancel.
    Jobs {
        #[command(subcommand)]
        command: Option<JobCommand>,
        #[arg(long, global = true)]
        json: bool,
    },
    /// Scheduled jobs (cron with a time zone, or every N minutes).
    Schedules {
        #[command(subcommand)]
        command: Option<ScheduleCommand>,
        #[arg(long, global = true)]
        json: bool,
    },
    /// An interactive terminal on a device (over its agent's connection).
    Shell {
        /// The device's NAME or ID (or hostname).
        device: String,
    },
    /// Copy a file from or to a device (up to 2 MiB, checksummed).
    File {
        #[command(subcommand)]
        command: FileCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum ScriptCommand {
    List,
    /// Print a script as a file (header comments carry its settings).
    Show {
        /// The script's NAME or ID.
        name: String,
    },
    /// Add or update scripts from files; each import is a new version.
    Import {
        files: Vec<PathBuf>,
        /// The organisation's NAME or ID (default: your own).
        #[arg(long)]
        org: Option<String>,
    },
    /// Write every script as a file into a directory (for git).
    Export {
        dir: PathBuf,
    },
    Versions {
        /// The script's NAME or ID.
        name: String,
    },
    Delete {
        /// The script's NAME or ID.
        name: String,
    },
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The script's name or id (or use --action).
    script: Option<String>,
    /// A built-in action instead: reboot, collect_inventory, ping,
    /// restart_service:NAME.
    #[arg(long)]
    action: Option<String>,
    /// all, device:NAME or device:ID, tag:TAG, site:SITE or os:NAME
    /// (repeatable).
    #[arg(long = "target", short = 't', required = true)]
    targets: Vec<String>,
    /// A parameter, NAME=VALUE (repeatable).
    #[arg(long = "param", short = 'p')]
    params: Vec<String>,
    /// Devices offline longer than this never run it.
    #[arg(long, default_value = "24h")]
    expires: String,
    /// At most this many devices at once (rolling change); 0: all at once.
    #[arg(long, default_value_t = 0)]
    concurrency: u32,
    /// Stop sending after this many failures; 0: never.
    #[arg(long, default_value_t = 0)]
    stop_after_failures: u32,
    /// The organisation's NAME or ID (default: your own).
    #[arg(long)]
    org: Option<String>,
    /// Wait for every target, with progress, then print a summary.
    #[arg(long)]
    wait: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
pub enum JobCommand {
    List,
    Show { id: String },
    Approve { id: String },
    Cancel { id: String },
}

#[derive(Subcommand, Debug)]
pub enum ScheduleCommand {
    List,
    /// e.g. `steward schedules create nightly --cron "0 2 * * *" --tz
    /// Europe/Paris -- cleanup --target tag:web`.
    Create {
        name: String,
        #[arg(long)]
        cron: Option<String>,
        #[arg(long)]
        every_minutes: Option<u32>,
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// What to do about runs missed while the server was down:
        /// skip or run_once.
        #[arg(long, default_value = "skip")]
        missed: String,
        /// The script to run (by name: the schedule runs its latest version).
        script: String,
        /// all, device:NAME or device:ID, tag:TAG, site:SITE or os:NAME
        /// (repeatable).
        #[arg(long = "target", short = 't', required = true)]
        targets: Vec<String>,
        #[arg(long = "param", short = 'p')]
        params: Vec<String>,
    },
    Delete {
        /// The schedule's NAME or ID.
        schedule: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum FileCommand {
    /// Download DEVICE:PATH into LOCAL (or stdout when LOCAL is -).
    Get {
        /// The device's NAME or ID (or hostname).
        device: String,
        path: String,
        local: PathBuf,
    },
    /// Upload LOCAL to DEVICE:PATH.
    Put {
        /// The device's NAME or ID (or hostname).
        device: String,
        local: PathBuf,
        path: String,
    },
}

fn print_json(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn params(pairs: &[String]) -> Result<Value> {
    let mut map = serde_json::Map::new();
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .with_context(|| format!("parameter {pair:?} must be NAME=VALUE"))?;
        map.insert(k.to_string(), Value::String(v.to_string()));
    }
    Ok(Value::Object(map))
}

fn s(value: &Value, key: &str) -> String {
    match &value[key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub async fn run(command: Command, remote: &Remote) -> Result<()> {
    let client = Client::new(remote)?;
    match command {
        Command::Scripts { command, json } => scripts(&client, command, json).await,
        Command::Run(args) => run_job(&client, args).await,
        Command::Jobs { command, json } => match command.unwrap_or(JobCommand::List) {
            JobCommand::List => {
                let jobs = client.get("/api/v1/jobs").await?;
                if json {
                    return print_json(&jobs);
                }
                let mut rows = vec![vec![
                    "ID".into(),
                    "NAME".into(),
                    "BY".into(),
                    "STATE".into(),
                    "RUNS".into(),
                ]];
                for job in jobs.as_array().into_iter().flatten() {
                    rows.push(vec![
                        s(job, "id"),
                        s(job, "name"),
                        s(job, "created_by"),
                        if job["progress"].is_string() && job["state"] == "active" {
                            s(job, "progress")
                        } else {
                            s(job, "state")
                        },
                        job["counts"].to_string(),
                    ]);
                }
                println!("{}", table(&rows));
                Ok(())
            }
            JobCommand::Show { id } => {
                let job = client.get(&format!("/api/v1/jobs/{id}")).await?;
                if json {
                    return print_json(&job);
                }
                println!(
                    "Job {} ({}) by {}: {}",
                    s(&job, "id"),
                    s(&job, "name"),
                    s(&job, "created_by"),
                    s(&job, "progress")
                );
                print_runs(&job, true);
                Ok(())
            }
            JobCommand::Approve { id } => print_json(
                &client
                    .post(&format!("/api/v1/jobs/{id}/approve"), &json!({}))
                    .await?,
            ),
            JobCommand::Cancel { id } => print_json(
                &client
                    .post(&format!("/api/v1/jobs/{id}/cancel"), &json!({}))
                    .await?,
            ),
        },
        Command::Schedules { command, json } => match command.unwrap_or(ScheduleCommand::List) {
            ScheduleCommand::List => {
                let list = client.get("/api/v1/schedules").await?;
                if json {
                    return print_json(&list);
                }
                let mut rows = vec![vec![
                    "ID".into(),
                    "NAME".into(),
                    "WHEN".into(),
                    "NEXT".into(),
                ]];
                for item in list.as_array().into_iter().flatten() {
                    let next = item["next_run_at"].as_i64().map(|ms| ms / 1000);
                    rows.push(vec![
                        s(item, "id"),
                        s(item, "name"),
                        item["timing"].to_string(),
                        crate::output::when(next),
                    ]);
                }
                println!("{}", table(&rows));
                Ok(())
            }
            ScheduleCommand::Create {
                name,
                cron,
                every_minutes,
                tz,
                missed,
                script,
                targets,
                params: p,
            } => {
                let targets = names::targets(&client, targets, None).await?;
                let body = json!({
                    "name": name,
                    "timing": { "cron": cron, "every_minutes": every_minutes, "timezone": tz, "missed": missed },
                    "job": { "script": script, "targets": targets, "params": params(&p)? },
                });
                print_json(&client.post("/api/v1/schedules", &body).await?)
            }
            ScheduleCommand::Delete { schedule } => {
                let id = names::id_of(&client, Kind::Schedule, &schedule).await?;
                print_json(&client.delete(&format!("/api/v1/schedules/{id}")).await?)
            }
        },
        Command::Shell { device } => {
            let id = names::id_of(&client, Kind::Device, &device).await?;
            shell(&client, &id).await
        }
        Command::File { command } => file(&client, command).await,
    }
}

async fn scripts(client: &Client, command: Option<ScriptCommand>, json: bool) -> Result<()> {
    match command.unwrap_or(ScriptCommand::List) {
        ScriptCommand::List => {
            let list = client.get("/api/v1/scripts").await?;
            if json {
                return print_json(&list);
            }
            let mut rows = vec![vec![
                "NAME".into(),
                "VERSION".into(),
                "INTERPRETER".into(),
                "UPDATED BY".into(),
                "DESCRIPTION".into(),
            ]];
            for item in list.as_array().into_iter().flatten() {
                let d = &item["definition"];
                rows.push(vec![
                    s(item, "name"),
                    s(item, "version"),
                    s(d, "interpreter"),
                    s(item, "updated_by"),
                    s(d, "description"),
                ]);
            }
            println!("{}", table(&rows));
            Ok(())
        }
        ScriptCommand::Show { name } => {
            let id = names::id_of(client, Kind::Script, &name).await?;
            let script = client.get(&format!("/api/v1/scripts/{id}")).await?;
            if json {
                return print_json(&script);
            }
            print!("{}", s(&script, "file"));
            Ok(())
        }
        ScriptCommand::Import { files, org } => {
            let org = names::org_name(client, org).await?;
            for path in files {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("script");
                let saved = client
                    .post(
                        "/api/v1/scripts",
                        &json!({ "file": text, "name": stem, "org": org }),
                    )
                    .await
                    .with_context(|| format!("{}", path.display()))?;
                println!(
                    "{}: {} version {}",
                    path.display(),
                    s(&saved, "name"),
                    s(&saved, "version")
                );
            }
            Ok(())
        }
        ScriptCommand::Export { dir } => {
            std::fs::create_dir_all(&dir)?;
            for item in client
                .get("/api/v1/scripts")
                .await?
                .as_array()
                .into_iter()
                .flatten()
            {
                let name = s(item, "name");
                let script = client
                    .get(&format!("/api/v1/scripts/{}", s(item, "id")))
                    .await?;
                let extension = match s(&item["definition"], "interpreter").as_str() {
                    "python3" => "py",
                    "powershell" => "ps1",
                    "zsh" => "zsh",
                    _ => "sh",
                };
                let path = dir.join(format!("{name}.{extension}"));
                std::fs::write(&path, s(&script, "file"))?;
                println!("{}", path.display());
            }
            Ok(())
        }
        ScriptCommand::Versions { name } => {
            let id = names::id_of(client, Kind::Script, &name).await?;
            print_json(
                &client
                    .get(&format!("/api/v1/scripts/{id}/versions"))
                    .await?,
            )
        }
        ScriptCommand::Delete { name } => {
            let id = names::id_of(client, Kind::Script, &name).await?;
            print_json(
                &client
                    .post(&format!("/api/v1/scripts/{id}/delete"), &json!({}))
                    .await?,
            )
        }
    }
}

async fn run_job(client: &Client, args: RunArgs) -> Result<()> {
    let action = match (&args.script, &args.action) {
        (Some(_), None) => Value::Null,
        (None, Some(action)) => match action.split_once(':') {
            Some(("restart_service", service)) => {
                json!({ "kind": "restart_service", "service": service })
            }
            _ => json!({ "kind": action }),
        },
        _ => bail!("give a script name or --action (not both)"),
    };
    let body = json!({
        "script": args.script,
        "action": action,
        "params": params(&args.params)?,
        "targets": names::targets(client, args.targets, args.org.as_deref()).await?,
        "org": names::org_name(client, args.org).await?,
        "expires_in": args.expires,
        "concurrency": args.concurrency,
        "stop_after_failures": args.stop_after_failures,
    });
    let created = client.post("/api/v1/jobs", &body).await?;
    let id = s(&created, "id");
    if !args.wait {
        if args.json {
            return print_json(&created);
        }
        println!(
            "Job {id} created for {} device(s) ({}). Follow it with: steward jobs show {id}",
            s(&created, "targets"),
            s(&created, "state")
        );
        return Ok(());
    }
    if s(&created, "state") == "pending_approval" {
        bail!("job {id} waits for a second person's approval: steward jobs approve {id}");
    }
    let progress = std::io::stderr().is_terminal() && !args.json;
    let mut idle_polls = 0;
    let job = loop {
        let job = client.get(&format!("/api/v1/jobs/{id}")).await?;
        let runs = job["runs"].as_array().cloned().unwrap_or_default();
        let status = |r: &Value| r["status"].as_str().unwrap_or_default().to_string();
        let total = runs.len();
        let finished = runs
            .iter()
            .filter(|r| !matches!(status(r).as_str(), "queued" | "sent" | "running"))
            .count();
        let failed = runs
            .iter()
            .filter(|r| {
                matches!(
                    status(r).as_str(),
                    "failed" | "timed_out" | "refused" | "unknown"
                )
            })
            .count();
        let queued = runs.iter().filter(|r| status(r) == "queued").count();
        if progress {
            let width = 30;
            let filled = (finished * width).checked_div(total).unwrap_or(width);
            eprint!(
                "\r[{}{}] {finished}/{total} done, {failed} failed ",
                "#".repeat(filled),
                ".".repeat(width - filled)
            );
            let _ = std::io::stderr().flush();
        }
        if finished == total {
            break job;
        }
        // Connected devices get their run at once: runs still queued after
        // everything else finished wait for offline devices (until expiry).
        idle_polls = if finished + queued == total {
            idle_polls + 1
        } else {
            0
        };
        if idle_polls >= 6 {
            if progress {
                eprintln!();
            }
            eprintln!(
                "{queued} device(s) are offline: they run the job when they reconnect (until it expires)."
            );
            break job;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    if progress {
        eprintln!();
    }
    if args.json {
        return print_json(&job);
    }
    print_runs(&job, false);
    let failed = job["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| r["status"] != "succeeded");
    if failed {
        bail!("not every target succeeded");
    }
    Ok(())
}

fn print_runs(job: &Value, with_output: bool) {
    let mut rows = vec![vec![
        "DEVICE".into(),
        "STATUS".into(),
        "EXIT".into(),
        "TIME".into(),
        "OUTPUT".into(),
    ]];
    let runs = job["runs"].as_array().cloned().unwrap_or_default();
    let ids: Vec<(String, String)> = runs
        .iter()
        .map(|r| (s(r, "device_id"), s(r, "device_name")))
        .collect();
    let pairs: Vec<(&str, &str)> = ids.iter().map(|(i, n)| (i.as_str(), n.as_str())).collect();
    let devices = names::labels(&pairs);
    for (run, device) in runs.iter().zip(&devices) {
        let first_line = s(run, "stdout")
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(60)
            .collect::<String>();
        let output = if first_line.is_empty() {
            s(run, "message")
        } else {
            first_line
        };
        let time = run["duration_ms"]
            .as_i64()
            .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
            .unwrap_or_default();
        rows.push(vec![
            device.clone(),
            s(run, "status"),
            s(run, "exit_code"),
            time,
            output,
        ]);
    }
    println!("{}", table(&rows));
    if with_output {
        for (run, device) in runs.iter().zip(&devices) {
            for (stream, text) in [("stdout", s(run, "stdout")), ("stderr", s(run, "stderr"))] {
                if !text.is_empty() {
                    println!(
                        "\n--- {device} {stream}{} ---\n{}",
                        if run["truncated"] == json!(true) {
                            " (truncated)"
                        } else {
                            ""
                        },
                        text.trim_end()
                    );
                }
            }
        }
    }
}

async fn file(client: &Client, command: FileCommand) -> Result<()> {
    let b64 = base64::engine::general_purpose::STANDARD;
    match command {
        FileCommand::Get {
            device,
            path,
            local,
        } => {
            let device = names::id_of(client, Kind::Device, &device).await?;
            let answer = client
                .post(
                    &format!("/api/v1/devices/{device}/files/get"),
                    &json!({ "path": path }),
                )
                .await?;
            if s(&answer, "status") != "succeeded" {
                bail!("download failed: {}", s(&answer, "message"));
            }
            let bytes = b64
                .decode(s(&answer, "content_b64"))
                .context("the device sent bad base64")?;
            let expected = s(&answer, "message");
            let actual = format!("sha256:{}", steward_sign::sha256_hex(&bytes));
            if expected != actual {
                bail!("checksum mismatch: the device said {expected}, received {actual}");
            }
            if local.as_os_str() == "-" {
                std::io::stdout().write_all(&bytes)?;
            } else {
                std::fs::write(&local, &bytes)?;
                eprintln!("{} bytes, {actual}", bytes.len());
            }
            Ok(())
        }
        FileCommand::Put {
            device,
            local,
            path,
        } => {
            let limit = steward_proto::MAX_FILE_BYTES;
            let size = std::fs::metadata(&local)
                .with_context(|| format!("cannot read {}", local.display()))?
                .len();
            if size > limit as u64 {
                bail!(
                    "{} is {:.1} MiB; the limit is {} MiB",
                    local.display(),
                    size as f64 / (1 << 20) as f64,
                    limit >> 20
                );
            }
            let bytes = std::fs::read(&local)
                .with_context(|| format!("cannot read {}", local.display()))?;
            let device = names::id_of(client, Kind::Device, &device).await?;
            let answer = client
                .post(
                    &format!("/api/v1/devices/{device}/files/put"),
                    &json!({ "path": path, "content_b64": b64.encode(&bytes) }),
                )
                .await?;
            if s(&answer, "status") != "succeeded" {
                bail!("upload failed: {}", s(&answer, "message"));
            }
            println!("{}", s(&answer, "message"));
            Ok(())
        }
    }
}

/// Puts the terminal in raw mode while alive (keys go to the remote shell
/// as typed, Ctrl-C included).
struct RawMode(Option<rustix::termios::Termios>);

impl RawMode {
    fn enter() -> Self {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Self(None);
        }
        let Ok(saved) = rustix::termios::tcgetattr(&stdin) else {
            return Self(None);
        };
        let mut raw = saved.clone();
        raw.make_raw();
        let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw);
        Self(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                saved,
            );
        }
    }
}

async fn shell(client: &Client, device: &str) -> Result<()> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (cols, rows) = rustix::termios::tcgetwinsize(std::io::stdout())
        .map(|w| (w.ws_col.max(20), w.ws_row.max(5)))
        .unwrap_or((80, 24));
    let mut socket = client
        .websocket(&format!(
            "/api/v1/devices/{device}/shell?cols={cols}&rows={rows}"
        ))
        .await?;
    let raw = RawMode::enter();
    // Keystrokes come from a thread of their own: a blocking read of
    // tokio's stdin would keep the process alive after the server ended
    // the session, until the next key.
    let (keys_tx, mut keys) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || keys_tx.blocking_send(buf[..n].to_vec()).is_err() {
                return;
            }
        }
    });
    let mut stdout = std::io::stdout();
    let mut stdin_open = true;
    let reason = loop {
        tokio::select! {
            read = keys.recv(), if stdin_open => match read {
                None => stdin_open = false,
                Some(bytes) => {
                    let data = String::from_utf8_lossy(&bytes).into_owned();
                    socket.send(Message::text(json!({ "type": "input", "data": data }).to_string())).await?;
                }
            },
            message = socket.next() => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    stdout.write_all(&bytes)?;
                    stdout.flush()?;
                }
                Some(Ok(Message::Close(frame))) => break frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                Some(Ok(_)) => {}
                Some(Err(error)) => break error.to_string(),
                None => break "connection closed".to_string(),
            },
        }
    };
    drop(raw);
    eprintln!("\r\n[steward] session ended: {reason}");
    Ok(())
}
