use super::*;

const MIB: u64 = 1024 * 1024;

fn limits() -> Limits {
    Limits {
        cpu_percent: 5.0,
        memory_bytes: 32 * MIB,
        window: Duration::from_secs(60),
    }
}

fn at(secs: u64, cpu_ms: u64, rss_mib: u64) -> Sample {
    Sample {
        at: Duration::from_secs(secs),
        cpu: Duration::from_millis(cpu_ms),
        rss_bytes: rss_mib * MIB,
    }
}

#[test]
fn an_idle_agent_is_never_throttled_and_reports_nothing() {
    let mut g = Governor::new(limits());
    // 2 ms of CPU every 5 s: 0.04 %.
    for i in 0..100 {
        assert!(!g.observe(at(i * 5, i * 2, 4)));
    }
    assert!(!g.throttled() && !g.ever_throttled());
    assert_eq!(g.allow(Pass::Patching), Decision::Run);
    let (code, output) = g.report();
    assert_eq!(code, 0);
    assert!(
        output.starts_with("BUDGET OK - CPU 0.0 % of 5 %"),
        "{output}"
    );
}

#[test]
fn memory_over_the_limit_throttles_at_once_and_heavy_passes_wait() {
    let mut g = Governor::new(limits());
    assert!(!g.observe(at(0, 0, 4)));
    assert!(g.observe(at(5, 1, 40)), "throttling began");
    assert!(g.throttled());
    assert_eq!(g.allow(Pass::Patching), Decision::Defer { first: true });
    assert_eq!(g.allow(Pass::Patching), Decision::Defer { first: false });
    assert_eq!(g.allow(Pass::Posture), Decision::Defer { first: true });
    let (code, output) = g.report();
    assert_eq!(code, 1);
    assert!(
        output.starts_with(
            "BUDGET WARNING - throttled: memory 40.0 MiB over the 32.0 MiB budget; \
             deferred 2 patching detections, 1 posture view |"
        ),
        "{output}"
    );
    assert!(output.contains("rss=41943040B;33554432;;0;"), "{output}");
}

#[test]
fn a_throttle_lasts_a_window_then_ends_when_back_within_budget() {
    let mut g = Governor::new(limits());
    g.observe(at(0, 0, 40));
    assert!(g.throttled());
    // Back under the limit at once, but a throttle lasts a window.
    assert!(!g.observe(at(30, 1, 8)));
    assert!(g.throttled());
    assert!(g.observe(at(60, 2, 8)), "throttling ended");
    assert!(!g.throttled());
    assert_eq!(g.allow(Pass::Inventory), Decision::Run);
    let (code, output) = g.report();
    assert_eq!(code, 0);
    assert!(
        output.contains(
            "throttled 1 time since start, last for memory 40.0 MiB over the 32.0 MiB budget"
        ),
        "{output}"
    );
    // Over again: a second throttle, counted.
    assert!(g.observe(at(65, 2, 50)));
    assert!(g.report().1.contains("memory 50.0 MiB over"));
    assert!(g.observe(at(130, 3, 8)));
    assert!(g.report().1.contains("throttled 2 times since start"));
}

#[test]
fn cpu_is_averaged_over_the_window_so_a_short_burst_is_no_throttle() {
    let mut g = Governor::new(limits());
    // A 1 s burst (a posture view, say) among idle samples: 1 s in 60 s is
    // 1.7 %, under 5 %.
    let mut cpu = 0;
    for i in 0..=24 {
        if i == 12 {
            cpu += 1000;
        }
        assert!(!g.observe(at(i * 5, cpu, 4)), "sample {i}");
    }
    assert!(!g.throttled());
    // A sustained 10 % (500 ms every 5 s) throttles once the window says so.
    let mut began = None;
    for i in 25..60 {
        cpu += 500;
        if g.observe(at(i * 5, cpu, 4)) {
            began = Some(i);
            break;
        }
    }
    let began = began.expect("a sustained load throttles");
    assert!(g.throttled());
    let (_, output) = g.report();
    assert!(
        output.contains("throttled: CPU")
            && output.contains("over the 5 % budget (averaged over 60 s)"),
        "{output}"
    );
    // Not on the first busy sample: the window has to fill.
    assert!(began > 26, "throttled after {} busy samples", began - 24);
}

#[test]
fn cpu_is_not_judged_before_a_quarter_window() {
    let mut g = Governor::new(limits());
    g.observe(at(0, 0, 4));
    // 100 % for 5 s: too short to say.
    assert!(!g.observe(at(5, 5000, 4)));
    assert!(g.report().1.contains("CPU not yet measured") || !g.throttled());
    // 100 % over 15 s (a quarter window): throttled.
    assert!(g.observe(at(15, 15_000, 4)));
}

#[test]
fn zero_limits_switch_each_part_off() {
    let off = Limits {
        cpu_percent: 0.0,
        memory_bytes: 0,
        window: Duration::from_secs(60),
    };
    assert!(!off.enabled());
    let mut g = Governor::new(off);
    for i in 0..30 {
        assert!(!g.observe(at(i * 5, i * 5000, 1024)));
    }
    assert!(!g.throttled());
    assert!(g.report().1.contains("memory 1024.0 MiB of no limit"));
    assert_eq!(limits().sample_every(), Duration::from_secs(5));
    assert_eq!(
        Limits {
            window: Duration::from_secs(3),
            ..limits()
        }
        .sample_every(),
        Duration::from_secs(1)
    );
}

#[test]
fn the_budget_check_goes_only_once_the_agent_was_throttled() {
    let budget = Budget::new(limits());
    assert!(budget.report(1).is_none());
    assert!(budget.allow(Pass::Patching));
    budget.lock().observe(at(0, 0, 100));
    assert!(!budget.allow(Pass::Patching));
    let run = budget.report(7).unwrap();
    assert_eq!(
        (run.name.as_str(), run.ts_ms, run.exit_code),
        (CHECK_NAME, 7, 1)
    );
    // The server reads it as a plugin's result: WARNING, with perfdata.
    assert!(
        run.output.contains("deferred 1 patching detection"),
        "{}",
        run.output
    );
}

#[test]
fn the_process_can_see_itself() {
    let sample = sample(Duration::ZERO).expect("/proc/self readable");
    assert!(sample.rss_bytes > 1024 * 1024, "{sample:?}");
    assert!(sample.cpu > Duration::ZERO);
}
