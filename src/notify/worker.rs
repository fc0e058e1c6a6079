//! The delivery worker: claims due messages, sends them, records outcomes.
//!
//! Claiming is one statement: PostgreSQL picks rows `FOR UPDATE SKIP LOCKED`
//! so concurrent workers never take the same row; SQLite runs the same
//! UPDATE ... RETURNING atomically under its write lock. A claimed row is
//! leased; if its worker dies, the lease runs out and the row comes back.

use super::transport::{Outcome, Transports};
use crate::db::Db;
use crate::domain::messaging::{backoff, parse_time, MessageState, QuietHours};
use crate::domain::people::Channel;
use crate::domain::time::{truncate_to_second, Zone};
use crate::entities::{message, organization};
use crate::live::{Bus, LiveEvent};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter, Statement};
use std::collections::HashMap;

/// After this many transient failures a message is failed for good (about
/// 15 hours of retries). Most messages expire sooner: an update overtaken by
/// the next slot, an introduction after its visit, are superseded instead.
pub const MAX_ATTEMPTS: i32 = 20;

/// How long a claim lasts before another worker may take the row back.
pub const LEASE: Duration = Duration::minutes(5);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub uncertain: usize,
    pub held: usize,
    pub superseded: usize,
    pub suppressed: usize,
    pub no_provider: usize,
}

impl DeliveryReport {
    pub fn add(&mut self, o: &DeliveryReport) {
        self.claimed += o.claimed;
        self.sent += o.sent;
        self.retried += o.retried;
        self.failed += o.failed;
        self.uncertain += o.uncertain;
        self.held += o.held;
        self.superseded += o.superseded;
        self.suppressed += o.suppressed;
        self.no_provider += o.no_provider;
    }
}

/// Claims up to `limit` due messages for this worker: due ones, expired ones
/// (to be marked superseded), and ones whose lease ran out. The states are
/// bound like the other values: `sending`, then the waiting ones
/// (`pending`, `retry`, `held`).
pub async fn claim(db: &Db, now: DateTime<Utc>, limit: u64) -> Result<Vec<message::Model>, DbErr> {
    use MessageState::{Held, Pending, Retry, Sending};
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "UPDATE messages SET state = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM messages \
               WHERE (state IN ($4, $5, $6) AND (next_attempt_at <= $3 OR expires_at <= $3)) \
                  OR (state = $1 AND lease_until < $3) \
               ORDER BY next_attempt_at, id LIMIT $7 FOR UPDATE SKIP LOCKED) \
             RETURNING *"
        }
        _ => {
            "UPDATE messages SET state = ?, lease_until = ?, attempts = attempts + 1, updated_at = ? \
             WHERE id IN (SELECT id FROM messages \
               WHERE (state IN (?, ?, ?) AND (next_attempt_at <= ? OR expires_at <= ?)) \
                  OR (state = ? AND lease_until < ?) \
               ORDER BY next_attempt_at, id LIMIT ?) \
             RETURNING *"
        }
    };
    let lease_until = now + LEASE;
    let limit = limit as i64;
    let values: Vec<sea_orm::Value> = match backend {
        DatabaseBackend::Postgres => vec![
            Sending.into(),
            lease_until.into(),
            now.into(),
            Pending.into(),
            Retry.into(),
            Held.into(),
            limit.into(),
        ],
        _ => vec![
            Sending.into(),
            lease_until.into(),
            now.into(),
            Pending.into(),
            Retry.into(),
            Held.into(),
            now.into(),
            now.into(),
            Sending.into(),
            now.into(),
            limit.into(),
        ],
    };
    let mut rows =
        message::Entity::find().from_raw_sql(Statement::from_sql_and_values(backend, sql, values)).all(db).await?;
    rows.sort_by_key(|m| (m.next_attempt_at, m.id));
    Ok(rows)
}

/// Who hears of a message's new state: the live bus, with each claimed
/// message's crew (looked up once per round).
struct Tell<'a> {
    bus: &'a Bus,
    crews: HashMap<i64, Vec<i64>>,
}

