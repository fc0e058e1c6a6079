//! Status-update slots: which slots the planner has handled for an
//! organization's customers in one zone, where the slot's messages are in
//! the outbox, and how far the ledger has recorded their promises.

use crate::entities::{message, update_slot};
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

/// The rows of these (zone, slot) pairs.
fn these<'a>(slots: impl IntoIterator<Item = (&'a str, DateTime<Utc>)>) -> Condition {
    slots.into_iter().fold(Condition::any(), |c, (zone, slot)| {
        c.add(Condition::all().add(update_slot::Column::Zone.eq(zone)).add(update_slot::Column::Slot.eq(slot)))
    })
}

/// The outbox's highest message id (0 when it is empty).
pub async fn last_message_id<C: ConnectionTrait>(db: &C) -> Result<i64, Error> {
    let last: Option<Option<i64>> =
        message::Entity::find().select_only().column_as(message::Column::Id.max(), "last").into_tuple().one(db).await?;
    Ok(last.flatten().unwrap_or(0))
}

/// Whether the zone's `slot` is handled (every job's update stored).
pub async fn is_handled<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    zone: &str,
    slot: DateTime<Utc>,
) -> Result<bool, Error> {
    let row = update_slot::Entity::find_by_id((org_id, zone.to_string(), slot)).one(db).await?;
    Ok(row.is_some_and(|r| r.planned_at.is_some()))
}

/// Which of these slots are handled, as (zone, slot).
pub async fn handled_among<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    slots: impl IntoIterator<Item = DateTime<Utc>>,
) -> Result<Vec<(String, DateTime<Utc>)>, Error> {
    Ok(update_slot::Entity::find()
        .select_only()
        .column(update_slot::Column::Zone)
        .column(update_slot::Column::Slot)
        .filter(update_slot::Column::OrganizationId.eq(org_id))
        .filter(update_slot::Column::PlannedAt.is_not_null())
        .filter(update_slot::Column::Slot.is_in(slots.into_iter().collect::<std::collections::BTreeSet<_>>()))
        .into_tuple()
        .all(db)
        .await?)
}

/// Planning of these slots begins: their messages will come after outbox
/// id `first`. A row a failed tick left keeps the lower start, so the
/// messages that tick stored stay inside the range.
pub async fn begin<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    slots: &[(&str, DateTime<Utc>)],
    first: i64,
) -> Result<(), Error> {
    update_slot::Entity::insert_many(slots.iter().map(|(zone, slot)| update_slot::ActiveModel {
        organization_id: Set(org_id),
        zone: Set(zone.to_string()),
        slot: Set(*slot),
        first_message_id: Set(first),
        last_message_id: Set(None),
        planned_at: Set(None),
        decided_through: Set(None),
        decided_at: Set(None),
    }))
    .on_conflict(
        OnConflict::columns([
            update_slot::Column::OrganizationId,
            update_slot::Column::Zone,
            update_slot::Column::Slot,
        ])
        .value(
            update_slot::Column::FirstMessageId,
            Expr::cust(
                "CASE WHEN excluded.first_message_id < update_slots.first_message_id \
                     THEN excluded.first_message_id ELSE update_slots.first_message_id END",
            ),
        )
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// These slots are handled: every job's update is stored, at or before
/// outbox id `last` (a range only ever widens: two plannings that ran at
/// once both stay inside it).
pub async fn planned<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    slots: &[(&str, DateTime<Utc>)],
    last: i64,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    update_slot::Entity::update_many()
        .col_expr(
            update_slot::Column::LastMessageId,
            // An id we read, written as a number.
            Expr::cust(format!(
                "CASE WHEN last_message_id IS NULL OR last_message_id < {last} THEN {last} ELSE last_message_id END"
            )),
        )
        .col_expr(update_slot::Column::PlannedAt, Expr::value(now))
        .filter(update_slot::Column::OrganizationId.eq(org_id))
        .filter(these(slots.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// Handled slots, due by `now`, whose promises are not all recorded.
pub async fn undecided<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> Result<Vec<update_slot::Model>, Error> {
    Ok(update_slot::Entity::find()
        .filter(update_slot::Column::PlannedAt.is_not_null())
        .filter(update_slot::Column::DecidedAt.is_null())
        .filter(update_slot::Column::Slot.lte(now))
        .all(db)
        .await?)
}

/// The promises of these slots are recorded up to outbox id `through`;
/// all of them when `done_at` is given.
pub async fn decided<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    rows: &[update_slot::Model],
    through: i64,
    done_at: Option<DateTime<Utc>>,
) -> Result<(), Error> {
    let mut q = update_slot::Entity::update_many().col_expr(update_slot::Column::DecidedThrough, Expr::value(through));
    if let Some(at) = done_at {
        q = q.col_expr(update_slot::Column::DecidedAt, Expr::value(at));
    }
    q.filter(update_slot::Column::OrganizationId.eq(org_id))
        .filter(these(rows.iter().map(|r| (r.zone.as_str(), r.slot))))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes slots whose promises are all recorded and that are before
/// `before` (only the current slot is ever asked about); returns how many.
pub async fn clear_settled<C: ConnectionTrait>(db: &C, before: DateTime<Utc>) -> Result<u64, Error> {
    Ok(update_slot::Entity::delete_many()
        .filter(update_slot::Column::DecidedAt.is_not_null())
        .filter(update_slot::Column::Slot.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}
