//! How long a visitor's data lives: sliding expiration on Workers KV.
//!
//! KV expires each key on its own, and cannot extend a key's life without
//! rewriting it. So activity (recording an action, or refreshing the token)
//! slides the expiration forward by rewriting the visitor's keys, and the
//! rules here keep that rewriting rare. With `D` = `DATA_TTL_SECONDS` and a
//! margin `M` = `D / 4`:
//! - every key is written to live `D + 2M` (1.5 `D`);
//! - a key is *stale* once less than `D + M` of its life is left, that is
//!   `M` after it was last written, and only stale keys are rewritten;
//! - a visitor's keys are scanned for stale ones at most once per `M`.
//!
//! So after a visitor's last activity, everything of theirs lives at least
//! `D` more (the scan at that activity, or one less than `M` before it, left
//! every key with more than `D + M`, less the time since) and is gone
//! within 1.5 `D`. No key is rewritten more than once per `M` (7.5 days by
//! default; 15 seconds at KV's 60-second minimum for `D`), far below KV's
//! one write per second per key. The price is writes: an active visitor
//! costs each of their actions one rewrite per `M` of activity.
//!
//! Known shortcoming: one scan rewrites at most
//! [`crate::store::SLIDE_BUDGET`] keys (KV allows 1000 operations per
//! invocation). A visitor with more stale keys than that is caught up over
//! several activities; one who holds many thousands of actions and is
//! active only rarely can lose their oldest actions before they are slid.

/// The expiration rules for one `DATA_TTL_SECONDS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    data_ttl: i64,
}

impl Retention {
    /// Rules for `data_ttl_seconds` (checked by the configuration to be at
    /// least KV's 60 seconds and at most ten years).
    #[must_use]
    pub fn new(data_ttl_seconds: u64) -> Self {
        Self { data_ttl: i64::try_from(data_ttl_seconds).unwrap_or(i64::MAX / 4) }
    }

    /// `M`: how often a key may be rewritten, and a visitor scanned.
    #[must_use]
    pub fn margin(self) -> i64 {
        self.data_ttl / 4
    }

    /// The `expirationTtl` every key of a visitor's data is written with.
    #[must_use]
    pub fn write_ttl(self) -> u64 {
        u64::try_from(self.data_ttl.saturating_add(2 * self.margin())).unwrap_or(u64::MAX)
    }

    /// Whether a key expiring at `expiration` should be rewritten at `now`
    /// (both Unix seconds). A key without an expiration never is.
    #[must_use]
    pub fn is_stale(self, expiration: Option<i64>, now: i64) -> bool {
        expiration.is_some_and(|at| at < now.saturating_add(self.data_ttl + self.margin()))
    }

    /// Whether a visitor last scanned at `slid_at` should be scanned at
    /// `now`. A clock that went backwards does not trigger a scan.
    #[must_use]
    pub fn scan_due(self, slid_at: i64, now: i64) -> bool {
        now.saturating_sub(slid_at) >= self.margin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 3600;

    #[test]
    fn the_default_thirty_days_slide_weekly_and_keys_live_forty_five_days() {
        let r = Retention::new(30 * 24 * 3600);
        assert_eq!(r.margin(), 7 * DAY + DAY / 2);
        assert_eq!(r.write_ttl(), 45 * 24 * 3600);
    }

    #[test]
    fn at_the_kv_minimum_every_ttl_is_still_at_least_sixty_seconds() {
        let r = Retention::new(60);
        assert_eq!((r.margin(), r.write_ttl()), (15, 90));
    }

    #[test]
    fn a_key_becomes_stale_one_margin_after_it_was_written() {
        let r = Retention::new(30 * 24 * 3600);
        let written = 1_000_000;
        let expiration = Some(written + 45 * DAY);
        assert!(!r.is_stale(expiration, written));
        assert!(!r.is_stale(expiration, written + r.margin()));
        assert!(r.is_stale(expiration, written + r.margin() + 1));
        assert!(!r.is_stale(None, written + 100 * DAY));
    }

    #[test]
    fn scans_are_due_once_per_margin_and_never_on_a_clock_that_went_back() {
        let r = Retention::new(60);
        assert!(!r.scan_due(1_000, 1_014));
        assert!(r.scan_due(1_000, 1_015));
        assert!(!r.scan_due(1_000, 900));
        assert!(r.scan_due(i64::MIN, i64::MAX), "no overflow");
    }

    #[test]
    fn extreme_ttls_cannot_overflow() {
        let r = Retention::new(u64::MAX);
        assert!(r.write_ttl() > 0);
        assert!(!r.is_stale(Some(i64::MAX), i64::MAX));
    }
}
