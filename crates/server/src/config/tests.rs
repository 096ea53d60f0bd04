//! The configuration's tests: layering, refusals, and the help texts held to the defaults.

use std::collections::BTreeMap;
use std::path::Path;

use clap::{CommandFactory as _, Parser as _};
use ipnet::IpNet;

use super::defaults::*;
use super::*;

/// A master key file as the bank keeps it: its owner's alone.
fn key_file(path: &Path, byte: &str) {
    let mut f = crate::files::create_private_file(path, false).unwrap();
    std::io::Write::write_all(&mut f, byte.repeat(32).as_bytes()).unwrap();
}

fn common() -> CommonArgs {
    Cli::parse_from(["softtoken-server"]).common
}

#[test]
fn file_config_refuses_unknown_keys() {
    assert!(parse_file("bind = \"127.0.0.1:1\"\ntypo = 1").is_err());
    let ok = parse_file("bind = \"127.0.0.1:1\"\n[limits]\nprovision_max_tries = 3").unwrap();
    assert_eq!(ok.limits.policy.provision_max_tries, Some(3));
}

#[test]
fn plain_http_on_a_public_address_is_refused_unless_behind_a_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    key_file(&key, "11");
    let mut c = common();
    c.keys.master_key_file = Some(key);
    let mut s = ServeArgs::default();
    s.addresses.bind = Some("0.0.0.0:8443".parse().unwrap());
    let err = resolve(&c, Some(&s)).unwrap_err().to_string();
    assert!(err.contains("refusing plain HTTP"), "{err}");
    s.front.behind_tls_proxy = true;
    let settings = resolve(&c, Some(&s)).unwrap();
    // The proxy is on this host unless networks are named.
    assert_eq!(
        settings.http.trusted_proxies,
        ["127.0.0.0/8".parse::<IpNet>().unwrap(), "::1/128".parse().unwrap()]
    );
    s.front.trusted_proxies = vec!["10.1.0.0/16".into(), "192.0.2.9".into()];
    let settings = resolve(&c, Some(&s)).unwrap();
    assert_eq!(
        settings.http.trusted_proxies,
        ["10.1.0.0/16".parse::<IpNet>().unwrap(), "192.0.2.9/32".parse().unwrap()]
    );
    s.front.trusted_proxies = vec!["10.1.0.0/33".into()];
    let err = resolve(&c, Some(&s)).unwrap_err().to_string();
    assert!(err.contains("trusted_proxies"), "{err}");
    s.front.trusted_proxies.clear();
    s.front.behind_tls_proxy = false;
    s.addresses.bind = Some("127.0.0.1:0".parse().unwrap());
    assert!(resolve(&c, Some(&s)).is_ok());
}

#[test]
fn an_admin_api_off_loopback_is_refused_without_tls_even_behind_a_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    key_file(&key, "11");
    let mut c = common();
    c.keys.master_key_file = Some(key);
    let mut s = ServeArgs::default();
    s.addresses.bind = Some("0.0.0.0:8443".parse().unwrap());
    s.addresses.admin_bind = Some("10.0.5.20:8444".parse().unwrap());
    s.front.behind_tls_proxy = true;
    s.front.trusted_proxies = vec!["10.0.0.0/8".into()];
    let err = resolve(&c, Some(&s)).unwrap_err().to_string();
    assert!(err.contains("refusing plain HTTP for the admin API on 10.0.5.20:8444"), "{err}");
    assert!(err.contains("--behind-tls-proxy does not lift this"), "{err}");
    // The public listener may still sit behind the proxy while the admin API stays on this host.
    s.addresses.admin_bind = Some("127.0.0.1:8444".parse().unwrap());
    assert!(resolve(&c, Some(&s)).is_ok());
    // With the server's own TLS the admin API may face the bank's network.
    s.addresses.admin_bind = Some("10.0.5.20:8444".parse().unwrap());
    s.front.tls_cert = Some(dir.path().join("cert.pem"));
    s.front.tls_key = Some(dir.path().join("key.pem"));
    assert!(resolve(&c, Some(&s)).is_ok());
}

