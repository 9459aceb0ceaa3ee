//! The `outpost` command: serve, migrate, print the spec, administer.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    outpost_api::cli::run().await
}
