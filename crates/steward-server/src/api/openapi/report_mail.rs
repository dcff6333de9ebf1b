//! The shapes of scheduled reports and inbound email routes, and the
//! report's series (the KPI page's trends).

use super::schemas::*;
use serde_json::{Value, json};

fn cadence() -> Value {
    one_of(&["weekly", "monthly"])
}

fn schedule_fields() -> Value {
    object(
        json!({
            "site": nullable(string()), "cadence": cadence(), "channel": uuid(),
            "recipients": array(string()), "next_run_at": integer(),
        }),
        &["site", "cadence", "channel", "recipients", "next_run_at"],
    )
}

fn report_schedule() -> Value {
    with_fields(
        object(
            json!({
                "id": uuid(), "org_id": uuid(), "site": nullable(string()), "cadence": cadence(),
                "channel_id": uuid(), "recipients": array(string()), "created_by": string(),
                "next_run_at": integer(), "last_sent_at": nullable(integer()),
                "last_period": nullable(string()), "last_error": nullable(string()),
                "created_at": integer(), "updated_at": integer(), "version": integer(),
            }),
            &[
                "id",
                "org_id",
                "site",
                "cadence",
                "channel_id",
                "recipients",
                "created_by",
                "next_run_at",
                "last_sent_at",
                "last_period",
                "last_error",
                "created_at",
                "updated_at",
                "version",
            ],
        ),
        schedule_fields(),
    )
}

fn priority() -> Value {
    one_of(&["p1", "p2", "p3", "p4"])
}

fn route_fields() -> Value {
    object(
        json!({ "name": string(), "senders": array(string()), "priority": priority() }),
        &["name", "senders", "priority"],
    )
}

fn email_route() -> Value {
    with_fields(
        extend(
            route_fields(),
            json!({
                "id": uuid(), "org_id": uuid(), "created_by": string(), "created_at": integer(),
                "updated_at": integer(), "version": integer(), "url": string(),
            }),
            &[
                "id",
                "org_id",
                "created_by",
                "created_at",
                "updated_at",
                "version",
                "url",
            ],
        ),
        route_fields(),
    )
}

/// The kinds of object this module adds to `components/schemas`.
pub fn components() -> Vec<(&'static str, Value)> {
    vec![
        ("ReportSchedule", report_schedule()),
        ("EmailRoute", email_route()),
    ]
}

/// The report answer's additions: the site and each KPI's series over
/// the period's sub-intervals.
pub fn report_series() -> Value {
    json!({
        "site": nullable(string()),
        "buckets": array(object(json!({ "since": integer(), "until": integer() }), &["since", "until"])),
        "series": { "type": "object", "description": "Each KPI's value per bucket (null: no data), by its key.", "additionalProperties": array(nullable(number())) },
    })
}

/// The 200 answers of these routes.
pub fn response(method: &str, path: &str) -> Option<Value> {
    let deleted = || object(json!({ "deleted": uuid() }), &["deleted"]);
    Some(match (method, path) {
        ("GET", "/api/v1/report-schedules") => array(reference("ReportSchedule")),
        ("POST", "/api/v1/report-schedules")
        | ("GET", "/api/v1/report-schedules/{id}")
        | ("PATCH", "/api/v1/report-schedules/{id}") => reference("ReportSchedule"),
        ("DELETE", "/api/v1/report-schedules/{id}") => deleted(),
        ("POST", "/api/v1/report-schedules/{id}/send") => object(
            json!({ "sent": boolean(), "period": string(), "recipients": array(string()) }),
            &["sent", "period", "recipients"],
        ),
        ("GET", "/api/v1/email-routes") => array(reference("EmailRoute")),
        ("POST", "/api/v1/email-routes") => {
            extend(email_route(), json!({ "secret": string() }), &["secret"])
        }
        ("GET", "/api/v1/email-routes/{id}") | ("PATCH", "/api/v1/email-routes/{id}") => {
            reference("EmailRoute")
        }
        ("DELETE", "/api/v1/email-routes/{id}") => deleted(),
        ("POST", "/api/v1/inbound-email/{id}") => object(
            json!({ "incident_id": uuid(), "created": boolean(), "status": one_of(&["open", "acknowledged", "resolved", "closed"]) }),
            &["incident_id", "created", "status"],
        ),
        _ => return None,
    })
}

/// The bodies these routes take.
pub fn request(method: &str, path: &str) -> Option<Value> {
    Some(match (method, path) {
        ("POST", "/api/v1/report-schedules") => closed(
            json!({
                "org": nullable(string()), "site": nullable(string()), "cadence": cadence(),
                "channel": uuid(), "recipients": array(string()), "next_run_at": nullable(integer()),
            }),
            &["cadence", "channel", "recipients"],
        ),
        ("PATCH", "/api/v1/report-schedules/{id}") => {
            let mut fields = optional(&schedule_fields());
            fields["additionalProperties"] = json!(false);
            fields
        }
        ("POST", "/api/v1/email-routes") => closed(
            json!({
                "org": nullable(string()), "name": string(), "senders": array(string()),
                "priority": nullable(priority()),
            }),
            &["name", "senders"],
        ),
        ("PATCH", "/api/v1/email-routes/{id}") => {
            let mut fields = optional(&route_fields());
            fields["additionalProperties"] = json!(false);
            fields
        }
        _ => return None,
    })
}
