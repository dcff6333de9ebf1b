use super::*;

#[test]
fn lines_of_one_message_share_a_template() {
    let mut m = Miner::new(100);
    let a = m.add("Failed password for alice from 10.0.0.1 port 22 ssh2", 1);
    let b = m.add("Failed password for bob from 10.0.0.7 port 2222 ssh2", 2);
    let c = m.add("Accepted publickey for alice from 10.0.0.1 port 22 ssh2", 3);
    let d = m.add("Connection closed by 10.0.0.9", 4);
    assert_eq!(a, Mined::Template { id: 0, new: true });
    assert_eq!(b, Mined::Template { id: 0, new: false });
    assert_eq!(c, Mined::Template { id: 1, new: true });
    assert_eq!(d, Mined::Template { id: 2, new: true });
    let t = m.template(0).unwrap();
    assert_eq!(t.text(), "Failed password for <*> from <*> port <*> ssh2");
    assert_eq!((t.count, t.first_ms, t.last_ms), (2, 1, 2));
    assert_eq!(t.examples.len(), 2);
    assert_eq!(m.add("   ", 5), Mined::Empty);
    assert_eq!(m.dropped(), 0);
}

/// A template explosion: a million distinct lines (no shared words)
/// fill the miner to its capacity; the rest are counted as dropped, and
/// memory stays bounded by the capacity.
/// A flood of one shape (the same first word, random others: a hostile
/// agent's lines) takes at most `MAX_PER_SHAPE` templates, so each line
/// costs a bounded number of comparisons and other shapes still get
/// theirs.
#[test]
fn one_shape_cannot_take_the_whole_miner() {
    let mut m = Miner::new(5_000);
    let mut state = 7u64;
    let mut random_word = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..6)
            .map(|i| (b'a' + ((state >> (i * 5 + 20)) % 26) as u8) as char)
            .collect::<String>()
    };
    for i in 0..20_000 {
        let words: Vec<String> = (0..63).map(|_| random_word()).collect();
        m.add(&format!("A {}", words.join(" ")), i);
    }
    assert!(
        m.templates().len() <= MAX_PER_SHAPE,
        "{}",
        m.templates().len()
    );
    assert_eq!(m.dropped() as usize, 20_000 - m.templates().len());
    assert!(matches!(
        m.add("kernel: EXT4-fs error on sda1", 1),
        Mined::Template { new: true, .. }
    ));
}

#[test]
fn a_million_distinct_lines_keep_the_miner_bounded() {
    let word = |mut n: u64| {
        let mut w = String::new();
        loop {
            w.push((b'a' + (n % 26) as u8) as char);
            n /= 26;
            if n == 0 {
                return w;
            }
        }
    };
    let mut m = Miner::new(1_000);
    let mut dropped = 0;
    for i in 0..1_000_000u64 {
        let line = format!("{} {} {}", word(i), word(i * 7 + 3), word(i * 13 + 5));
        if m.add(&line, i as i64) == Mined::Dropped {
            dropped += 1;
        }
    }
    assert_eq!(m.templates().len(), 1_000);
    assert_eq!(m.dropped(), dropped);
    assert_eq!(dropped, 999_000);
    let bytes: usize = m
        .templates()
        .iter()
        .map(|t| {
            t.tokens.iter().map(String::len).sum::<usize>()
                + t.examples.iter().map(String::len).sum::<usize>()
        })
        .sum();
    assert!(
        bytes < 1_000 * (MAX_TOKENS * MAX_TOKEN + EXAMPLES * 200),
        "{bytes}"
    );
    // Long and odd lines are cut, not kept whole.
    let long = "x".repeat(100_000) + " é".repeat(5_000).as_str();
    let mut m = Miner::new(10);
    m.add(&long, 0);
    let t = &m.templates()[0];
    assert!(t.tokens.len() <= MAX_TOKENS && t.examples[0].len() <= 200);
}

#[test]
fn a_new_template_spreading_across_devices_raises_one_burst() {
    const HOUR: i64 = 3_600_000;
    let mut spread = Spread::new(HOUR, 10, 1_000);
    // The first hour is the baseline: known templates on every device.
    for d in 0..20 {
        let device = format!("d{d}");
        assert_eq!(
            spread.observe(
                &device,
                "session opened for <*>",
                "session opened for root",
                d
            ),
            None
        );
    }
    // Hours later a new error appears on 12 devices within ten minutes.
    let start = 5 * HOUR;
    let mut bursts = Vec::new();
    for d in 0..12 {
        for k in 0..3 {
            bursts.extend(spread.observe(
                &format!("d{d}"),
                "kernel: EXT4-fs error (device <*>)",
                &format!("kernel: EXT4-fs error (device sda{d})"),
                start + d * 50_000 + k,
            ));
        }
    }
    assert_eq!(bursts.len(), 1, "{bursts:#?}");
    let burst = &bursts[0];
    assert_eq!(burst.template, "kernel: EXT4-fs error (device <*>)");
    assert_eq!(burst.devices.len(), 10);
    assert_eq!(burst.examples.len(), EXAMPLES);
    assert!(
        burst.examples[0].contains("EXT4-fs error (device sda0)"),
        "{burst:?}"
    );
    // The baseline template on every device never bursts, nor does the
    // new one once its window is over.
    for d in 0..20 {
        let device = format!("d{d}");
        assert_eq!(
            spread.observe(&device, "session opened for <*>", "x", start + d),
            None
        );
    }
    // A template that spreads slowly (one device an hour) is not a burst.
    let slow: Vec<Burst> = (0..12)
        .filter_map(|d| {
            spread.observe(&format!("d{d}"), "slow <*>", "slow 1", 10 * HOUR + d * HOUR)
        })
        .collect();
    assert!(slow.is_empty(), "{slow:?}");
}

#[test]
fn the_spread_forgets_the_stalest_template_and_counts_it() {
    let mut spread = Spread::new(1_000, 2, 3);
    for (i, t) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        spread.observe("d1", t, t, i as i64);
    }
    assert_eq!(spread.forgotten(), 2);
}
