//! Process count and uptime.

use super::{Host, point};
use steward_proto::Point;

pub fn collect(_host: &mut Host, out: &mut Vec<Point>) {
    if let Some(count) = crate::os::process_count() {
        out.push(point("system.processes.count", count as f64));
    }
    if let Ok(uptime) = sysinfo::System::uptime() {
        out.push(point("system.uptime", uptime as f64));
    }
}
