//! Turning a job's facts into messages: template contexts and drafts, one
//! per channel the customer can be reached on.

use super::templates::{Part, TemplateError, Templates, Wording};
use crate::domain::job::JobStatus;
use crate::domain::messaging::{sms_segments, MessageKind, SmsEncoding};
use crate::domain::people::Channel;
use crate::domain::time::Zone;
use crate::entities::{customer, job, organization, staff, visit};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// One message ready for the outbox.
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: MessageKind,
    pub job_id: i64,
    pub visit_id: Option<i64>,
    pub customer_id: i64,
    pub channel: Channel,
    pub recipient: String,
    pub subject: Option<String>,
    pub body_text: String,
    pub body_html: Option<String>,
    pub segments: Option<(i32, SmsEncoding)>,
    pub dedupe_key: String,
    pub due_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Why this message is stored as suppressed instead of being sent.
    pub blocked: Option<String>,
}

/// Who a message is about.
pub struct Parties<'a> {
    pub org: &'a organization::Model,
    pub customer: &'a customer::Model,
    pub job: &'a job::Model,
}

/// Every address the customer chose, with why we may not use it now (they
/// opted out, or a provider told us it is dead), if so.
pub fn addresses(c: &customer::Model) -> Vec<(Channel, String, Option<String>)> {
    let mut out = Vec::new();
    for ch in c.channels.iter() {
        match ch {
            Channel::Sms => {
                if let Some(p) = &c.phone {
                    let blocked = if c.sms_opted_out {
                        Some("the customer opted out of texts (STOP)".to_string())
                    } else {
                        c.sms_problem.clone()
                    };
                    out.push((Channel::Sms, p.clone(), blocked));
                }
            }
            Channel::Email => {
                if let Some(e) = &c.email {
                    let blocked = if c.email_opted_out {
                        Some("the customer opted out of email".to_string())
                    } else {
                        c.email_problem.clone()
                    };
                    out.push((Channel::Email, e.clone(), blocked));
                }
            }
        }
    }
    out
}

/// Where we may reach the customer now: their chosen channels, minus
/// opt-outs and channels a provider has told us are dead.
pub fn reachable(c: &customer::Model) -> Vec<(Channel, String)> {
    addresses(c).into_iter().filter(|(_, _, blocked)| blocked.is_none()).map(|(c, a, _)| (c, a)).collect()
}

pub fn first_name(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or(name)
}

pub fn status_label(status: &JobStatus) -> &'static str {
    match status {
        JobStatus::New => "just opened",
        JobStatus::Scheduled => "scheduled",
        JobStatus::Estimating => "being estimated",
        JobStatus::AwaitingApproval => "waiting for your approval of the estimate",
        JobStatus::Approved => "approved, waiting for the work to start",
        JobStatus::InProgress => "work in progress",
        JobStatus::Completed => "completed",
        JobStatus::Cancelled => "cancelled",
    }
}

/// "9:00 AM"
pub fn clock_time(zone: Zone, t: DateTime<Utc>) -> String {
    t.with_timezone(&zone.0).format("%-I:%M %p").to_string()
}

/// "Tuesday, November 24, 5:00 PM EST"
pub fn day_and_time(zone: Zone, t: DateTime<Utc>) -> String {
    let l = t.with_timezone(&zone.0);
    format!("{}, {} {}", l.format("%A, %B %-d"), clock_time(zone, t), l.format("%Z"))
}

/// "Tuesday, November 24, between 9:00 AM and 11:00 AM EST"
pub fn window_phrase(zone: Zone, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let s = start.with_timezone(&zone.0);
    let e = end.with_timezone(&zone.0);
    let day = s.format("%A, %B %-d");
    if start == end {
        format!("{day}, at {} {}", clock_time(zone, start), s.format("%Z"))
    } else if s.date_naive() == e.date_naive() {
        format!("{day}, between {} and {} {}", clock_time(zone, start), clock_time(zone, end), e.format("%Z"))
    } else {
        format!(
            "between {day} at {} and {} at {} {}",
            clock_time(zone, start),
            e.format("%A"),
            clock_time(zone, end),
            e.format("%Z")
        )
    }
}

pub fn duration_label(minutes: i32) -> String {
    match minutes {
        m if m < 60 => format!("about {m} minutes"),
        60 => "about 1 hour".into(),
        m if m % 60 == 0 => format!("about {} hours", m / 60),
        m => format!("about {:.1} hours", m as f64 / 60.0),
    }
}

