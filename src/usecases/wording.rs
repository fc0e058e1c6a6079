//! The company's own wording of its messages: read it beside the default,
//! change one part (checked first: a template that does not compile, or
//! names something the message does not have, is refused with its line and
//! nothing is saved), put the default back, and preview a message for a
//! real job's customer with unsaved drafts. The notifier uses the saved
//! wording for every real send (`messages::compose::wording_of`).

use crate::domain::messaging::{current_slot, parse_times, sms_segments, MessageKind, SmsEncoding};
use crate::domain::people::{AuditAction, Channel};
use crate::entities::message_wording;
use crate::error::{Error, FieldError};
use crate::messages::compose::{self, Parties};
use crate::messages::templates::{editable, names_in, Part, Templates};
use crate::messages::NotifyCtx;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::{json, Map, Value};

/// One part of one message kind as the company has it.
#[derive(Debug, Clone)]
pub struct PartWording {
    pub part: Part,
    /// What is used now: the company's own, or the default.
    pub body: String,
    pub default: String,
    /// Whether the company changed it.
    pub customized: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A message kind with its parts and the names its wording may use.
#[derive(Debug, Clone)]
pub struct KindWording {
    pub kind: MessageKind,
    pub parts: Vec<PartWording>,
    /// `customer.first_name`, `visit.window`, …
    pub names: Vec<String>,
}

/// The kinds a company may reword, in the order the notifier's table lists them.
pub fn kinds() -> Vec<MessageKind> {
    MessageKind::ALL.iter().copied().filter(|k| editable(*k)).collect()
}

/// A kind and a part from a path: an unknown one, or one that is not the
/// company's to reword, names the field and what it may be.
pub fn parse_kind(raw: &str) -> Result<MessageKind, Error> {
    match MessageKind::parse(raw.trim()) {
        Some(k) if editable(k) => Ok(k),
        Some(k) => Err(Error::field("kind", format!("'{k}' is the office's own message and keeps our wording"))),
        None => Err(Error::field(
            "kind",
            format!("'{raw}' is not one of {}", kinds().iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")),
        )),
    }
}

pub fn parse_part(raw: &str) -> Result<Part, Error> {
    Part::parse(raw.trim()).ok_or_else(|| Error::field("part", format!("'{raw}' is not one of {}", Part::choices())))
}

async fn rows<C: ConnectionTrait>(db: &C, org_id: i64) -> Result<Vec<message_wording::Model>, Error> {
    Ok(message_wording::Entity::find().filter(message_wording::Column::OrganizationId.eq(org_id)).all(db).await?)
}

fn part_of(t: &Templates, kind: MessageKind, part: Part, stored: Option<&message_wording::Model>) -> PartWording {
    let default = t.default_source(kind, part).to_string();
    PartWording {
        part,
        body: stored.map(|r| r.body.clone()).unwrap_or_else(|| default.clone()),
        default,
        customized: stored.is_some(),
        updated_at: stored.map(|r| r.updated_at),
    }
}

/// Every kind a company may reword, each part with what is used now and the default.
pub async fn list<C: ConnectionTrait>(db: &C, t: &Templates, org_id: i64) -> Result<Vec<KindWording>, Error> {
    let stored = rows(db, org_id).await?;
    Ok(kinds()
        .into_iter()
        .map(|kind| KindWording {
            kind,
            parts: Part::ALL
                .iter()
                .map(|p| part_of(t, kind, *p, stored.iter().find(|r| r.kind == kind && r.part == p.as_str())))
                .collect(),
            names: names_in(&Value::Object(compose::sample_ctx(kind))),
        })
        .collect())
}

/// One kind, as `list` gives it.
pub async fn one<C: ConnectionTrait>(
    db: &C,
    t: &Templates,
    org_id: i64,
    kind: MessageKind,
) -> Result<KindWording, Error> {
    list(db, t, org_id).await?.into_iter().find(|k| k.kind == kind).ok_or(Error::NotFound)
}

/// Checks a part's wording: `field` names it in the refusal, with the line and why.
pub fn check(t: &Templates, kind: MessageKind, part: Part, body: &str, field: &str) -> Result<(), Error> {
    t.check(kind, part, body, &Value::Object(compose::sample_ctx(kind)))
        .map_err(|b| Error::Validation(vec![FieldError { field: field.into(), message: b.to_string() }]))
}

/// Saves the company's wording of one part, once it is checked; audited.
#[allow(clippy::too_many_arguments)]
pub async fn save(
    db: &crate::db::Db,
    t: &Templates,
    org_id: i64,
    kind: MessageKind,
    part: Part,
    body: &str,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<PartWording, Error> {
    check(t, kind, part, body, "body")?;
    let txn = db.begin().await?;
    message_wording::Entity::insert(message_wording::ActiveModel {
        organization_id: Set(org_id),
        kind: Set(kind),
        part: Set(part.as_str().to_string()),
        body: Set(body.to_string()),
        updated_by: Set(by),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            message_wording::Column::OrganizationId,
            message_wording::Column::Kind,
            message_wording::Column::Part,
        ])
        .update_columns([
            message_wording::Column::Body,
            message_wording::Column::UpdatedBy,
            message_wording::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    crate::store::sessions::audit(
        &txn,
        Some(org_id),
        by,
        AuditAction::WordingChanged,
        json!({"kind": kind, "part": part.as_str(), "change": "saved", "characters": body.chars().count()}),
        None,
        now,
    )
    .await?;
    txn.commit().await?;
    let stored = rows(db, org_id).await?;
    Ok(part_of(t, kind, part, stored.iter().find(|r| r.kind == kind && r.part == part.as_str())))
}

/// Puts the default wording back (a no-op when the company never changed
/// it); audited when something was removed.
pub async fn reset(
    db: &crate::db::Db,
    t: &Templates,
    org_id: i64,
    kind: MessageKind,
    part: Part,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<PartWording, Error> {
    let txn = db.begin().await?;
    let removed = message_wording::Entity::delete_many()
        .filter(message_wording::Column::OrganizationId.eq(org_id))
        .filter(message_wording::Column::Kind.eq(kind))
        .filter(message_wording::Column::Part.eq(part.as_str()))
        .exec(&txn)
        .await?
        .rows_affected;
    if removed > 0 {
        crate::store::sessions::audit(
            &txn,
            Some(org_id),
            by,
            AuditAction::WordingChanged,
            json!({"kind": kind, "part": part.as_str(), "change": "default restored"}),
            None,
            now,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(part_of(t, kind, part, None))
}

/// A message as a job's customer would read it.
#[derive(Debug, Clone)]
pub struct Preview {
    pub kind: MessageKind,
    pub job_id: i64,
    pub customer_name: String,
    pub timezone: String,
    /// The channels the customer chose that we may use now.
    pub channels: Vec<Channel>,
    pub sms: String,
    pub segments: i32,
    pub encoding: SmsEncoding,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Names filled with example values because the job has no such event
    /// (a preview of "visit moved" on a job whose visit never moved).
    pub examples: Vec<String>,
}

/// Renders `kind` for `job_id`'s customer with `drafts` (unsaved parts;
/// each checked as `save` would, refused naming `parts.<part>` and the
/// line), the rest as the company has them.
pub async fn preview<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org_id: i64,
    kind: MessageKind,
    job_id: i64,
    drafts: Vec<(Part, String)>,
    now: DateTime<Utc>,
) -> Result<Preview, Error> {
    let mut problems = Vec::new();
    for (part, body) in &drafts {
        if let Err(Error::Validation(mut f)) =
            check(&n.templates, kind, *part, body, &format!("parts.{}", part.as_str()))
        {
            problems.append(&mut f);
        }
    }
    let job = match crate::store::jobs::get(db, org_id, job_id).await {
        Ok(j) => Some(j),
        Err(Error::NotFound) => {
            problems.push(FieldError { field: "job_id".into(), message: format!("there is no job {job_id}") });
            None
        }
        Err(e) => return Err(e),
    };
    if !problems.is_empty() {
        return Err(Error::Validation(problems));
    }
    let Some(job) = job else { return Err(Error::NotFound) };
    let org = crate::store::orgs::get(db, org_id).await?;
    let customer = crate::store::customers::get(db, org_id, job.customer_id).await?;
    let (ctx, examples) = real_ctx(db, n, &Parties { org: &org, customer: &customer, job: &job }, kind, now).await?;
    let wording = compose::wording_of(db, org_id).await?;
    let (sms, email) = n
        .templates
        .preview(&wording, kind, &drafts, &Value::Object(ctx))
        .map_err(|(part, b)| Error::field(format!("parts.{}", part.as_str()), b.to_string()))?;
    let seg = sms_segments(&sms);
    Ok(Preview {
        kind,
        job_id: job.id,
        customer_name: customer.name.clone(),
        timezone: customer.timezone.clone(),
        channels: compose::reachable(&customer).into_iter().map(|(c, _)| c).collect(),
        sms,
        segments: seg.count,
        encoding: seg.encoding,
        subject: email.subject,
        text: email.text,
        html: email.html,
        examples,
    })
}

/// The values a message of `kind` about this job would be given now: the
/// job's own where it has them (company, customer, the next visit and its
/// crew, a status update's news and next promise), examples elsewhere
/// (named in the second value). The link is a stand-in of the real one's
/// length, so the segment count is the real one's: previews make no links.
async fn real_ctx<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    p: &Parties<'_>,
    kind: MessageKind,
    now: DateTime<Utc>,
) -> Result<(Map<String, Value>, Vec<String>), Error> {
    let zone = crate::store::customers::zone(p.customer)?;
    let mut ctx = compose::sample_ctx(kind);
    let link = format!("{}/c/{}", n.public_url, "x".repeat(40));
    ctx.extend(compose::base_ctx(p, &link));
    let mut real: Vec<&str> = vec!["org", "customer", "job", "link"];
    if ctx.contains_key("visit") {
        let visits = crate::store::visits::for_job(db, p.org.id, p.job.id).await?;
        let open = visits.iter().find(|v| {
            matches!(
                v.visit.status,
                crate::domain::visit::VisitStatus::Scheduled | crate::domain::visit::VisitStatus::EnRoute
            ) && v.visit.window_end >= now
        });
        if let Some(v) = open.or(visits.last()) {
            ctx.insert("visit".into(), compose::visit_ctx(&v.visit, zone));
            real.push("visit");
            let crew = crate::store::staff::by_ids(db, p.org.id, &v.staff_ids).await?;
            if let (Some(lead), true) = (crew.first(), ctx.contains_key("staff")) {
                ctx.insert("staff".into(), compose::staff_ctx(lead));
                real.push("staff");
                if ctx.contains_key("others") {
                    ctx.insert("others".into(), json!(crew[1..].iter().map(|s| s.name.clone()).collect::<Vec<_>>()));
                    real.push("others");
                }
            }
        }
    }
    if kind == MessageKind::PricingBreakdown {
        // The job's latest estimate, and what changed since the last one sent.
        let all = crate::store::estimates::for_job(db, p.org.id, p.job.id).await?;
        if let Some(latest) = all.last() {
            let full = crate::store::estimates::load(db, p.org.id, latest.id).await?;
            let previous = match all.iter().rev().find(|e| e.version < latest.version && e.sent_at.is_some()) {
                Some(e) => Some(crate::store::estimates::load(db, p.org.id, e.id).await?),
                None => None,
            };
            let (estimate, changes) = crate::messages::events::pricing_values(&full, previous.as_ref())?;
            ctx.insert("estimate".into(), estimate);
            ctx.insert("changes".into(), changes);
            real.extend(["estimate", "changes"]);
        }
    }
    if kind == MessageKind::StatusUpdate {
        // The next update: news since the current slot, until now.
        let times = parse_times(&p.org.update_times).unwrap_or_default();
        if !times.is_empty() {
            let (current, next) = current_slot(zone, &times, now);
            let after = current_slot(zone, &times, next).1;
            let news = crate::messages::news::since(db, &[p.job.id], zone, current, now).await?;
            let promises = crate::messages::news::next_promises(db, &[p.job.id], zone, now).await?;
            let hour = chrono::Timelike::hour(&next.with_timezone(&zone.0));
            ctx.insert("slot".into(), json!(crate::domain::messaging::part_of_day(hour)));
            ctx.insert("news".into(), json!(news.get(&p.job.id).cloned().unwrap_or_default()));
            ctx.insert("next_promise".into(), promises.get(&p.job.id).cloned().unwrap_or(Value::Null));
            ctx.insert("next_update".into(), json!(compose::clock_time(zone, after)));
            real.extend(["slot", "news", "next_promise", "next_update"]);
        }
    }
    let examples = ctx.keys().filter(|k| !real.contains(&k.as_str())).cloned().collect();
    Ok((ctx, examples))
}
