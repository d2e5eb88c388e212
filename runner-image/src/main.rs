//! `hakobu-runner`: executes one Embulk-style config (standalone), or one managed run.

use clap::Parser;

#[derive(Parser)]
#[command(version, about = "Runs one Hakobu / Embulk-style transfer config")]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    anyhow::bail!("no command given; see --help")
}
