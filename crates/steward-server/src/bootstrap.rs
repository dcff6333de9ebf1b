//! First start and every start: the data directory, the CA and server
//! certificate, the store, and the first admin.

use crate::{Config, auth};
use anyhow::{Context, Result};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use steward_pki::{Authority, CertifiedKey};
use steward_store::{NewGrant, NewUser, Store};
use steward_store_sql::SqlStore;

pub const DB_FILE: &str = "steward.db";
pub const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca.key";
const SERVER_CERT: &str = "server.pem";
const SERVER_KEY: &str = "server.key";
const SERVER_NAMES: &str = "server.names";
const JOB_SIGNING_KEY: &str = "job-signing.key";

pub struct Opened {
    pub store: Arc<dyn Store>,
    pub authority: Authority,
    pub server_cert: CertifiedKey,
    pub first_run: FirstRun,
    pub signer: Arc<dyn steward_sign::OrderSigner>,
    /// Held while the server runs.
    pub lock: fs::File,
}

/// What happened on this start that the operator must be told once.
#[derive(Debug, Default)]
pub struct FirstRun {
    /// Set when this start created the admin user with a generated password.
    pub generated_admin_password: Option<String>,
    pub created_admin: bool,
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, contents: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    Ok(())
}

/// Opens the SQLite store in `data_dir` (creating the directory,
/// owner-only).
pub async fn open_sqlite(data_dir: &Path) -> Result<SqlStore> {
    fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700))?;
    SqlStore::open_sqlite(&data_dir.join(DB_FILE))
        .await
        .with_context(|| format!("cannot open the database in {}", data_dir.display()))
}

/// Opens (and migrates) the store: PostgreSQL when `database` is a
/// `postgres://` URL, else SQLite in `data_dir`.
pub async fn open_store(data_dir: &Path, database: Option<&str>) -> Result<Arc<dyn Store>> {
    match database.filter(|d| !d.is_empty()) {
        None => Ok(Arc::new(open_sqlite(data_dir).await?)),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = steward_store_sql::SqlStore::connect_postgres(url)
                .await
                .with_context(|| {
                    format!("cannot open the PostgreSQL database {}", redact_url(url))
                })?;
            Ok(Arc::new(store))
        }
        Some(other) => anyhow::bail!(
            "--database {}: only postgres:// URLs are supported (leave it out for SQLite in the data directory)",
            redact_url(other)
        ),
    }
}

/// The URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Takes the data directory's lock (one server per data directory; a
/// restore refuses to run under a live server). Released when the file is
/// closed, also when the process dies.
pub fn lock_data_dir(dir: &Path) -> Result<fs::File> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join("steward.lock"))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
        |_| {
            anyhow::anyhow!(
                "{} is in use by a running Steward server; stop it first",
                dir.display()
            )
        },
    )?;
    Ok(file)
}

pub async fn open(config: &Config) -> Result<Opened> {
    let dir = &config.data_dir;
    let lock = lock_data_dir(dir)?;
    let store = open_store(dir, config.database.as_deref()).await?;
    let authority = load_or_create_ca(dir)?;
    let server_cert = load_or_issue_server_cert(dir, &authority, &server_names(config))?;
    for role in crate::authz::builtin_roles() {
        store.upsert_builtin_role(&role).await?;
    }
    let mut first_run = FirstRun::default();
    // First run only: once any user exists this never runs again, whatever
    // the environment says (no re-entrant setup).
    if store.user_count().await? == 0 {
        let (password, generated) = match std::env::var("STEWARD_ADMIN_PASSWORD") {
            Ok(p) if !p.is_empty() => (p, false),
            _ => (auth::random_secret(18), true),
        };
        let org = store.default_org().await?;
        let admin = store
            .create_user(&NewUser {
                id: uuid::Uuid::now_v7(),
                org_id: org.id,
                username: "admin".into(),
                password_hash: auth::hash_password(&password)?,
                created_at: crate::now_secs(),
                full_name: None,
                email: None,
            })
            .await?;
        // The first admin owns every organisation.
        store
            .create_grant(&NewGrant {
                id: uuid::Uuid::now_v7(),
                user_id: admin,
                org_id: None,
                site: None,
                role_id: "owner".into(),
                deny: false,
            })
            .await?;
        first_run.created_admin = true;
        if config.default_policy {
            for monitor in steward_alert::monitor::default_policy(&org.id.to_string(), || {
                uuid::Uuid::now_v7().to_string()
            }) {
                let definition = serde_json::to_value(&monitor)?;
                store
                    .create_monitor(&steward_store::MonitorRecord {
                        id: monitor.id.parse()?,
                        org_id: org.id,
                        name: monitor.name.clone(),
                        definition,
                        enabled: true,
                        version: 1,
                    })
                    .await?;
            }
        }
        if generated {
            first_run.generated_admin_password = Some(password);
        }
    }
    let signer = load_or_create_signing_key(
        &config
            .job_signing_key
            .clone()
            .unwrap_or_else(|| dir.join(JOB_SIGNING_KEY)),
    )?;
    Ok(Opened {
        store,
        authority,
        server_cert,
        first_run,
        signer,
        lock,
    })
}

