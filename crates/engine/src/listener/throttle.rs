//! Throttling bad tokens: a throttle that stops attackers, not users.
//!
//! Failed authentications (no token, an unknown token, a bad signature) count in fixed
//! windows against two keys: the caller's address, and the presented token's prefix (its
//! first [`PREFIX_CHARS`] characters, as much as a token's hint shows). At the limit, further
//! *failed* calls on that key get 429 before the body is read; a call whose token is valid is
//! never refused, however many bad ones came from its address — a shared NAT, a CI runner
//! or a reverse proxy carries innocent callers along with the guesser. The address limit
//! stops one source guessing many tokens; the prefix limit stops many sources guessing
//! around one known hint. (A guess is a SHA-256 and a constant-time compare either way; with
//! 256-bit tokens, the throttle bounds the work and the noise, not the odds.)
//!
//! The address is the peer's, unless the peer is a trusted proxy ([`TrustedProxy`],
//! `tripline serve --trusted-proxy`): then `X-Forwarded-For` is read right to left, skipping
//! trusted hops, and the first untrusted hop is the caller ([`client_address`]). A hop that
//! does not parse stops the walk at the trusted hop that reported it. IPv6 callers count by
//! their /64, the least a host is given.
//!
//! The tables are bounded: when one grows large, windows that have ended are dropped, then
//! keys below the limit; a panic elsewhere never poisons them for later calls.

use std::borrow::Borrow;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use foldhash::HashMap;

use axum::http::HeaderMap;

const MAX_TRACKED: usize = 10_000;
/// How much of a presented token keys the prefix limit (`tl_` and four characters).
pub const PREFIX_CHARS: usize = 7;

/// An address or network whose `X-Forwarded-For` is believed: `10.0.0.1`, `10.0.0.0/8`,
/// `::1`, `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy {
    network: IpAddr,
    prefix: u8,
}

/// Why a trusted proxy could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// Not an address.
    #[error("{given:?} is not an IP address or network: write one as 10.0.0.1 or 10.0.0.0/8")]
    Address {
        /// What was given.
        given: String,
    },
    /// The prefix length is not a number in range.
    #[error("{given:?} has a bad prefix length: at most /{max} for this address family")]
    Prefix {
        /// What was given.
        given: String,
        /// The family's longest prefix.
        max: u8,
    },
}

impl FromStr for TrustedProxy {
    type Err = ProxyError;

    fn from_str(given: &str) -> Result<Self, Self::Err> {
        let given = given.trim();
        let (address, prefix) = match given.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (given, None),
        };
        let network = IpAddr::from_str(address)
            .map_err(|_| ProxyError::Address {
                given: given.to_owned(),
            })?
            .to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(text) => text
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| ProxyError::Prefix {
                    given: given.to_owned(),
                    max,
                })?,
        };
        Ok(TrustedProxy {
            network: mask(network, prefix),
            prefix,
        })
    }
}

impl std::fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl TrustedProxy {
    /// Whether `address` is in this network.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        address.is_ipv4() == self.network.is_ipv4() && mask(address, self.prefix) == self.network
    }
}

/// `address` with all but its first `prefix` bits cleared.
fn mask(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from((bits & kept).to_be_bytes())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & kept))
        }
    }
}

