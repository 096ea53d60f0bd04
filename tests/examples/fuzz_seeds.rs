//! Writes the seed inputs of every fuzz target into `fuzz/corpus/<target>/seed-<name>`: real
//! examples from core and the server (one real exchange, a real vault file under the targets'
//! fixed key, the documented requests) and the configuration files of `docs/server.md`.
//! `docs/FUZZING.md` says when to run it: `cargo run -p softtoken-tests --example fuzz_seeds`.
#![allow(missing_docs)]

use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut seeds = softtoken_core::fuzzing::seeds();
    seeds.extend(softtoken_server::fuzzing::seeds());
    let manual = std::fs::read_to_string(root.join("docs/server.md"))?;
    for (i, block) in manual.split("```toml\n").skip(1).enumerate() {
        let toml = block.split("```").next().unwrap_or_default();
        seeds.push(("server_config", format!("server-md-{i}"), toml.as_bytes().to_vec()));
    }
    for (target, name, bytes) in seeds {
        let dir = root.join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("seed-{name}")), bytes)?;
    }
    Ok(())
}
