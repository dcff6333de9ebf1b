//! The script hook: a command the device's administrator configured prints
//! one job's outcome as JSON in the model's shape (`result`, `reason`,
//! `last_run_ms`, `duration_ms`, `size_bytes`, `file_count`,
//! `newest_good_ms`); the job's name and source come from the
//! configuration, not from the script.

use super::Observation;
use super::run::{self, Cmd};
use std::time::Duration;
use steward_proto::{BackupJob, BackupResult};

pub const MAX_OUTPUT: usize = 64 * 1024;

pub fn parse(stdout: &[u8]) -> Observation {
    let job: BackupJob = match serde_json::from_slice(stdout) {
        Ok(job) => job,
        Err(error) => {
            return Observation::failed(&run::clean(
                &format!("the script printed no backup outcome: {error}"),
                200,
            ));
        }
    };
    let time = |t: Option<i64>| t.filter(|t| (0..=7_258_118_400_000).contains(t));
    Observation {
        result: job.result,
        reason: run::clean(&job.reason, steward_proto::MAX_BACKUP_REASON),
        run_ms: time(job.last_run_ms),
        duration_ms: job
            .duration_ms
            .filter(|d| (0..=400 * 86_400_000).contains(d)),
        size_bytes: job
            .size_bytes
            .filter(|n| (*n as f64) <= steward_proto::validate::MAX_ABS_VALUE),
        file_count: job
            .file_count
            .filter(|n| (*n as f64) <= steward_proto::validate::MAX_ABS_VALUE),
        newest_good_ms: time(job.newest_good_ms),
        copy_id: format!("{:?}", job.last_run_ms),
        running: false,
    }
}

pub async fn scan(command: &str, timeout: Duration) -> Observation {
    let (shell, shell_args) = crate::os::sys::shell_command();
    let mut cmd = Cmd::new(shell);
    cmd.args = shell_args.iter().map(Into::into).collect();
    let output = run::run(&cmd.arg(command), timeout, MAX_OUTPUT).await;
    if output.timed_out {
        return Observation::failed(&format!(
            "the script did not finish within {} s",
            timeout.as_secs()
        ));
    }
    if output.truncated {
        return Observation::failed("the script printed more than 64 KiB");
    }
    if output.code != Some(0) {
        let mut seen = parse(&output.stdout);
        if seen.result == BackupResult::Ok || seen.reason.starts_with("the script printed no") {
            seen = Observation::failed(&format!(
                "the script exited with {}: {}",
                output.code.map_or("a signal".into(), |c| c.to_string()),
                run::last_line(&output.stderr, 200)
            ));
        }
        return seen;
    }
    parse(&output.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_model_and_refuses_junk() {
        let seen = parse(br#"{"result":"warning","reason":"2 files skipped","last_run_ms":1700000000000,"size_bytes":42,"name":"ignored"}"#);
        assert_eq!(
            (seen.result, seen.reason.as_str(), seen.size_bytes),
            (BackupResult::Warning, "2 files skipped", Some(42))
        );
        assert_eq!(parse(b"hello").result, BackupResult::Failed);
        let wild =
            parse(br#"{"result":"ok","last_run_ms":-1,"duration_ms":-5,"reason":"a\u0007b"}"#);
        assert_eq!(
            (wild.run_ms, wild.duration_ms, wild.reason.as_str()),
            (None, None, "a b")
        );
    }

    #[tokio::test]
    async fn runs_the_hook() {
        let ok = scan(
            r#"echo '{"result":"ok","last_run_ms":1700000000000}'"#,
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(ok.result, BackupResult::Ok);
        let failed = scan("echo nope >&2; exit 4", Duration::from_secs(10)).await;
        assert_eq!(failed.reason, "the script exited with 4: nope");
        let hung = scan("sleep 20", Duration::from_millis(200)).await;
        assert!(hung.reason.contains("did not finish"));
    }
}