/// The caller's address: the peer, or, when the peer is a trusted proxy, the rightmost
/// `X-Forwarded-For` hop that is not one.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[TrustedProxy]) -> IpAddr {
    let is_trusted = |address: IpAddr| trusted.iter().any(|t| t.contains(address));
    let mut client = peer.to_canonical();
    if !is_trusted(client) {
        return client;
    }
    // Hops in order, over every X-Forwarded-For line; `None` for one that does not parse.
    let mut hops: Vec<Option<IpAddr>> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        match value.to_str() {
            Ok(text) => hops.extend(text.split(',').map(parse_hop)),
            Err(_) => hops.push(None),
        }
    }
    for hop in hops.into_iter().rev() {
        let Some(hop) = hop else { break };
        client = hop;
        if !is_trusted(hop) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` hop: `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]:80`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let address = IpAddr::from_str(hop)
        .ok()
        .or_else(|| std::net::SocketAddr::from_str(hop).ok().map(|s| s.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inner| IpAddr::from_str(inner).ok())
        })?;
    Some(address.to_canonical())
}

/// Which limit a call is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Too many failures from the caller's address.
    Address,
    /// Too many failures with tokens that begin like this one.
    Prefix,
}

/// Failure counts per address and per token prefix.
#[derive(Debug)]
pub struct Throttle {
    addresses: Table<IpAddr>,
    prefixes: Table<String>,
}

impl Throttle {
    /// Poisons its lock, as a panic while it is held would (for tests of recovery).
    #[cfg(test)]
    pub(crate) fn poison(&self) {
        super::poison(&self.addresses.seen);
    }

    /// At most `limit` failures per `window` on each key.
    pub fn new(limit: u32, window: Duration) -> Self {
        Throttle {
            addresses: Table::new(limit, window),
            prefixes: Table::new(limit, window),
        }
    }

    /// `Some((seconds to wait, which limit))` when a failed call from `address` presenting
    /// `token` is over a limit. (The handlers use [`Throttle::refuse`].)
    #[cfg(test)]
    pub fn check(&self, address: IpAddr, token: Option<&str>) -> Option<(u64, Limit)> {
        let now = Instant::now();
        if let Some(wait) = self
            .addresses
            .wait(&self.addresses.lock(), &address_key(address), now)
        {
            return Some((wait, Limit::Address));
        }
        let prefix = prefix_key(token?);
        self.prefixes
            .wait(&self.prefixes.lock(), prefix, now)
            .map(|wait| (wait, Limit::Prefix))
    }

    /// Counts a failure from `address`, presenting `token` if any.
    pub fn fail(&self, address: IpAddr, token: Option<&str>) {
        let now = Instant::now();
        self.addresses
            .count(&mut self.addresses.lock(), &address_key(address), now);
        if let Some(token) = token {
            self.prefixes
                .count(&mut self.prefixes.lock(), prefix_key(token), now);
        }
    }

    /// A failed call: [`Throttle::check`] then, when it is under both limits,
    /// [`Throttle::fail`], with one look at the clock and one lock of each table.
    pub fn refuse(&self, address: IpAddr, token: Option<&str>) -> Option<(u64, Limit)> {
        let now = Instant::now();
        let address = address_key(address);
        let mut addresses = self.addresses.lock();
        if let Some(wait) = self.addresses.wait(&addresses, &address, now) {
            return Some((wait, Limit::Address));
        }
        if let Some(token) = token {
            let prefix = prefix_key(token);
            let mut prefixes = self.prefixes.lock();
            if let Some(wait) = self.prefixes.wait(&prefixes, prefix, now) {
                return Some((wait, Limit::Prefix));
            }
            self.prefixes.count(&mut prefixes, prefix, now);
        }
        self.addresses.count(&mut addresses, &address, now);
        None
    }
}

/// An IPv4 address as it is; an IPv6 one by its /64.
fn address_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        v4 @ IpAddr::V4(_) => v4,
        v6 @ IpAddr::V6(_) => mask(v6, 64),
    }
}

fn prefix_key(token: &str) -> &str {
    let end = token
        .char_indices()
        .nth(PREFIX_CHARS)
        .map_or(token.len(), |(at, _)| at);
    &token[..end]
}

#[derive(Debug)]
struct Table<K> {
    limit: u32,
    window: Duration,
    seen: Mutex<HashMap<K, (u32, Instant)>>,
}

impl<K: Hash + Eq> Table<K> {
    fn new(limit: u32, window: Duration) -> Self {
        Table {
            limit: limit.max(1),
            window,
            seen: Mutex::new(HashMap::default()),
        }
    }

    /// The table; a panic while another call held it leaves counts that are still good.
    fn lock(&self) -> MutexGuard<'_, HashMap<K, (u32, Instant)>> {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long `key` must wait, if it is over the limit.
    fn wait<Q>(&self, seen: &HashMap<K, (u32, Instant)>, key: &Q, now: Instant) -> Option<u64>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (count, since) = seen.get(key)?;
        let elapsed = now.saturating_duration_since(*since);
        if *count >= self.limit && elapsed < self.window {
            Some((self.window - elapsed).as_secs().max(1))
        } else {
            None
        }
    }

    /// Counts a failure for `key` (a key is allocated only the first time it is seen).
    fn count<Q>(&self, seen: &mut HashMap<K, (u32, Instant)>, key: &Q, now: Instant)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let (window, limit) = (self.window, self.limit);
        if let Some(entry) = seen.get_mut(key) {
            if now.saturating_duration_since(entry.1) >= window {
                *entry = (0, now);
            }
            entry.0 = entry.0.saturating_add(1);
            return;
        }
        if seen.len() >= MAX_TRACKED {
            seen.retain(|_, (_, since)| now.saturating_duration_since(*since) < window);
            if seen.len() >= MAX_TRACKED {
                // Keys being throttled stay; those below the limit start over.
                seen.retain(|_, (count, _)| *count >= limit);
            }
            if seen.len() >= MAX_TRACKED {
                return;
            }
        }
        seen.insert(key.to_owned(), (1, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_is_throttled_after_its_limit_until_the_window_ends() {
        let throttle = Throttle::new(3, Duration::from_millis(200));
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        for _ in 0..2 {
            throttle.fail(a, None);
        }
        assert!(throttle.check(a, None).is_none());
        throttle.fail(a, None);
        assert_eq!(throttle.check(a, None).map(|c| c.1), Some(Limit::Address));
        assert!(
            throttle.check(b, None).is_none(),
            "other addresses are not affected"
        );
        std::thread::sleep(Duration::from_millis(250));
        assert!(throttle.check(a, None).is_none());
    }

    #[test]
    fn guesses_around_one_prefix_are_throttled_across_addresses() {
        let throttle = Throttle::new(3, Duration::from_secs(60));
        for i in 0..3 {
            throttle.fail(ip(&format!("10.0.0.{i}")), Some(&format!("tl_abcd{i}")));
        }
        let other = ip("192.0.2.1");
        assert_eq!(
            throttle.check(other, Some("tl_abcdXYZ")).map(|c| c.1),
            Some(Limit::Prefix)
        );
        assert!(throttle.check(other, Some("tl_wxyz123")).is_none());
        assert!(throttle.check(other, None).is_none());
    }

    #[test]
    fn ipv6_callers_count_by_their_64() {
        let throttle = Throttle::new(2, Duration::from_secs(60));
        throttle.fail(ip("2001:db8:1:1::1"), None);
        throttle.fail(ip("2001:db8:1:1::2"), None);
        assert!(throttle.check(ip("2001:db8:1:1::ffff"), None).is_some());
        assert!(throttle.check(ip("2001:db8:1:2::1"), None).is_none());
        // An IPv4 address in IPv6 clothing is the IPv4 address.
        throttle.fail(ip("::ffff:192.0.2.9"), None);
        throttle.fail(ip("192.0.2.9"), None);
        assert!(throttle.check(ip("192.0.2.9"), None).is_some());
    }

    #[test]
    fn a_panic_while_the_table_is_held_does_not_poison_it() {
        let throttle = std::sync::Arc::new(Throttle::new(1, Duration::from_secs(60)));
        let held = throttle.clone();
        let _ = std::thread::spawn(move || {
            let _guard = held.addresses.lock();
            panic!("a panic while the table is held");
        })
        .join();
        assert!(throttle.addresses.seen.is_poisoned());
        throttle.fail(ip("10.0.0.1"), None);
        assert!(throttle.check(ip("10.0.0.1"), None).is_some());
    }

    #[test]
    fn the_table_stays_bounded_and_keeps_throttling_who_is_over() {
        let throttle = Throttle::new(2, Duration::from_secs(60));
        let attacker = ip("198.51.100.1");
        throttle.fail(attacker, None);
        throttle.fail(attacker, None);
        for i in 0..(MAX_TRACKED as u32 + 50) {
            throttle.fail(IpAddr::from((0x0a00_0000 + i).to_be_bytes()), None);
        }
        assert!(throttle.addresses.lock().len() <= MAX_TRACKED);
        assert!(throttle.check(attacker, None).is_some());
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_networks() {
        for (given, shown) in [
            ("10.0.0.1", "10.0.0.1/32"),
            ("10.1.2.3/8", "10.0.0.0/8"),
            (" ::1 ", "::1/128"),
            ("fd00::1/8", "fd00::/8"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("::ffff:10.0.0.1", "10.0.0.1/32"),
        ] {
            let proxy: TrustedProxy = given.parse().unwrap();
            assert_eq!(proxy.to_string(), shown, "{given}");
        }
        for given in [
            "",
            "10.0.0",
            "10.0.0.1/33",
            "::1/129",
            "10.0.0.1/-1",
            "x/8",
            "10.0.0.1/",
        ] {
            let error = given.parse::<TrustedProxy>().unwrap_err();
            assert!(error.to_string().contains(given.trim()), "{given}: {error}");
        }
        let net: TrustedProxy = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.200.0.1")));
        assert!(net.contains(ip("::ffff:10.200.0.1")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(!net.contains(ip("::a00:1")), "families do not mix");
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop_behind_a_trusted_peer() {
        let trusted: Vec<TrustedProxy> = ["10.0.0.0/8", "fd00::/8"]
            .iter()
            .map(|t| t.parse().unwrap())
            .collect();
        type Case<'a> = (&'a str, &'a [&'a str], &'a str);
        let cases: &[Case] = &[
            // An untrusted peer's header is ignored, whatever it says.
            ("192.0.2.1", &["203.0.113.7"], "192.0.2.1"),
            // A trusted peer: its report is believed.
            ("10.0.0.1", &["203.0.113.7"], "203.0.113.7"),
            ("10.0.0.1", &[], "10.0.0.1"),
            // A spoofed hop to the left of the real one is not reached.
            ("10.0.0.1", &["1.1.1.1, 203.0.113.7"], "203.0.113.7"),
            (
                "10.0.0.1",
                &["1.1.1.1, 203.0.113.7, 10.0.0.2"],
                "203.0.113.7",
            ),
            // Over several header lines, in order.
            (
                "10.0.0.1",
                &["1.1.1.1", "203.0.113.7, 10.9.9.9"],
                "203.0.113.7",
            ),
            // Every hop trusted: the leftmost.
            ("10.0.0.1", &["10.0.0.3, 10.0.0.2"], "10.0.0.3"),
            // Ports and brackets.
            ("10.0.0.1", &["203.0.113.7:5555"], "203.0.113.7"),
            ("10.0.0.1", &["[2001:db8::1]:443"], "2001:db8::1"),
            ("fd00::1", &["2001:db8::1"], "2001:db8::1"),
            ("::ffff:10.0.0.1", &["203.0.113.7"], "203.0.113.7"),
            // Garbage stops the walk at the trusted hop that reported it.
            ("10.0.0.1", &["garbage"], "10.0.0.1"),
            ("10.0.0.1", &["203.0.113.7, unknown"], "10.0.0.1"),
            (
                "10.0.0.1",
                &["203.0.113.7, 10.0.0.2, 999.1.1.1"],
                "10.0.0.1",
            ),
            ("10.0.0.1", &["203.0.113.7, garbage, 10.0.0.2"], "10.0.0.2"),
            ("10.0.0.1", &[",,,"], "10.0.0.1"),
            (
                "10.0.0.1",
                &["1.1.1.1, garbage, 203.0.113.7"],
                "203.0.113.7",
            ),
        ];
        for (peer, lines, expected) in cases {
            let mut headers = HeaderMap::new();
            for line in *lines {
                headers.append("x-forwarded-for", line.parse().unwrap());
            }
            assert_eq!(
                client_address(ip(peer), &headers, &trusted),
                ip(expected),
                "{peer} {lines:?}"
            );
        }
        // Bytes that are not text are garbage too.
        let mut headers = HeaderMap::new();
        headers.append(
            "x-forwarded-for",
            axum::http::HeaderValue::from_bytes(b"\xff1.2.3.4").unwrap(),
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), &headers, &trusted),
            ip("10.0.0.1")
        );
        // No proxies configured: the peer, always.
        headers.insert("x-forwarded-for", "203.0.113.7".parse().unwrap());
        assert_eq!(
            client_address(ip("10.0.0.1"), &headers, &[]),
            ip("10.0.0.1")
        );
    }
}
