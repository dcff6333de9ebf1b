//! Bytes received and sent per interface (cumulative counters).

use super::{Host, labelled};
use steward_proto::Point;

pub fn collect(host: &mut Host, out: &mut Vec<Point>) {
    host.networks.refresh(true);
    for (name, data) in host.networks.iter() {
        let name = name.to_string_lossy();
        if name == "lo" {
            continue;
        }
        out.push(labelled(
            "system.network.io",
            &[("device", &name), ("direction", "receive")],
            data.total_received() as f64,
        ));
        out.push(labelled(
            "system.network.io",
            &[("device", &name), ("direction", "transmit")],
            data.total_transmitted() as f64,
        ));
    }
}
