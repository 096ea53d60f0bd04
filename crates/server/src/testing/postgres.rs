//! A private PostgreSQL cluster for tests and benchmarks, from the system's own package
//! (Debian's `postgresql`: `/usr/lib/postgresql/<version>/bin`): `initdb` into a temporary
//! directory, `postgres` on a free loopback port, stopped when dropped.
//!
//! PostgreSQL refuses to run as root, and the test command runs as root: then the cluster runs
//! as `nobody`, which owns the temporary directory. So that nothing outlives a test process
//! that is killed before its drops run, the server runs under `timeout`: it stops by itself
//! after [`PgCluster::LIFETIME_SECS`] whatever happens to its parent.

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::error::{Error, Result};
use crate::storage::postgres::PostgresOptions;

/// A running (or stopped) private PostgreSQL cluster.
pub struct PgCluster {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
    owner: Option<(u32, u32)>,
    server: Option<Child>,
}

impl std::fmt::Debug for PgCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCluster").field("port", &self.port).finish_non_exhaustive()
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Storage(format!("test PostgreSQL: {what}: {e}"))
}

fn id_of(flag: &str) -> Result<u32> {
    let out = Command::new("id").args([flag, "nobody"]).output()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|e| failed("id nobody", e))
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

impl PgCluster {
    /// Seconds after which the server stops by itself.
    pub const LIFETIME_SECS: u64 = 1800;

    /// The newest installed PostgreSQL's `bin` directory, if any.
    pub fn installed() -> Option<PathBuf> {
        let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                bin.join("initdb").exists().then_some((version, bin))
            })
            .collect();
        found.sort();
        found.pop().map(|(_, bin)| bin)
    }

    /// Creates and starts a cluster with `fsync` off (tests need no durability through a
    /// power cut, and it spares the shared disk).
    ///
    /// # Errors
    /// [`Error::Unavailable`] when PostgreSQL is not installed; [`Error::Storage`] when it does
    /// not start.
    pub fn start() -> Result<Self> {
        Self::start_with(false)
    }

    /// Creates and starts a cluster; with `durable`, `fsync` and `synchronous_commit` on as in
    /// production (for benchmarks).
    ///
    /// # Errors
    /// As [`PgCluster::start`].
    pub fn start_with(durable: bool) -> Result<Self> {
        let bin = Self::installed().ok_or(Error::Unavailable)?;
        let dir = tempfile::tempdir()?;
        // SAFETY-free check of root: the effective user of this process.
        let root = Command::new("id").arg("-u").output()?.stdout.starts_with(b"0\n");
        let owner = if root { Some((id_of("-u")?, id_of("-g")?)) } else { None };
        if let Some((uid, gid)) = owner {
            chown_tree(dir.path(), uid, gid)?;
        }
        let mut cluster = Self { bin, dir, port: 0, owner, server: None };
        let out = cluster
            .command("initdb")
            .args(["--no-sync", "--no-locale", "-E", "UTF8", "--auth=trust", "-U", "softtoken"])
            .arg("-D")
            .arg(cluster.data())
            .output()?;
        if !out.status.success() {
            return Err(failed("initdb", String::from_utf8_lossy(&out.stderr)));
        }
        let conf = if durable {
            "fsync = on\nsynchronous_commit = on\n"
        } else {
            "fsync = off\nsynchronous_commit = on\nfull_page_writes = off\n"
        };
        let conf_path = cluster.data().join("postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&conf_path).unwrap_or_default();
        text.push_str(conf);
        // Room for three instances with the default pool each, and for psql beside them.
        text.push_str("max_connections = 300\nlisten_addresses = '127.0.0.1'\n");
        std::fs::write(&conf_path, text)?;
        cluster.port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        cluster.run()?;
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = self.owner {
            cmd.uid(uid).gid(gid);
        }
        cmd.env_remove("PGDATA").current_dir(self.dir.path());
        cmd
    }

    /// Starts the server of a stopped cluster (after [`PgCluster::stop`]) and waits until it
    /// takes connections.
    ///
    /// # Errors
    /// [`Error::Storage`] when it does not come up within 60 seconds.
    pub fn run(&mut self) -> Result<()> {
        if self.server.is_some() {
            return Ok(());
        }
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "10", &Self::LIFETIME_SECS.to_string()])
            .arg(self.bin.join("postgres"))
            .arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("postgres.log"))?);
        if let Some((uid, gid)) = self.owner {
            cmd.uid(uid).gid(gid);
        }
        self.server = Some(cmd.spawn()?);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = self
                .command("pg_isready")
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()?;
            if ready.success() {
                return Ok(());
            }
            if let Some(child) = self.server.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.server = None;
                    let log = std::fs::read_to_string(self.dir.path().join("postgres.log"))
                        .unwrap_or_default();
                    return Err(failed("postgres exited", format!("{status}: {log}")));
                }
            }
            if Instant::now() > deadline {
                return Err(failed("start", "not ready after 60 s"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (fast shutdown: open connections are cut, as when a database host
    /// goes down); the data stays for [`PgCluster::run`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            // `timeout` passes SIGINT on to postgres: fast shutdown.
            let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }

    /// The URL of the cluster's `postgres` database, as the `softtoken` superuser, plain TCP
    /// on loopback.
    pub fn url(&self) -> String {
        format!("postgres://softtoken@127.0.0.1:{}/postgres?sslmode=disable", self.port)
    }

    /// Storage options for [`PgCluster::url`].
    pub fn options(&self) -> PostgresOptions {
        PostgresOptions {
            audit_key: Some(super::test_audit_key()),
            ..PostgresOptions::new(self.url())
        }
    }

    /// Runs SQL through `psql` as the superuser (for a test to look at or change the
    /// database behind the server's back).
    ///
    /// # Errors
    /// [`Error::Storage`] when psql fails; its output otherwise.
    pub fn psql(&self, sql: &str) -> Result<String> {
        let out = self
            .command("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url().replace("?sslmode=disable", ""))
            .args(["-c", sql])
            .output()?;
        if !out.status.success() {
            return Err(failed("psql", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
    }
}
