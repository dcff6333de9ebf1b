use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn parallel_attempts_are_reserved_so_only_the_free_ones_are_checked() {
    let t = Throttle::default();
    let now = Instant::now();
    // 40 sign-ins arrive together: each reserves before any is checked.
    let results: Vec<_> = (0..40)
        .map(|_| t.begin(ip("192.0.2.1"), "victim", now))
        .collect();
    let admitted: Vec<Attempt<'_>> = results
        .into_iter()
        .filter_map(|r| match r {
            Ok(attempt) => Some(attempt),
            Err(wait) => {
                assert_eq!(wait, IN_FLIGHT_WAIT);
                None
            }
        })
        .collect();
    assert_eq!(admitted.len(), PAIR.free as usize);
    for attempt in admitted {
        attempt.failed(now);
    }
    // Locked for the first, short back-off: not an hour.
    assert_eq!(
        t.begin(ip("192.0.2.1"), "victim", now).err(),
        Some(FIRST_LOCK)
    );
    // Then one probe at a time; its failure doubles the back-off.
    let later = now + FIRST_LOCK;
    let probe = t.begin(ip("192.0.2.1"), "victim", later).unwrap();
    assert_eq!(
        t.begin(ip("192.0.2.1"), "victim", later).err(),
        Some(IN_FLIGHT_WAIT)
    );
    probe.failed(later);
    assert_eq!(
        t.begin(ip("192.0.2.1"), "victim", later).err(),
        Some(FIRST_LOCK * 2)
    );
}

#[test]
fn a_strangers_burst_does_not_lock_the_owner_out() {
    let t = Throttle::default();
    let mut now = Instant::now();
    t.begin(ip("198.51.100.7"), "victim", now)
        .unwrap()
        .succeeded();
    // A stranger keeps guessing, waiting out every back-off.
    for _ in 0..200 {
        if let Ok(attempt) = t.begin(ip("203.0.113.9"), "victim", now) {
            attempt.failed(now);
        }
        now += Duration::from_secs(5);
    }
    // The stranger is held back...
    assert!(t.begin(ip("203.0.113.9"), "victim", now).is_err());
    // ...the owner, from their own address or a new one, is not.
    t.begin(ip("198.51.100.7"), "victim", now)
        .unwrap()
        .succeeded();
    t.begin(ip("198.51.100.99"), "victim", now)
        .unwrap()
        .succeeded();
}

#[test]
fn the_account_ceiling_spares_addresses_the_owner_signed_in_from() {
    let t = Throttle::default();
    let now = Instant::now();
    t.begin(ip("198.51.100.7"), "victim", now)
        .unwrap()
        .succeeded();
    // A botnet: one guess from each of many addresses.
    for i in 0..ACCOUNT.free {
        let address = format!("10.0.{}.{}", i / 250, i % 250 + 1);
        t.begin(ip(&address), "victim", now).unwrap().failed(now);
    }
    let wait = t.begin(ip("10.9.9.9"), "victim", now).err().unwrap();
    assert!(wait <= ACCOUNT.max_lock, "{wait:?}");
    assert_eq!(wait, FIRST_LOCK);
    t.begin(ip("198.51.100.7"), "victim", now)
        .unwrap()
        .succeeded();
    // Even a long attack locks a new address out for minutes at most.
    assert_eq!(lock_after(ACCOUNT, 10_000), Some(ACCOUNT.max_lock));
    assert_eq!(lock_after(PAIR, u32::MAX), Some(PAIR.max_lock));
    assert_eq!(lock_after(PAIR, PAIR.free - 1), None);
}

#[test]
fn an_address_guessing_many_accounts_is_locked() {
    let t = Throttle::default();
    let now = Instant::now();
    for i in 0..ADDRESS.free {
        t.begin(ip("192.0.2.1"), &format!("nobody-{i}"), now)
            .unwrap()
            .failed(now);
    }
    assert_eq!(
        t.begin(ip("192.0.2.1"), "admin", now).err(),
        Some(FIRST_LOCK)
    );
    assert!(t.begin(ip("192.0.2.2"), "admin", now).is_ok());
}

#[test]
fn success_clears_the_pair_and_an_unchecked_attempt_counts_for_nothing() {
    let t = Throttle::default();
    let now = Instant::now();
    for _ in 0..PAIR.free - 1 {
        t.begin(ip("192.0.2.1"), "ana", now).unwrap().failed(now);
    }
    // Dropped (never checked): the reservation goes back.
    for _ in 0..10 {
        drop(t.begin(ip("192.0.2.1"), "ana", now).unwrap());
    }
    t.begin(ip("192.0.2.1"), "ana", now).unwrap().succeeded();
    for _ in 0..PAIR.free - 1 {
        t.begin(ip("192.0.2.1"), "ana", now).unwrap().failed(now);
    }
    let in_flight = t.begin(ip("192.0.2.1"), "ana", now).unwrap();
    // The address kept its failures: 4 + 4 (+ the one above, in flight).
    let inner = t.lock();
    let address = &inner.entries[&Key::Address("192.0.2.1".into())];
    assert_eq!((address.failures, address.in_flight), (8, 1));
    drop(inner);
    in_flight.succeeded();
}

#[test]
fn counters_are_forgotten_after_a_quiet_hour() {
    let t = Throttle::default();
    let now = Instant::now();
    for i in 0..50 {
        if let Ok(attempt) = t.begin(ip("192.0.2.1"), &format!("u{i}"), now) {
            attempt.failed(now);
        }
    }
    assert!(t.begin(ip("192.0.2.1"), "x", now).is_err());
    let later = now + FORGET;
    drop(t.begin(ip("192.0.2.1"), "x", later).unwrap());
    assert!(t.lock().entries.len() <= 3, "{}", t.lock().entries.len());
}

#[test]
fn ipv6_counts_per_network() {
    assert_eq!(source_of(ip("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
    assert_eq!(source_of(ip("::ffff:192.0.2.1")), "192.0.2.1");
    let t = Throttle::default();
    let now = Instant::now();
    for i in 0..PAIR.free {
        t.begin(ip(&format!("2001:db8:1:2::{i}")), "ana", now)
            .unwrap()
            .failed(now);
    }
    assert!(t.begin(ip("2001:db8:1:2::ff"), "ana", now).is_err());
    assert!(t.begin(ip("2001:db8:1:3::1"), "ana", now).is_ok());
}
