//! Abuse limits: sliding-window counters per key (client IP, account),
//! in memory. Failed sign-ins and anything that sends an email or SMS on
//! request go through here and answer 429 with Retry-After when over.
//!
//! Sign-in counts failures only: each attempt takes a hit up front (so a
//! burst of parallel guesses cannot slip past the count), and a success
//! gives its hit back and clears the account's failures.

use crate::clock::Clock;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Windows are read on the injected clock, so tests can let a lockout pass
/// without sleeping.
pub struct RateLimiter {
    hits: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
    clock: Arc<dyn Clock>,
}

/// How long ago `then` was (zero if the clock was set back since).
fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> Duration {
    (now - then).to_std().unwrap_or(Duration::ZERO)
}

/// A rule: at most `max` hits per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: usize,
    pub window: Duration,
}

/// Failed sign-ins to one account, and from one address.
pub const SIGN_IN_PER_ACCOUNT: Limit = Limit { max: 5, window: Duration::from_secs(15 * 60) };
pub const SIGN_IN_PER_IP: Limit = Limit { max: 20, window: Duration::from_secs(15 * 60) };
pub const RESET_PER_ACCOUNT: Limit = Limit { max: 3, window: Duration::from_secs(60 * 60) };
pub const RESET_PER_IP: Limit = Limit { max: 10, window: Duration::from_secs(60 * 60) };
/// Invitations share the per-mailbox reset limit (the same kind of link to
/// the same inbox); an office onboarding a crew needs more per address.
pub const INVITE_PER_IP: Limit = Limit { max: 50, window: Duration::from_secs(60 * 60) };
/// Messages the office writes to one customer, and from one address.
pub const MESSAGE_PER_CUSTOMER: Limit = Limit { max: 10, window: Duration::from_secs(60 * 60) };
pub const MESSAGE_PER_IP: Limit = Limit { max: 120, window: Duration::from_secs(60 * 60) };

impl RateLimiter {
    pub fn new(clock: Arc<dyn Clock>) -> RateLimiter {
        RateLimiter { hits: Mutex::default(), clock }
    }

    /// Records a hit on every key if all are under their limits; otherwise
    /// records nothing and says how many seconds until one frees up.
    pub fn hit(&self, keys: &[(&str, Limit)]) -> Result<(), u64> {
        let now = self.clock.now();
        let mut hits = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = 0u64;
        for (key, limit) in keys {
            let q = hits.entry(key.to_string()).or_default();
            while q.front().is_some_and(|t| age(now, *t) >= limit.window) {
                q.pop_front();
            }
            if q.len() >= limit.max {
                let oldest = *q.front().unwrap_or(&now);
                let free_in = limit.window.saturating_sub(age(now, oldest)).as_secs().max(1);
                wait = wait.max(free_in);
            }
        }
        if wait > 0 {
            return Err(wait);
        }
        for (key, _) in keys {
            hits.entry(key.to_string()).or_default().push_back(now);
        }
        // Keep memory bounded: forget keys with no recent hits.
        if hits.len() > 100_000 {
            hits.retain(|_, q| q.back().is_some_and(|t| age(now, *t) < Duration::from_secs(3600)));
        }
        Ok(())
    }