pub fn staff_ctx(s: &staff::Model) -> Value {
    json!({
        "name": s.name,
        "first_name": first_name(&s.name),
        "role": s.role,
        "role_label": s.role.as_str().replace('_', " "),
        "bio": s.bio,
        "photo_url": s.photo_url.clone().unwrap_or_default(),
    })
}

pub fn visit_ctx(v: &visit::Model, zone: Zone) -> Value {
    let s = v.window_start.with_timezone(&zone.0);
    json!({
        "kind": v.kind,
        "kind_label": format!("{} visit", v.kind.as_str().replace('_', "-")),
        "window": window_phrase(zone, v.window_start, v.window_end),
        "date": s.format("%A, %B %-d").to_string(),
        "start_time": clock_time(zone, v.window_start),
        "end_time": clock_time(zone, v.window_end),
        "tz_abbr": s.format("%Z").to_string(),
        "duration_minutes": v.duration_minutes,
        "duration_label": duration_label(v.duration_minutes),
    })
}

/// The fields every message has: company, customer, job, link.
pub fn base_ctx(p: &Parties<'_>, link: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "org".into(),
        json!({
            "name": p.org.name,
            "mission_statement": p.org.mission_statement,
            "phone": p.org.phone.clone().unwrap_or_default(),
            "email": p.org.email.clone().unwrap_or_default(),
            "logo_url": p.org.logo_url,
            "update_cadence": crate::domain::messaging::cadence(
                crate::domain::messaging::parse_times(&p.org.update_times).map(|t| t.len()).unwrap_or(2)
            ),
        }),
    );
    m.insert("customer".into(), json!({"name": p.customer.name, "first_name": first_name(&p.customer.name)}));
    m.insert(
        "job".into(),
        json!({"title": p.job.title, "status": p.job.status, "status_label": status_label(&p.job.status)}),
    );
    m.insert("link".into(), Value::String(link.to_string()));
    m
}

/// What a message is and when it matters.
pub struct Plan<'a> {
    pub kind: MessageKind,
    /// Identifies the event; `:<channel>` is appended per message.
    pub key: String,
    pub visit_id: Option<i64>,
    pub due_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub ctx: &'a Map<String, Value>,
}

/// Renders `plan` for every channel the customer chose. A channel we may not
/// use (opted out, dead number) still gets its row, suppressed, so the
/// outbox and the timeline show what the customer did not receive and why.
/// `wording` is the organization's own (`wording_of`), or `Wording::none()`.
pub fn drafts(
    templates: &Templates,
    wording: &Wording,
    p: &Parties<'_>,
    plan: Plan<'_>,
) -> Result<Vec<Draft>, TemplateError> {
    let mut out = Vec::new();
    for (channel, recipient, blocked) in addresses(p.customer) {
        let (subject, body_text, body_html, segments) = match channel {
            Channel::Sms => {
                let body = templates.sms_in(wording, plan.kind, plan.ctx)?;
                let seg = sms_segments(&body);
                (None, body, None, Some((seg.count, seg.encoding)))
            }
            Channel::Email => {
                let e = templates.email_in(wording, plan.kind, plan.ctx)?;
                (Some(e.subject), e.text, Some(e.html), None)
            }
        };
        out.push(Draft {
            kind: plan.kind,
            job_id: p.job.id,
            visit_id: plan.visit_id,
            customer_id: p.customer.id,
            channel,
            recipient,
            subject,
            body_text,
            body_html,
            segments,
            dedupe_key: format!("{}:{}", plan.key, channel.as_str()),
            due_at: plan.due_at,
            expires_at: plan.expires_at,
            blocked,
        });
    }
    Ok(out)
}

