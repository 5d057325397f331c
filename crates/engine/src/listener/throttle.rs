//! Throttling addresses that keep presenting bad tokens.
//!
//! Each failed authentication counts against the caller's IP address in a fixed window; at
//! the limit the address gets 429 until the window ends, before any token lookup is done.
//! The table is bounded: when it grows large, windows that have ended are dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MAX_TRACKED: usize = 10_000;

/// Bad-token counts per address.
#[derive(Debug)]
pub struct Throttle {
    limit: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Throttle {
    /// At most `limit` failures per `window`.
    pub fn new(limit: u32, window: Duration) -> Self {
        Throttle {
            limit: limit.max(1),
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds to wait)` when `address` is over its limit.
    pub fn check(&self, address: IpAddr) -> Option<u64> {
        let seen = self.seen.lock().expect("throttle lock");
        let (count, since) = seen.get(&address)?;
        let elapsed = since.elapsed();
        if *count >= self.limit && elapsed < self.window {
            Some((self.window - elapsed).as_secs().max(1))
        } else {
            None
        }
    }

    /// Counts a failure from `address`.
    pub fn fail(&self, address: IpAddr) {
        let mut seen = self.seen.lock().expect("throttle lock");
        if seen.len() >= MAX_TRACKED {
            let window = self.window;
            seen.retain(|_, (_, since)| since.elapsed() < window);
        }
        let now = Instant::now();
        let entry = seen.entry(address).or_insert((0, now));
        if entry.1.elapsed() >= self.window {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_throttled_after_its_limit_until_the_window_ends() {
        let throttle = Throttle::new(3, Duration::from_millis(200));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..2 {
            throttle.fail(a);
        }
        assert!(throttle.check(a).is_none());
        throttle.fail(a);
        assert!(throttle.check(a).is_some());
        assert!(
            throttle.check(b).is_none(),
            "other addresses are not affected"
        );
        std::thread::sleep(Duration::from_millis(250));
        assert!(throttle.check(a).is_none());
    }
}
