//! CPU utilisation (since the previous cycle) and load averages.

use super::{Host, point, ratio};
use steward_proto::Point;

pub fn collect(host: &mut Host, out: &mut Vec<Point>) {
    #[cfg(not(windows))]
    let usage = {
        host.system.refresh_cpu_usage();
        f64::from(host.system.global_cpu_usage()) / 100.0
    };
    #[cfg(windows)]
    let usage = host.cpu_times.usage();
    out.push(point("system.cpu.utilization", ratio(usage)));
    let Ok(load) = sysinfo::System::load_average() else {
        return;
    };
    for (name, value) in [("1m", load.one), ("5m", load.five), ("15m", load.fifteen)] {
        out.push(point(
            &format!("system.cpu.load_average.{name}"),
            (value * 100.0).round() / 100.0,
        ));
    }
}
