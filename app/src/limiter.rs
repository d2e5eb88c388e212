//! Request limits kept in memory, per replica: sign-ups, password resets and invitation
//! acceptances per client address, connection tests, previews and discovery per user
//! and per organization, and live streams held open per user ([`OpenStreams`]).
//!
//! Unlike the sign-in limit (rows in PostgreSQL, see `auth::rate_limit`), these counters
//! live in each replica's memory: they guard CPU (password hashing) and probe workers,
//! which are per replica too, and they cost no database write on every request. With N
//! replicas behind a balancer a client can reach at most N times a limit.
//!
//! Windows are fixed (they start at the first counted request of a key); a refused
//! request is not counted, so hammering does not push the window further out.

use crate::error::ApiError;
use crate::settings::AbuseLimits;
use hakobu_core::ids::UserId;
use hakobu_core::messages::MessageCode;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many keys may be tracked before expired windows are swept out. Keys come from
/// client addresses, which an attacker can vary, so the map must not grow without end.
const SWEEP_ABOVE: usize = 50_000;

/// Window of the per-address limit on account actions.
pub const ACCOUNT_WINDOW: Duration = Duration::from_secs(3600);
/// Window of the per-user and per-organization limits on probes.
pub const PROBE_WINDOW: Duration = Duration::from_secs(60);

/// Fixed-window counters by key.
#[derive(Default)]
pub struct Limiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

/// The action an address is limited on; each has its own count.
#[derive(Debug, Clone, Copy)]
pub enum AccountAction {
    SignUp,
    PasswordResetRequest,
    PasswordResetConfirm,
    InvitationAcceptance,
}

impl Limiter {
    /// Counts one request of `key`, or answers the seconds until its window ends when
    /// `max` requests were already counted in it.
    pub fn hit(&self, key: &str, max: u32, window: Duration) -> Result<(), u64> {
        self.hit_at(key, max, window, Instant::now())
    }

    fn hit_at(&self, key: &str, max: u32, window: Duration, now: Instant) -> Result<(), u64> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > SWEEP_ABOVE {
            windows.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        if entry.1 >= max {
            let left = window.saturating_sub(now.duration_since(entry.0));
            // Round up: "retry after 0 seconds" would invite an immediate retry.
            return Err(left.as_secs() + u64::from(left.subsec_nanos() > 0));
        }
        entry.1 += 1;
        Ok(())
    }

    /// Sign-ups, password resets and invitation acceptances from one client address.
    pub fn account_action(
        &self,
        limits: &AbuseLimits,
        action: AccountAction,
        ip: &str,
    ) -> Result<(), ApiError> {
        let key = format!("account:{action:?}:{ip}");
        self.hit(&key, limits.account_actions_per_address, ACCOUNT_WINDOW)
            .map_err(|retry_after_secs| ApiError::TooManyRequests {
                message: MessageCode::TooManyAccountRequests
                    .with("n", retry_after_secs.div_ceil(60))
                    .into(),
                retry_after_secs,
            })
    }

    /// Connection tests, previews and discovery: first the user's limit, then the
    /// organization's (so one busy user does not use up the whole organization's first).
    pub fn probe(
        &self,
        limits: &AbuseLimits,
        user: impl std::fmt::Display,
        organization: impl std::fmt::Display,
    ) -> Result<(), ApiError> {
        self.hit(
            &format!("probe-user:{user}"),
            limits.probes_per_user,
            PROBE_WINDOW,
        )
        .map_err(|retry_after_secs| ApiError::TooManyRequests {
            message: MessageCode::TooManyProbesUser
                .with("limit", limits.probes_per_user)
                .with("n", retry_after_secs)
                .into(),
            retry_after_secs,
        })?;
        self.hit(
            &format!("probe-org:{organization}"),
            limits.probes_per_organization,
            PROBE_WINDOW,
        )
        .map_err(|retry_after_secs| ApiError::TooManyRequests {
            message: MessageCode::TooManyProbesOrganization
                .with("limit", limits.probes_per_organization)
                .with("n", retry_after_secs)
                .into(),
            retry_after_secs,
        })
    }
}

/// Live streams held open, per user: each is a task polling the database every second,
/// so one client opening hundreds would take a share of the pool from everyone.
#[derive(Default, Clone)]
pub struct OpenStreams(std::sync::Arc<Mutex<HashMap<UserId, u32>>>);

/// One open stream; dropping it (the stream ended or the client went away) frees its place.
pub struct StreamSlot {
    streams: OpenStreams,
    user: UserId,
}

impl OpenStreams {
    /// A place for one more stream of `user`, or 429 when `max` are open.
    pub fn open(&self, user: UserId, max: u32) -> Result<StreamSlot, ApiError> {
        let mut open = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(user).or_insert(0);
        if *count >= max {
            return Err(ApiError::TooManyRequests {
                message: MessageCode::TooManyStreams.with("limit", max).into(),
                retry_after_secs: 5,
            });
        }
        *count += 1;
        Ok(StreamSlot {
            streams: self.clone(),
            user,
        })
    }

    /// Streams `user` holds open now.
    pub fn count(&self, user: UserId) -> u32 {
        let open = self.0.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&user).copied().unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.streams.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_max_then_refuses_until_it_ends() {
        let limiter = Limiter::default();
        let window = Duration::from_secs(60);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.hit_at("k", 3, window, start), Ok(()));
        }
        assert_eq!(
            limiter.hit_at("k", 3, window, start + Duration::from_secs(20)),
            Err(40)
        );
        assert_eq!(limiter.hit_at("other", 3, window, start), Ok(()));
        assert_eq!(
            limiter.hit_at("k", 3, window, start + Duration::from_secs(60)),
            Ok(())
        );
    }
}
