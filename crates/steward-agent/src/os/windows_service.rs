//! The agent as a Windows service: `steward-agent service install [RUN
//! FLAGS]` registers it with the service control manager (started at boot,
//! as LocalSystem, restarted 5 s, 30 s and 60 s after a failure, the count
//! reset after a day: what `sc failure` sets), `start`, `stop` and
//! `uninstall` drive it, and the SCM launches `service dispatch`, which
//! runs the agent until the SCM says stop (the agent's shutdown path, as on
//! SIGTERM elsewhere). The running service sets its recovery actions again,
//! for when the MSI (`packaging/windows/`) registered it.

use anyhow::{Context, Result};
use std::ffi::{OsStr, OsString};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::Notify;
use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

pub const SERVICE_NAME: &str = "StewardAgent";
const DISPLAY_NAME: &str = "Steward Agent";

fn stop_signal() -> &'static Notify {
    static STOP: OnceLock<Notify> = OnceLock::new();
    STOP.get_or_init(Notify::new)
}

/// Resolves when the SCM asked the service to stop (never when the agent
/// runs from a console).
pub async fn stopped() {
    stop_signal().notified().await;
}

/// The agent's command line for the service's run, handed from `dispatch`
/// to the SCM's thread.
fn pending() -> &'static Mutex<Option<crate::cli::Cli>> {
    static CLI: OnceLock<Mutex<Option<crate::cli::Cli>>> = OnceLock::new();
    CLI.get_or_init(|| Mutex::new(None))
}

define_windows_service!(ffi_service_main, service_main);

/// What the SCM starts: hands `cli` (the `run` command) to the service's
/// main and blocks until the service stops.
pub fn dispatch(cli: crate::cli::Cli) -> Result<()> {
    *pending().lock().unwrap_or_else(|p| p.into_inner()) = Some(cli);
    service_dispatcher::start(SERVICE_NAME, ffi_service_main)
        .context("not started by the service control manager (use `service start`)")
}

fn service_main(_arguments: Vec<OsString>) {
    let handler = |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            stop_signal().notify_one();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let Ok(status) = service_control_handler::register(SERVICE_NAME, handler) else {
        return;
    };
    let report = |state, code| {
        let _ = status.set_service_status(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: if state == ServiceState::Running {
                ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
            } else {
                ServiceControlAccept::empty()
            },
            exit_code: ServiceExitCode::Win32(code),
            checkpoint: 0,
            wait_hint: Duration::from_secs(10),
            process_id: None,
        });
    };
    report(ServiceState::Running, 0);
    ensure_recovery();
    let cli = pending().lock().unwrap_or_else(|p| p.into_inner()).take();
    let outcome = match cli {
        Some(cli) => crate::cli::run(cli),
        None => Err(anyhow::anyhow!("no command line for the service")),
    };
    // A failure reported as an exit code: the recovery actions restart it.
    report(ServiceState::Stopped, u32::from(outcome.is_err()));
}

/// Restarts 5 s, 30 s and 60 s after a failure, the count reset after a
/// day.
fn set_recovery(service: &windows_service::service::Service) -> windows_service::Result<()> {
    let restart = |secs| ServiceAction {
        action_type: ServiceActionType::Restart,
        delay: Duration::from_secs(secs),
    };
    service.update_failure_actions(ServiceFailureActions {
        reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(86_400)),
        reboot_msg: None,
        command: None,
        actions: Some(vec![restart(5), restart(30), restart(60)]),
    })?;
    // A non-zero exit code counts as a failure too, not only a crash.
    service.set_failure_actions_on_non_crash_failures(true)
}

/// The recovery actions set by the running service itself, so a service
/// registered by other means (the MSI's ServiceInstall, which has no
/// failure actions) gets them too. Best effort: Wine has none.
fn ensure_recovery() {
    let service = manager(ServiceManagerAccess::CONNECT)
        .and_then(|manager| Ok(manager.open_service(SERVICE_NAME, ServiceAccess::CHANGE_CONFIG)?));
    if let Ok(service) = service {
        let _ = set_recovery(&service);
    }
}

fn manager(access: ServiceManagerAccess) -> Result<ServiceManager> {
    ServiceManager::local_computer(None::<&str>, access)
        .context("cannot open the service control manager (run as Administrator)")
}

