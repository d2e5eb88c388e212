//! A warehouse's HTTP answer read within a byte budget: the tenant's server (or whatever
//! its endpoint points at) decides how long an answer is, so discovery, previews and
//! checks read at most `max_bytes` of it and refuse the rest unread, naming the limit.

use anyhow::{Result, bail};

/// The body of `response`, at most `max_bytes` of it; a longer answer is an error that
/// says `what` was larger than the limit (what was read so far is dropped).
pub async fn read_bounded(
    mut response: reqwest::Response,
    max_bytes: usize,
    what: &str,
) -> Result<Vec<u8>> {
    if response
        .content_length()
        .is_some_and(|n| n > max_bytes as u64)
    {
        bail!("{}", too_long(what, max_bytes));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max_bytes {
            bail!("{}", too_long(what, max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn too_long(what: &str, max_bytes: usize) -> String {
    format!(
        "{what} is larger than {}, the most Hakobu reads of it (ask for fewer rows or narrower values)",
        crate::limits::human_bytes(max_bytes)
    )
}
