//! Memory and swap.

use super::{Host, point, ratio};
use steward_proto::Point;

pub fn collect(host: &mut Host, out: &mut Vec<Point>) {
    host.system.refresh_memory();
    let total = host.system.total_memory();
    let used = host.system.used_memory();
    if total > 0 {
        out.push(point(
            "system.memory.utilization",
            ratio(used as f64 / total as f64),
        ));
    }
    out.push(point("system.memory.usage", used as f64));
    let swap_total = host.system.total_swap();
    if swap_total > 0 {
        out.push(point(
            "system.paging.utilization",
            ratio(host.system.used_swap() as f64 / swap_total as f64),
        ));
    }
}