/// The Ed25519 key that signs job orders (PKCS#8, base64, owner-only). It
/// lives in a file, not in the database: a copy of the database alone
/// cannot command the fleet. See docs/job-signing.md.
fn load_or_create_signing_key(path: &Path) -> Result<Arc<dyn steward_sign::OrderSigner>> {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    if path.exists() {
        let text = fs::read_to_string(path)
            .with_context(|| format!("cannot read the job-signing key {}", path.display()))?;
        let bytes = engine
            .decode(text.trim())
            .with_context(|| format!("{} is not base64", path.display()))?;
        let key = steward_sign::LocalKey::from_pkcs8(&bytes)
            .with_context(|| format!("{} is not a job-signing key", path.display()))?;
        return Ok(Arc::new(key));
    }
    let key = steward_sign::LocalKey::generate()?;
    write_private(path, &engine.encode(key.pkcs8()))?;
    tracing::info!(path = %path.display(), "Created the job-signing key.");
    Ok(Arc::new(key))
}

fn load_or_create_ca(dir: &Path) -> Result<Authority> {
    let (cert, key) = (dir.join(CA_CERT), dir.join(CA_KEY));
    if cert.exists() && key.exists() {
        return Authority::load(&fs::read_to_string(&cert)?, &fs::read_to_string(&key)?)
            .context("cannot load the CA from the data directory");
    }
    let authority = Authority::generate("Steward CA")?;
    write_private(&key, &authority.key_pem())?;
    write_private(&cert, &authority.cert_pem)?;
    fs::set_permissions(&cert, fs::Permissions::from_mode(0o644))?;
    tracing::info!(path = %cert.display(), "Created the Steward CA.");
    Ok(authority)
}

/// Names the server certificate must carry: localhost, loopback, the host
/// name, the listen address and any extra names. The certificate is
/// re-issued when this list changes.
fn server_names(config: &Config) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if let Ok(host) = fs::read_to_string("/proc/sys/kernel/hostname") {
        names.push(host.trim().to_string());
    }
    if config.listen.ip().is_unspecified() {
        // Listening everywhere: every local address is a way in.
        if let Ok(networks) = sysinfo::Networks::new_with_refreshed_list() {
            names.extend(
                networks
                    .values()
                    .flat_map(|n| n.ip_networks())
                    .filter(|n| !matches!(n.addr, std::net::IpAddr::V6(v6) if v6.is_unicast_link_local()))
                    .map(|n| n.addr.to_string()),
            );
        }
    } else {
        names.push(config.listen.ip().to_string());
    }
    if let Some(host) = config.public_url.as_deref().and_then(url_host) {
        names.push(host);
    }
    names.extend(config.extra_names.iter().cloned());
    names.retain(|n| !n.is_empty());
    names.sort();
    names.dedup();
    names
}

fn load_or_issue_server_cert(
    dir: &Path,
    authority: &Authority,
    names: &[String],
) -> Result<CertifiedKey> {
    let (cert, key, names_file) = (
        dir.join(SERVER_CERT),
        dir.join(SERVER_KEY),
        dir.join(SERVER_NAMES),
    );
    let wanted = names.join("\n");
    if cert.exists()
        && key.exists()
        && fs::read_to_string(&names_file).ok().as_deref() == Some(&wanted)
    {
        return Ok(CertifiedKey {
            cert_pem: fs::read_to_string(&cert)?,
            key_pem: fs::read_to_string(&key)?,
        });
    }
    let issued = authority.issue_server(names)?;
    write_private(&key, &issued.key_pem)?;
    write_private(&cert, &issued.cert_pem)?;
    write_private(&names_file, &wanted)?;
    Ok(issued)
}

fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    (!host.is_empty()).then(|| host.to_string())
}

/// The URL agents and the CLI should use.
pub fn public_url(config: &Config) -> String {
    if let Some(url) = &config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let ip = config.listen.ip();
    let host = if ip.is_unspecified() {
        fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into())
    } else if ip.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    format!("https://{host}:{}", config.listen.port())
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_host_of_a_public_url() {
        assert_eq!(
            super::url_host("https://rmm.example.com:8443/").as_deref(),
            Some("rmm.example.com")
        );
        assert_eq!(
            super::url_host("https://[2001:db8::1]:8443").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            super::url_host("https://10.0.0.5").as_deref(),
            Some("10.0.0.5")
        );
        assert_eq!(super::url_host("nonsense"), None);
    }
}