#[test]
fn a_database_url_chooses_postgresql_and_anything_but_postgres_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("server.toml");
    std::fs::write(
        &cfg,
        "database_url = \"postgres://softtoken@db.example:5432/bank\"\nmigrate_on_start = true\n\
         [limits]\ndatabase_pool_size = 4\n",
    )
    .unwrap();
    let mut c = common();
    c.config = Some(cfg);
    let file = file_of(&c).unwrap();
    let pg = postgres_options(&c, &file).unwrap().unwrap();
    assert_eq!((pg.url.as_str(), pg.pool_size), ("postgres://softtoken@db.example:5432/bank", 4));
    assert!(file.database.migrate_on_start);
    // The URL may carry a password: never in a Debug print.
    assert!(!format!("{pg:?}").contains("db.example"));
    c.database.database_url = Some("sqlite:///var/lib/bank.db".into());
    let err = postgres_options(&c, &file).unwrap_err().to_string();
    assert!(err.contains("postgres://"), "{err}");
}

#[test]
fn flags_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("server.toml");
    std::fs::write(
        &cfg,
        format!(
            "master_key_file = \"{}\"\nissuer = \"File Bank\"\n[limits]\nprovision_max_tries = 3\nverify_max_failures = 4\n",
            dir.path().join("k").display()
        ),
    )
    .unwrap();
    key_file(&dir.path().join("k"), "22");
    let mut c = common();
    c.config = Some(cfg);
    c.policy.verify_max_failures = Some(7);
    let s = resolve(&c, None).unwrap();
    assert_eq!(s.policy.provision_max_tries, 3);
    assert_eq!(s.policy.verify_max_failures, 7);
    assert_eq!(s.policy.issuer, "File Bank");
}

/// What each flag's help text says its default is, from the values the server really uses.
fn defaults_the_help_must_quote() -> BTreeMap<&'static str, String> {
    let policy = Policy::default();
    let (fail, start, edge) = (PROVISION_FAILURE_LIMITS, PROVISION_START_LIMITS, EDGE_LIMITS);
    let n = |v: u32| v.to_string();
    [
        ("database", DEFAULT_DATABASE.to_owned()),
        ("database_ca_file", "the system's roots".to_owned()),
        ("synchronous", DEFAULT_SYNCHRONOUS.as_str().to_owned()),
        ("log", DEFAULT_LOG.to_owned()),
        ("provision_max_tries", n(policy.provision_max_tries)),
        ("verify_max_failures", n(policy.verify_max_failures)),
        ("reissue_wait_secs", policy.reissue_wait_secs.to_string()),
        ("expiry_days", (policy.default_expiry_secs / (24 * 3600)).to_string()),
        ("attempt_ttl_secs", policy.attempt_ttl_secs.to_string()),
        ("move_expiry_secs", policy.move_expiry_secs.to_string()),
        ("bind", DEFAULT_BIND.to_owned()),
        ("admin_bind", DEFAULT_ADMIN_BIND.to_owned()),
        (
            "trusted_proxies",
            format!(
                "none; with --behind-tls-proxy, loopback: {}",
                DEFAULT_PROXIES_BEHIND_TLS.join(",")
            ),
        ),
        ("demo", DEFAULT_DEMO_PASSWORD.to_owned()),
        ("rate_per_address_burst", n(fail.per_address_burst)),
        ("rate_per_address_per_minute", n(fail.per_address_per_minute)),
        ("rate_total_burst", n(fail.total_burst)),
        ("rate_total_per_minute", n(fail.total_per_minute)),
        ("rate_starts_per_address_burst", n(start.per_address_burst)),
        ("rate_starts_per_address_per_minute", n(start.per_address_per_minute)),
        ("body_limit", DEFAULT_BODY_LIMIT.to_string()),
        ("header_read_timeout_secs", edge.header_read_timeout.as_secs().to_string()),
        ("request_timeout_secs", edge.request_timeout.as_secs().to_string()),
        ("max_connections", edge.max_connections.to_string()),
        ("max_connections_per_address", edge.max_connections_per_address.to_string()),
        ("expires_in_days", "the configured expiry".to_owned()),
    ]
    .into_iter()
    .collect()
}

#[test]
fn every_default_an_operator_reads_in_help_is_the_one_the_server_uses() {
    let expected = defaults_the_help_must_quote();
    let mut quoted = BTreeMap::new();
    let cli = Cli::command();
    for command in std::iter::once(&cli).chain(cli.get_subcommands()) {
        for arg in command.get_arguments() {
            let Some(help) = arg.get_long_help().or(arg.get_help()).map(|h| h.to_string()) else {
                continue;
            };
            let Some((_, rest)) = help.split_once("[default: ") else { continue };
            let value = rest.split_once(']').map_or(rest, |(v, _)| v);
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            quoted.insert(arg.get_id().as_str().to_owned(), value);
        }
    }
    let expected: BTreeMap<String, String> =
        expected.into_iter().map(|(id, v)| (id.to_owned(), v)).collect();
    assert_eq!(quoted, expected);
}

