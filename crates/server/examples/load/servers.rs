//! The banks under test: one on SQLite, or `--instances` on one private PostgreSQL, each served
//! as the binary serves it, with the credentials and limits of a bank's own web tier.

use std::net::SocketAddr;
use std::sync::Arc;

use softtoken_server::bank::Bank;
use softtoken_server::clock::ManualClock;
use softtoken_server::edge::EdgeLimits;
use softtoken_server::http::{AdminToken, HttpOptions};
use softtoken_server::ratelimit::RateLimits;
use softtoken_server::storage::postgres::PostgresStorage;
use softtoken_server::storage::sqlite::Synchronous;
use softtoken_server::testing::postgres::PgCluster;
use softtoken_server::testing::{BankOptions, TestBank};

const ADMIN: &str = "load-benchmark-admin-token";
/// The bank web tier's verify-only credential, as a bank's web servers would present it.
pub const VERIFIER: &str = "load-benchmark-verify-token";
/// The bank web tier's confirm-only credential.
pub const CONFIRMER: &str = "load-benchmark-confirm-token";
/// The service every benchmark token belongs to.
pub const SERVICE: &str = "10112231";

// Which database, and how the banks share it. (A plain comment: clap would take a doc comment
// here for the benchmark's own description in `--help`.)
#[derive(clap::Args)]
pub struct DatabaseArgs {
    /// Commit durability of the database.
    #[arg(long, default_value = "full", value_parser = parse_synchronous)]
    pub synchronous: Synchronous,
    /// A private PostgreSQL (durable commits) instead of SQLite.
    #[arg(long)]
    pub postgres: bool,
    /// Server instances on the one PostgreSQL database (with --postgres).
    #[arg(long, default_value_t = 1)]
    pub instances: usize,
    /// Connections in each instance's PostgreSQL pool (with --postgres).
    #[arg(long)]
    pub pool_size: Option<usize>,
    /// PostgreSQL's `commit_delay` in microseconds (with --postgres): how long a commit waits
    /// for others to share its WAL flush.
    #[arg(long)]
    pub commit_delay: Option<u32>,
}

fn parse_synchronous(name: &str) -> Result<Synchronous, String> {
    Synchronous::parse(name).ok_or_else(|| format!("one of {:?}", Synchronous::NAMES))
}

/// One running instance: its bank and the addresses of its two listeners.
pub struct Instance {
    pub bank: TestBank,
    pub url: String,
    pub admin: SocketAddr,
}

/// Every running instance, and the PostgreSQL cluster they share (if any).
pub struct Servers {
    pub instances: Vec<Instance>,
    cluster: Option<PgCluster>,
}

async fn serve(bank: TestBank, edge: EdgeLimits) -> Instance {
    let bind = || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        l
    };
    let (public, admin) = (bind(), bind());
    let (url, admin_addr) =
        (format!("http://{}", public.local_addr().unwrap()), admin.local_addr().unwrap());
    for (listener, router) in [(public, bank.router()), (admin, bank.admin_router())] {
        tokio::spawn(async move {
            let handle = axum_server::Handle::new();
            softtoken_server::serve::listen(listener, handle, router, None, edge, &[])
                .await
                .unwrap();
        });
    }
    Instance { bank, url, admin: admin_addr }
}

impl Servers {
    /// Starts the banks on a clock pinned at `clock`, each taking `concurrency` connections
    /// from this one address.
    pub async fn start(db: &DatabaseArgs, concurrency: usize, clock: ManualClock) -> Servers {
        let edge = EdgeLimits {
            max_connections_per_address: concurrency.max(32),
            max_connections: EdgeLimits::default().max_connections.max(concurrency + 64),
            ..EdgeLimits::default()
        };
        let options = || BankOptions {
            http: HttpOptions {
                admin_token: Some(AdminToken::new(ADMIN).unwrap()),
                verify_token: Some(AdminToken::new(VERIFIER).unwrap()),
                confirm_token: Some(AdminToken::new(CONFIRMER).unwrap()),
                rate_limits: RateLimits {
                    per_address_burst: 1_000,
                    per_address_per_minute: 1_000,
                    total_burst: 1_000,
                    total_per_minute: 1_000,
                },
                // Every provisioning round trip comes from this one address.
                start_limits: RateLimits {
                    per_address_burst: 1_000_000,
                    per_address_per_minute: 1_000_000,
                    total_burst: 1_000_000,
                    total_per_minute: 1_000_000,
                },
                edge,
                ..HttpOptions::default()
            },
            clock: Arc::new(clock.clone()),
            synchronous: db.synchronous,
            // Instances on one database share the key; a benchmark's key protects nothing.
            master_key: Some("42".repeat(32)),
            ..BankOptions::default()
        };
        let mut cluster = None;
        let mut instances = Vec::new();
        if db.postgres {
            let pg_cluster = PgCluster::start_with(true).unwrap();
            if let Some(us) = db.commit_delay {
                pg_cluster.psql(&format!("ALTER SYSTEM SET commit_delay = {us}")).unwrap();
                pg_cluster.psql("SELECT pg_reload_conf()").unwrap();
            }
            for _ in 0..db.instances.max(1) {
                let mut pg = pg_cluster.options();
                if let Some(n) = db.pool_size {
                    pg.pool_size = n;
                }
                let storage = PostgresStorage::open(pg, true).await.unwrap();
                let bank = TestBank::on(options(), Arc::new(storage), tempfile::tempdir().unwrap());
                instances.push(serve(bank.unwrap(), edge).await);
            }
            cluster = Some(pg_cluster);
        } else {
            instances.push(serve(TestBank::open(options()).unwrap(), edge).await);
        }
        Servers { instances, cluster }
    }

    /// The first instance's bank, which issues the tokens.
    pub fn first_bank(&self) -> Arc<Bank> {
        self.instances[0].bank.bank().clone()
    }

    /// The database and its settings, for the benchmark's first line.
    pub fn describe(&self, db: &DatabaseArgs) -> String {
        if db.postgres {
            format!(
                "PostgreSQL (synchronous_commit=on, commit_delay={} µs), {} instance(s), pool of {} each",
                db.commit_delay.unwrap_or(0),
                self.instances.len(),
                db.pool_size.unwrap_or(self.cluster.as_ref().unwrap().options().pool_size)
            )
        } else {
            format!("SQLite synchronous={:?}", db.synchronous)
        }
    }

    /// Closes every bank's database, then stops the PostgreSQL cluster.
    pub async fn close(self) {
        let Servers { instances, cluster } = self;
        for i in &instances {
            i.bank.storage.close().await;
        }
        drop(instances);
        drop(cluster);
    }
}