/// Registers the service: `launch` is the agent's arguments after the
/// executable (its state directory, `service dispatch`, `run`'s flags).
pub fn install(launch: Vec<OsString>) -> Result<()> {
    let manager = manager(ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE)?;
    let info = ServiceInfo {
        name: SERVICE_NAME.into(),
        display_name: DISPLAY_NAME.into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: std::env::current_exe().context("cannot find this executable")?,
        launch_arguments: launch,
        dependencies: Vec::new(),
        account_name: None,
        account_password: None,
    };
    let service = manager
        .create_service(&info, ServiceAccess::CHANGE_CONFIG | ServiceAccess::START)
        .context("cannot create the service")?;
    service
        .set_description("Steward endpoint agent: monitoring, inventory, patching and jobs.")
        .context("cannot describe the service")?;
    if let Err(error) = set_recovery(&service) {
        // Installed and startable all the same (Wine has no recovery
        // actions): said, with how to set them by hand.
        eprintln!(
            "The service is installed without recovery actions ({error}); set them with: \
             sc.exe failure {SERVICE_NAME} reset= 86400 actions= restart/5000/restart/30000/restart/60000"
        );
    }
    Ok(())
}

/// ERROR_SERVICE_ALREADY_RUNNING.
const ALREADY_RUNNING: i32 = 1056;

/// Starts the service; one already running (an automatic start got there
/// first, as wine's SCM does when it comes up) is success.
pub fn start() -> Result<()> {
    let started = manager(ServiceManagerAccess::CONNECT)?
        .open_service(SERVICE_NAME, ServiceAccess::START)
        .context("the service is not installed")?
        .start::<&OsStr>(&[]);
    match started {
        Err(windows_service::Error::Winapi(error))
            if error.raw_os_error() == Some(ALREADY_RUNNING) =>
        {
            Ok(())
        }
        other => other.context("cannot start the service"),
    }
}

/// Asks the service to stop and waits (at most 30 s) until it has.
pub fn stop() -> Result<()> {
    let service = manager(ServiceManagerAccess::CONNECT)?
        .open_service(
            SERVICE_NAME,
            ServiceAccess::STOP | ServiceAccess::QUERY_STATUS,
        )
        .context("the service is not installed")?;
    stop_and_wait(&service)
}

/// Stops `service` and waits (at most 30 s). A service still starting
/// (wine's SCM starts an automatic service when it comes up) cannot take
/// the stop yet: it is asked again once it runs.
fn stop_and_wait(service: &windows_service::service::Service) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut asked = false;
    loop {
        let state = service.query_status()?.current_state;
        match state {
            ServiceState::Stopped => return Ok(()),
            ServiceState::Running | ServiceState::Paused if !asked => match service.stop() {
                Ok(_) => asked = true,
                // Still starting, or stopped meanwhile: looked at again.
                Err(windows_service::Error::Winapi(error))
                    if matches!(error.raw_os_error(), Some(CANNOT_ACCEPT_CTRL | NOT_ACTIVE)) => {}
                Err(error) => return Err(error).context("cannot stop the service"),
            },
            // Starting, stopping, pausing, resuming, or asked: waited for.
            _ => {}
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("the service did not stop within 30 s (it is {state:?})");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// ERROR_SERVICE_NOT_ACTIVE.
const NOT_ACTIVE: i32 = 1062;

/// ERROR_SERVICE_CANNOT_ACCEPT_CTRL.
const CANNOT_ACCEPT_CTRL: i32 = 1061;

/// Marks the service for deletion first, so that the SCM cannot start it
/// any more (wine's starts the automatic service as it comes up, and a
/// stop before that start left it running, deleted), then stops it:
/// Windows removes it once it has stopped. One that would not stop is an
/// error, since the agent still runs.
pub fn uninstall() -> Result<()> {
    let service = manager(ServiceManagerAccess::CONNECT)?
        .open_service(
            SERVICE_NAME,
            ServiceAccess::DELETE | ServiceAccess::STOP | ServiceAccess::QUERY_STATUS,
        )
        .context("the service is not installed")?;
    service.delete().context("cannot delete the service")?;
    stop_and_wait(&service)
        .context("the service is marked for deletion but still runs; it goes when it stops")
}
