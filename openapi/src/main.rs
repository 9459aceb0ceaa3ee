//! Writes the committed OpenAPI spec, `openapi/openapi.json`, from the code.
//!
//! `cargo run -p outpost-openapi` rewrites it; `-- --check` fails when the
//! committed file differs from what the code produces (the test suite runs
//! the same comparison).

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    let spec = outpost_api::http::spec_json();
    if std::env::args().any(|a| a == "--check") {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != spec {
            anyhow::bail!("{} is out of date: run `cargo run -p outpost-openapi`", path.display());
        }
        println!("{} is up to date", path.display());
    } else {
        std::fs::write(&path, spec)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