/// Example values for every name a message of `kind` is given, in the
/// shape the code that sends it builds them: what a company's wording is
/// checked against before it is saved, and what a preview shows where the
/// job has no such event (a reschedule it never had).
pub fn sample_ctx(kind: MessageKind) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "org".into(),
        json!({"name": "Harbor & Pine Restoration", "mission_statement": "We treat every home like our own.",
               "phone": "+1 212 555 0100", "email": "office@example.test", "update_cadence": "twice a day",
               "logo_url": "https://harborandpine.example/logo.png"}),
    );
    m.insert("customer".into(), json!({"name": "Nadia Brooks", "first_name": "Nadia"}));
    m.insert(
        "job".into(),
        json!({"title": "Water under the kitchen sink", "status": "scheduled", "status_label": "scheduled"}),
    );
    m.insert("link".into(), json!("https://kept.example/c/0123456789abcdef0123456789abcdef01234567"));
    let staff = json!({"name": "Marcus Bell", "first_name": "Marcus", "role": "estimator", "role_label": "estimator",
                       "bio": "Marcus has dried out over 400 basements.", "photo_url": "https://kept.example/avatars/MB.svg"});
    let visit = json!({"kind": "estimate", "kind_label": "estimate visit",
        "window": "Tuesday, November 24, between 9:00 AM and 11:00 AM EST", "date": "Tuesday, November 24",
        "start_time": "9:00 AM", "end_time": "11:00 AM", "tz_abbr": "EST", "duration_minutes": 60,
        "duration_label": "about 1 hour"});
    let mut put = |k: &str, v: Value| {
        m.insert(k.into(), v);
    };
    match kind {
        MessageKind::Introduction | MessageKind::Reminder => {
            put("staff", staff);
            put("others", json!(["Lena Okafor"]));
            put("visit", visit);
        }
        MessageKind::OnMyWay => {
            put("staff", staff);
            put("others", json!(["Lena Okafor"]));
            put("visit", visit);
            put("eta", json!("9:40 AM"));
            put("eta_minutes", json!(20));
        }
        MessageKind::StatusUpdate => {
            put("slot", json!("morning"));
            put(
                "news",
                json!([{"text": "Parts ordered: the pump arrives Tuesday", "when": "Mon 2:10 PM"},
                       {"text": "We moved your work visit to Tuesday, November 24, between 9:00 AM and 11:00 AM EST", "when": "Mon 11:05 AM"}]),
            );
            put(
                "next_promise",
                json!({"label": "Marcus Bell arrives for the estimate visit", "when": "Tuesday, November 24, between 9:00 AM and 11:00 AM EST"}),
            );
            put("next_update", json!("4:30 PM"));
        }
        MessageKind::Reply => {
            put("body", json!("Marcus can come at 9 tomorrow instead. Does that work?"));
            put("from_name", json!("Dana Price"));
        }
        MessageKind::PricingBreakdown => {
            put(
                "estimate",
                json!({"version": 2, "is_revision": true, "currency": "USD", "subtotal": "$1,240.00", "tax": "$102.30",
                    "total": "$1,342.30", "notes": "Includes haul-away of the damaged cabinet.", "valid_until": "December 31, 2026",
                    "lines": [{"description": "Dry-out, 2 technicians", "kind": "labor", "quantity": "8", "unit": "h",
                               "unit_price": "$85.00", "total": "$680.00", "is_discount": false},
                              {"description": "Returning customer", "kind": "discount", "quantity": "1", "unit": null,
                               "unit_price": "$40.00", "total": "-$40.00", "is_discount": true}],
                    "options": [{"description": "Antimicrobial treatment of the wall cavity", "kind": "material", "quantity": "1", "unit": null,
                               "unit_price": "$180.00", "total": "$180.00", "is_discount": false, "adds": "$194.85"}],
                    "top_lines": [{"description": "Dry-out, 2 technicians", "total": "$680.00"}],
                    "taxes": [{"name": "Sales tax", "rate": "8.25%", "amount": "$102.30"}]}),
            );
            put(
                "changes",
                json!({"previous_version": 1, "old_total": "$1,100.00", "new_total": "$1,342.30",
                    "added": [{"description": "Cabinet haul-away", "total": "$150.00", "optional": false}],
                    "now_optional": [{"description": "Baseboard repaint", "total": "$95.00"}],
                    "now_required": [{"description": "Dehumidifier rental", "total": "$120.00"}],
                    "removed": [{"description": "Mold test", "total": "$60.00"}],
                    "repriced": [{"description": "Dry-out, 2 technicians", "old": "$510.00", "new": "$680.00",
                                  "old_quantity": "6", "new_quantity": "8"}]}),
            );
        }
        MessageKind::RunningLate => {
            put("new_window", json!("Tuesday, November 24, between 1:00 PM and 3:00 PM EST"));
            put("callback_by", json!("10:45 AM"));
            // The crew's own "running late" tap: the window missed and the new time.
            put("old_window", json!("Tuesday, November 24, between 9:00 AM and 11:00 AM EST"));
            put("new_arrival", json!("11:40 AM EST today"));
            put("staff_name", json!("Lena"));
        }
        MessageKind::ThankYou | MessageKind::DispatcherAlert | MessageKind::PasswordReset => {}
        MessageKind::FollowUpResolution => {
            put("resolution", json!("We came back and re-sealed the joint under the sink at no charge."));
        }
        MessageKind::VisitRescheduled => {
            put("visit", visit);
            put("old_window", json!("Monday, November 23, between 9:00 AM and 11:00 AM EST"));
            put("reason", json!("The replacement valve arrives Tuesday morning."));
            put("staff", staff);
            put("others", json!([]));
            put("crew_changed", json!(false));
            put("removed", json!([]));
        }
        MessageKind::VisitCancelled => {
            put("visit", visit);
            put("reason", json!("The insurer asked us to wait for their adjuster."));
            put("next_visit", json!("Thursday, November 26, between 1:00 PM and 3:00 PM EST"));
            put("callback_by", json!("Wednesday, November 25, 10:00 AM EST"));
        }
        MessageKind::VisitReassigned => {
            put("visit", visit);
            put("staff", staff);
            put("others", json!([]));
            put("removed", json!(["Lena Okafor"]));
        }
        MessageKind::JobCancelled => {
            put("reason", json!("You told us the insurer will send their own crew."));
            put("cancelled_visits", json!(["Tuesday, November 24, between 9:00 AM and 11:00 AM EST"]));
        }
    }
    m
}