/// Records the end of one claimed attempt. Only touches the row while it is
/// still ours (`sending`), and then says so on the live bus.
async fn finish(
    db: &Db,
    tell: &Tell<'_>,
    m: &message::Model,
    new_state: MessageState,
    now: DateTime<Utc>,
    edit: impl FnOnce(sea_orm::UpdateMany<message::Entity>) -> sea_orm::UpdateMany<message::Entity>,
) -> Result<(), DbErr> {
    let q = message::Entity::update_many()
        .col_expr(message::Column::State, Expr::value(new_state))
        .col_expr(message::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(message::Column::UpdatedAt, Expr::value(now))
        .filter(message::Column::Id.eq(m.id))
        .filter(message::Column::State.eq(MessageState::Sending));
    if edit(q).exec(db).await?.rows_affected > 0 {
        let crew = m.visit_id.and_then(|v| tell.crews.get(&v)).map(Vec::as_slice).unwrap_or(&[]);
        tell.bus.publish_committed(db, LiveEvent::message(m, new_state, crew, now)).await;
    }
    Ok(())
}

enum Sender<'a> {
    Sms(&'a super::transport::Twilio),
    Email(&'a super::transport::Smtp),
}

/// One round: claim up to `limit` messages and deal with each.
pub async fn deliver_once(
    db: &Db,
    transports: &Transports,
    live: &Bus,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<DeliveryReport, DbErr> {
    let claimed = claim(db, now, limit).await?;
    let mut report = DeliveryReport { claimed: claimed.len(), ..Default::default() };
    if claimed.is_empty() {
        return Ok(report);
    }
    let visits: Vec<i64> = claimed.iter().filter_map(|m| m.visit_id).collect();
    let crews = crate::store::visits::staff_ids_of(db, &visits).await.map_err(|e| DbErr::Custom(e.to_string()))?;
    let tell = Tell { bus: live, crews };
    let customers = crate::store::customers::by_ids(db, claimed.iter().filter_map(|m| m.customer_id))
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    let org_ids: Vec<i64> = claimed.iter().map(|m| m.organization_id).collect();
    let orgs: HashMap<i64, organization::Model> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(org_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();

    for m in claimed {
        let channel = m.channel;
        let cust = m.customer_id.and_then(|id| customers.get(&id));
        if m.expires_at.is_some_and(|e| e <= now) {
            finish(db, &tell, &m, MessageState::Superseded, now, |q| {
                q.col_expr(message::Column::LastError, Expr::value("overtaken before it could be sent"))
            })
            .await?;
            report.superseded += 1;
            continue;
        }
        if let Some(c) = cust {
            let blocked = match channel {
                Channel::Sms => c.sms_opted_out || c.sms_problem.is_some(),
                Channel::Email => c.email_opted_out || c.email_problem.is_some(),
            };
            if blocked {
                finish(db, &tell, &m, MessageState::Suppressed, now, |q| {
                    q.col_expr(
                        message::Column::LastError,
                        Expr::value("the customer opted out or cannot receive this channel"),
                    )
                })
                .await?;
                report.suppressed += 1;
                continue;
            }
        }
        // Without a provider there is nothing to hold for: say so at once.
        let sender = match (channel, &transports.twilio, &transports.smtp) {
            (Channel::Sms, Some(t), _) => Sender::Sms(t),
            (Channel::Email, _, Some(s)) => Sender::Email(s),
            _ => {
                finish(db, &tell, &m, MessageState::NoProvider, now, |q| {
                    q.col_expr(
                        message::Column::LastError,
                        Expr::value(format!("not sent: no {} provider configured", m.channel)),
                    )
                })
                .await?;
                report.no_provider += 1;
                continue;
            }
        };
        let exempt = m.quiet_hours_exempt_until.is_some_and(|until| now <= until);
        if channel == Channel::Sms && !exempt {
            // Quiet hours are the customer's (a staff member's text: the
            // office's). A stored zone that is not one is a broken invariant:
            // the message fails naming it rather than go out at the wrong hour.
            let zone = match (cust, orgs.get(&m.organization_id)) {
                (Some(c), _) => crate::error::stored_zone(&c.timezone, format_args!("customer {}", c.id)),
                (None, Some(o)) => crate::error::stored_zone(&o.timezone, format_args!("organization {}", o.id)),
                (None, None) => Ok(Zone(chrono_tz::UTC)),
            };
            let zone = match zone {
                Ok(z) => z,
                Err(e) => {
                    tracing::error!(message = m.id, error = %e, "not sent: no zone to keep quiet hours in");
                    finish(db, &tell, &m, MessageState::Failed, now, |q| {
                        q.col_expr(message::Column::LastError, Expr::value(format!("not sent: {e}")))
                    })
                    .await?;
                    report.failed += 1;
                    continue;
                }
            };
            if let Some(org) = orgs.get(&m.organization_id) {
                if let (Ok(start), Ok(end)) = (parse_time(&org.quiet_hours_start), parse_time(&org.quiet_hours_end)) {
                    let quiet = QuietHours { start, end };
                    let open = quiet.next_allowed(zone, now);
                    if open > now {
                        // Held, not dropped; and holding is not an attempt.
                        finish(db, &tell, &m, MessageState::Held, now, |q| {
                            q.col_expr(message::Column::NextAttemptAt, Expr::value(open))
                                .col_expr(message::Column::Attempts, Expr::col(message::Column::Attempts).sub(1))
                        })
                        .await?;
                        report.held += 1;
                        continue;
                    }
                }
            }
        }
        let outcome = match sender {
            Sender::Sms(t) => {
                transports.sms_pacer.wait(db).await?;
                t.send(&m.recipient, &m.body_text).await
            }
            Sender::Email(s) => {
                s.send(&m.recipient, m.subject.as_deref().unwrap_or(""), &m.body_text, m.body_html.as_deref()).await
            }
        };
        match outcome {
            Outcome::Sent { provider_id } => {
                finish(db, &tell, &m, MessageState::Sent, now, |q| {
                    q.col_expr(message::Column::ProviderId, Expr::value(provider_id))
                        .col_expr(message::Column::SentAt, Expr::value(now))
                        .col_expr(message::Column::LastError, Expr::value(Option::<String>::None))
                })
                .await?;
                report.sent += 1;
            }
            Outcome::Transient(why) if m.attempts < MAX_ATTEMPTS => {
                let retry_at = truncate_to_second(now + backoff(m.attempts, rand::thread_rng().gen::<f64>()));
                tracing::warn!(message_id = m.id, attempt = m.attempts, %why, "delivery will be retried");
                finish(db, &tell, &m, MessageState::Retry, now, |q| {
                    q.col_expr(message::Column::NextAttemptAt, Expr::value(retry_at))
                        .col_expr(message::Column::LastError, Expr::value(why))
                })
                .await?;
                report.retried += 1;
            }
            Outcome::Transient(why) => {
                finish(db, &tell, &m, MessageState::Failed, now, |q| {
                    q.col_expr(
                        message::Column::LastError,
                        Expr::value(format!("gave up after {} attempts: {why}", m.attempts)),
                    )
                })
                .await?;
                report.failed += 1;
            }
            Outcome::Permanent { reason, flag } => {
                tracing::warn!(message_id = m.id, %reason, "delivery failed permanently");
                if let (Some(flag), Some(cid)) = (&flag, m.customer_id) {
                    crate::store::customers::flag(db, cid, channel, flag)
                        .await
                        .map_err(|e| DbErr::Custom(e.to_string()))?;
                }
                finish(db, &tell, &m, MessageState::Failed, now, |q| {
                    q.col_expr(message::Column::LastError, Expr::value(reason))
                })
                .await?;
                report.failed += 1;
            }
            Outcome::Uncertain(why) => {
                tracing::warn!(message_id = m.id, %why, "delivery outcome unknown; not resending");
                finish(db, &tell, &m, MessageState::Uncertain, now, |q| {
                    q.col_expr(message::Column::LastError, Expr::value(why))
                })
                .await?;
                report.uncertain += 1;
            }
        }
    }
    Ok(report)
}

/// Delivers until nothing is due (bounded, so one tick cannot run forever).
pub async fn drain(
    db: &Db,
    transports: &Transports,
    live: &Bus,
    clock: &dyn crate::clock::Clock,
) -> Result<DeliveryReport, DbErr> {
    let mut total = DeliveryReport::default();
    for _ in 0..200 {
        let r = deliver_once(db, transports, live, clock.now(), 100).await?;
        total.add(&r);
        if r.claimed == 0 {
            break;
        }
    }
    Ok(total)
}
