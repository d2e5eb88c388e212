//! `hakobu-runner probe`: the worker the app starts for each connection test, discovery
//! call, preview, data-check preview or query variable (`hakobu_engine::probe`).
//!
//! It caps its own address space and CPU time before it reads a byte of the request, so
//! a tenant's database cannot make it take the machine down, reads one request (bounded)
//! from standard input, and writes one reply to standard output. The app starts it with
//! an empty environment: nothing of the service's secrets is here to leak.

use anyhow::{Context, Result};
use hakobu_engine::probe::{
    CPU_LIMIT_SECONDS, MAX_REQUEST_BYTES, MEMORY_LIMIT_BYTES, ProbeRequest, execute,
};
use std::io::{Read, Write};

/// Serves one probe; the exit code is 0 when a reply (success or failure) was written.
pub fn serve() -> Result<()> {
    rlimit::setrlimit(rlimit::Resource::AS, MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES)
        .context("cannot limit the worker's memory")?;
    rlimit::setrlimit(rlimit::Resource::CPU, CPU_LIMIT_SECONDS, CPU_LIMIT_SECONDS)
        .context("cannot limit the worker's CPU time")?;
    let mut input = Vec::new();
    std::io::stdin()
        .take(MAX_REQUEST_BYTES + 1)
        .read_to_end(&mut input)
        .context("cannot read the request")?;
    anyhow::ensure!(
        input.len() as u64 <= MAX_REQUEST_BYTES,
        "the request is over {MAX_REQUEST_BYTES} bytes"
    );
    let request: ProbeRequest =
        serde_json::from_slice(&input).context("the request is not readable")?;
    // One thread: a probe is one conversation with one server, and each extra thread
    // would reserve address space under the limit above.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the worker's runtime")?;
    let reply = runtime.block_on(execute(request));
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &reply).context("cannot write the reply")?;
    out.flush().context("cannot write the reply")?;
    Ok(())
}
