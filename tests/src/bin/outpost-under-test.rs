//! The `outpost` command, built inside the test crate so that integration
//! tests can start it as a separate process (`CARGO_BIN_EXE_outpost-under-test`)
//! and kill it mid-request. It is the same code as the shipped binary.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    outpost_tests::outpost_api::cli::run().await
}