/// The configuration table of `docs/server.md`, as (file key, default) per row.
fn documented_defaults() -> BTreeMap<String, String> {
    let doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/server.md"));
    let start = doc.find("| file key | environment | flag | default |").unwrap();
    doc[start..]
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .filter_map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
            let key = cells.first()?.replace('`', "");
            let key = key.trim_start_matches("[limits] ").split(" (").next()?.to_owned();
            Some((key, cells.last()?.replace('`', "")))
        })
        .collect()
}

#[test]
fn the_defaults_the_manual_lists_are_the_ones_the_server_uses() {
    let documented = documented_defaults();
    let mut expected = defaults_the_help_must_quote();
    // In the file the demo's password has a key of its own; `demo` is the switch.
    let password = expected.remove("demo").unwrap();
    expected.insert("demo_activation_password", password);
    // Said in other words in the manual, or not a file key.
    for worded in ["trusted_proxies", "expires_in_days"] {
        expected.remove(worded);
    }
    expected.insert("max_open_attempts", Policy::default().max_open_attempts.to_string());
    for (key, want) in expected {
        let cell = documented.get(key).unwrap_or_else(|| panic!("{key}: not in the manual"));
        assert!(
            cell == &want || cell.starts_with(&format!("{want} ")),
            "{key}: the manual says {cell:?}, the server uses {want:?}"
        );
    }
}

#[test]
fn the_confirm_token_comes_from_its_file_and_must_differ_from_the_admin_and_verify_tokens() {
    let dir = tempfile::tempdir().unwrap();
    key_file(&dir.path().join("k"), "22");
    let token = |name: &str, text: &str| {
        let path = dir.path().join(name);
        let mut f = crate::files::create_private_file(&path, false).unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        path
    };
    let admin = token("admin.token", "an-admin-token-0123456789");
    let confirm = token("confirm.token", "a-confirm-token-0123456789");
    let cfg = dir.path().join("server.toml");
    let write = |confirm: &Path| {
        std::fs::write(
            &cfg,
            format!(
                "master_key_file = \"{}\"\nadmin_token_file = \"{}\"\nconfirm_token_file = \"{}\"\n",
                dir.path().join("k").display(),
                admin.display(),
                confirm.display()
            ),
        )
        .unwrap();
    };
    write(&confirm);
    let mut c = common();
    c.config = Some(cfg.clone());
    let serve = ServeArgs::default();
    let s = resolve(&c, Some(&serve)).unwrap();
    let confirm_token = s.http.confirm_token.unwrap();
    let hash = crate::credential::TokenHash::of;
    assert!(confirm_token.matches_hash(&hash("a-confirm-token-0123456789")));
    assert!(!confirm_token.matches_hash(&hash("an-admin-token-0123456789")));
    write(&admin);
    let refused = resolve(&c, Some(&serve)).unwrap_err();
    assert!(refused.to_string().contains("confirm token must differ"), "{refused}");
}

#[test]
fn an_operators_mistake_in_the_file_is_shown_at_its_line() {
    let at_line = |text: &str| parse_file(text).unwrap_err().to_string();
    let err = at_line("log = \"info\"\n\n[limits]\nbody_limit = 4096\nrate_totl_burst = 3\n");
    assert!(err.contains("line 5") && err.contains("unknown field `rate_totl_burst`"), "{err}");
    let err = at_line("log = \"info\"\nbind = 8080\n");
    assert!(err.contains("line 2") && err.contains("expected socket address"), "{err}");
    let err = at_line("[limits]\nexpiry_days = \"a week\"\n");
    assert!(err.contains("line 2") && err.contains("expected u32"), "{err}");
    // Each concern reads only its own keys: a key of one is no mistake for another.
    let file =
        parse_file("bind = \"127.0.0.1:1\"\nissuer = \"Bank\"\n[limits]\nmax_connections = 5\n")
            .unwrap();
    assert_eq!(file.names.issuer.as_deref(), Some("Bank"));
    assert_eq!(file.limits.edge.max_connections, Some(5));
}
