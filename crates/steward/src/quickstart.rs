//! `steward quickstart`: the server on its embedded defaults plus this
//! machine's own agent, so the first screen is not empty.

use anyhow::{Context, Result, anyhow, bail};
use std::time::Duration;
use steward_server::{Config, enrollment};
use steward_store::{Scope, Status};
use tokio::process::Command;

pub async fn run(config: Config) -> Result<()> {
    let (server, first_run) = steward_server::launch(config).await?;
    let state = server.state.clone();
    let data_dir = std::fs::canonicalize(&state.config.data_dir)?;
    let agent_dir = data_dir.join("agent");
    let exe = std::env::current_exe().context("cannot find the steward executable")?;

    if !agent_dir.join("agent.json").exists() {
        let org = state.store.default_org().await?;
        let (_, token) = enrollment::issue_token(
            &state,
            org.id,
            "default".into(),
            vec!["quickstart".into()],
            Duration::from_secs(600),
            Some(1),
            "quickstart",
        )
        .await
        .map_err(|e| anyhow!(e.message))?;
        let status = Command::new(&exe)
            .arg("agent")
            .arg("--state-dir")
            .arg(&agent_dir)
            .args(["enroll", &token])
            .status()
            .await?;
        if !status.success() {
            bail!("enrolling this machine's agent failed (see above)");
        }
    }
    let mut agent = Command::new(&exe)
        .arg("agent")
        .arg("--state-dir")
        .arg(&agent_dir)
        .args(["run", "--interval", "15s"])
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the local agent")?;

    let cli_env = data_dir.join("cli.env");
    if !cli_env.exists() {
        let created = crate::local::offline_token(&data_dir, "admin", "quickstart", None).await?;
        let token = created["token"].as_str().unwrap_or_default();
        let text = format!(
            "export STEWARD_URL={}\nexport STEWARD_TOKEN={token}\nexport STEWARD_CA={}\n",
            state.public_url,
            data_dir.join("ca.pem").display()
        );
        steward_server::bootstrap::write_private(&cli_env, &text)?;
    }

    // Wait (bounded) until this host is online with its first figures.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    let devices = loop {
        let devices = state.store.list_devices(&Scope::all()).await?;
        if devices
            .iter()
            .any(|d| d.status == Status::Online && d.cpu_utilization.is_some())
        {
            break devices;
        }
        if tokio::time::Instant::now() > deadline {
            eprintln!("The local agent has not reported yet; check the log above.");
            break devices;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let rows = serde_json::to_value(&devices)?;
    println!("\nSteward is running.\n");
    println!("  Console:   {}/", state.public_url);
    match (&first_run.generated_admin_password, first_run.created_admin) {
        (Some(password), _) => println!("  Sign in:   admin / {password}   (shown once; keep it)"),
        (None, true) => println!("  Sign in:   admin / the password in STEWARD_ADMIN_PASSWORD"),
        (None, false) => println!("  Sign in:   admin / the password printed on the first start"),
    }
    println!(
        "  CA:        {}  (your browser will warn until you trust it)",
        data_dir.join("ca.pem").display()
    );
    println!(
        "  CLI:       source {} && steward devices\n",
        cli_env.display()
    );
    println!("{}\n", crate::output::devices_table(&rows));
    println!("Press Ctrl-C to stop.");

    tokio::select! {
        _ = crate::shutdown_signal() => {}
        status = agent.wait() => eprintln!("The local agent exited ({status:?})."),
    }
    let _ = agent.start_kill();
    server.shutdown().await;
    Ok(())
}