/// The organization's own wording of its messages, compiled (one query;
/// usually no rows, and then every message is the files' wording).
pub async fn wording_of<C: sea_orm::ConnectionTrait>(db: &C, org_id: i64) -> Result<Wording, sea_orm::DbErr> {
    use crate::entities::message_wording;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let rows =
        message_wording::Entity::find().filter(message_wording::Column::OrganizationId.eq(org_id)).all(db).await?;
    Ok(Wording::compile(rows.into_iter().filter_map(|r| match Part::parse(&r.part) {
        Some(part) => Some((r.kind, part, r.body)),
        None => {
            tracing::warn!(part = %r.part, "stored wording for an unknown part; ignored");
            None
        }
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn windows_read_naturally_in_the_customers_zone() {
        let ny = Zone::parse("America/New_York").unwrap();
        assert_eq!(
            window_phrase(ny, utc("2026-11-24T14:00:00Z"), utc("2026-11-24T16:00:00Z")),
            "Tuesday, November 24, between 9:00 AM and 11:00 AM EST"
        );
        assert_eq!(
            window_phrase(ny, utc("2026-11-24T14:00:00Z"), utc("2026-11-24T14:00:00Z")),
            "Tuesday, November 24, at 9:00 AM EST"
        );
        let k = Zone::parse("Asia/Kolkata").unwrap();
        assert_eq!(
            window_phrase(k, utc("2026-11-24T14:00:00Z"), utc("2026-11-24T16:00:00Z")),
            "Tuesday, November 24, between 7:30 PM and 9:30 PM IST"
        );
        let syd = Zone::parse("Australia/Sydney").unwrap();
        assert!(window_phrase(syd, utc("2026-11-24T12:00:00Z"), utc("2026-11-24T14:00:00Z"))
            .starts_with("between Tuesday, November 24 at 11:00 PM and Wednesday at 1:00 AM"));
    }

    #[test]
    fn every_default_wording_passes_the_check_a_companys_wording_must_pass() {
        // The examples name everything each default uses, strictly: else a
        // company saving the default back would be refused.
        let t = Templates::embedded().unwrap();
        for kind in MessageKind::ALL.iter().copied().filter(|k| super::super::templates::editable(*k)) {
            for part in Part::ALL {
                let source = t.default_source(kind, *part).to_string();
                let sample = Value::Object(sample_ctx(kind));
                assert_eq!(t.check(kind, *part, &source, &sample), Ok(()), "{kind}/{}", part.file());
            }
        }
    }

    #[test]
    fn a_misspelt_name_is_refused_with_its_line_and_what_may_be_used() {
        let t = Templates::embedded().unwrap();
        let sample = Value::Object(sample_ctx(MessageKind::Reminder));
        let e = t.check(
            MessageKind::Reminder,
            Part::Sms,
            "Hi {{ customer.first_name }},\nsee you {{ vist.date }}",
            &sample,
        );
        let e = e.unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.reason.contains("`vist.date`") && e.reason.contains("visit.date"), "{e}");
        let e = t.check(MessageKind::Reminder, Part::Sms, "{% for x in others %}{{ x }}{% endfor %}", &sample);
        assert_eq!(e, Ok(()), "loop names are the template's own");
        let e = t.check(MessageKind::Reminder, Part::Sms, "Hi\n{% if visit %}\nopen", &sample).unwrap_err();
        assert!(e.line >= 2, "{e}");
    }

    #[test]
    fn durations_and_statuses_are_said_plainly() {
        assert_eq!(duration_label(45), "about 45 minutes");
        assert_eq!(duration_label(60), "about 1 hour");
        assert_eq!(duration_label(240), "about 4 hours");
        assert_eq!(duration_label(90), "about 1.5 hours");
        assert_eq!(status_label(&JobStatus::AwaitingApproval), "waiting for your approval of the estimate");
    }
}
