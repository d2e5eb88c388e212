//! `hakobu`: the control-plane binary. All logic lives in the library.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    hakobu::cli::run(hakobu::cli::Cli::parse()).await
}