    /// Takes back the newest hit on each key: the attempt it stood for
    /// turned out not to count (a successful sign-in).
    pub fn take_back(&self, keys: &[&str]) {
        let mut hits = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            if let Some(q) = hits.get_mut(*key) {
                q.pop_back();
                if q.is_empty() {
                    hits.remove(*key);
                }
            }
        }
    }

    /// An invitation to `email` sent from `ip` (the API and the staff page
    /// alike): the per-inbox reset limit, and the per-address invite limit.
    pub fn hit_invitation(&self, email: &str, ip: &str) -> Result<(), u64> {
        self.hit(&[
            (&format!("reset:acct:{}", email.to_lowercase()), RESET_PER_ACCOUNT),
            (&format!("invite:ip:{ip}"), INVITE_PER_IP),
        ])
    }

    /// Forgets every hit on `key` (an account's failed sign-ins, once the
    /// right password was given).
    pub fn clear(&self, key: &str) {
        self.hits.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

/// The client's address: the TCP peer, or, when the peer is the trusted
/// proxy (`KEPT_TRUSTED_PROXY`), the last address it put in X-Forwarded-For.
/// A client cannot pick its own address by sending that header directly.
pub fn client_ip(peer: Option<SocketAddr>, headers: &HeaderMap, trusted_proxy: Option<IpAddr>) -> String {
    let peer_ip = peer.map(|p| p.ip());
    if let (Some(p), Some(t)) = (peer_ip, trusted_proxy) {
        if p == t {
            if let Some(forwarded) = headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .map(str::trim)
                .and_then(|s| s.parse::<IpAddr>().ok())
            {
                return forwarded.to_string();
            }
        }
    }
    peer_ip.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn limiter() -> (RateLimiter, ManualClock) {
        let clock = ManualClock::new(DateTime::parse_from_rfc3339("2026-11-20T15:00:00Z").unwrap().with_timezone(&Utc));
        (RateLimiter::new(Arc::new(clock.clone())), clock)
    }

    #[test]
    fn the_sixth_attempt_in_the_window_is_refused_with_a_wait() {
        let (l, _) = limiter();
        let rule = Limit { max: 5, window: Duration::from_secs(900) };
        for _ in 0..5 {
            assert!(l.hit(&[("acct:a", rule)]).is_ok());
        }
        let wait = l.hit(&[("acct:a", rule)]).unwrap_err();
        assert!(wait > 800 && wait <= 900, "{wait}");
        assert!(l.hit(&[("acct:b", rule)]).is_ok(), "other accounts are not affected");
    }

    #[test]
    fn hits_taken_back_do_not_count_and_a_cleared_key_starts_over() {
        let (l, _) = limiter();
        let rule = Limit { max: 5, window: Duration::from_secs(900) };
        for _ in 0..20 {
            assert!(l.hit(&[("acct:a", rule), ("ip:1", rule)]).is_ok());
            l.take_back(&["acct:a", "ip:1"]);
        }
        for _ in 0..5 {
            assert!(l.hit(&[("acct:a", rule), ("ip:1", rule)]).is_ok());
        }
        assert!(l.hit(&[("acct:a", rule)]).is_err());
        l.clear("acct:a");
        assert!(l.hit(&[("acct:a", rule)]).is_ok(), "the account starts over");
        assert!(l.hit(&[("ip:1", rule)]).is_err(), "the address still counts its failures");
        l.take_back(&["never-hit"]);
    }

    #[test]
    fn the_window_is_read_on_the_injected_clock() {
        let (l, clock) = limiter();
        let rule = Limit { max: 2, window: Duration::from_secs(900) };
        assert!(l.hit(&[("acct:a", rule)]).is_ok());
        clock.advance(chrono::Duration::seconds(600));
        assert!(l.hit(&[("acct:a", rule)]).is_ok());
        assert_eq!(l.hit(&[("acct:a", rule)]), Err(300), "the first hit frees up in five minutes");
        clock.advance(chrono::Duration::seconds(299));
        assert_eq!(l.hit(&[("acct:a", rule)]), Err(1));
        clock.advance(chrono::Duration::seconds(1));
        assert!(l.hit(&[("acct:a", rule)]).is_ok(), "the first hit has left the window");
        assert!(l.hit(&[("acct:a", rule)]).is_err(), "the second and third still count");
    }

    #[test]
    fn forwarded_for_counts_only_from_the_trusted_proxy() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.9, 198.51.100.7".parse().unwrap());
        let proxy: SocketAddr = "10.0.0.5:443".parse().unwrap();
        let stranger: SocketAddr = "192.0.2.1:5555".parse().unwrap();
        assert_eq!(client_ip(Some(proxy), &h, Some("10.0.0.5".parse().unwrap())), "198.51.100.7");
        assert_eq!(client_ip(Some(stranger), &h, Some("10.0.0.5".parse().unwrap())), "192.0.2.1");
        assert_eq!(client_ip(Some(stranger), &h, None), "192.0.2.1");
    }
}
