use super::PageRequest;
use crate::domain::people::{Channel, ChannelList};
use crate::domain::time::Zone;
use crate::entities::customer;
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub channels: Vec<Channel>,
    pub timezone: Zone,
    pub address: String,
}

pub async fn insert<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    new: NewCustomer,
    now: DateTime<Utc>,
) -> Result<customer::Model, Error> {
    Ok(customer::ActiveModel {
        organization_id: Set(organization_id),
        name: Set(new.name),
        phone: Set(new.phone),
        email: Set(new.email),
        channels: Set(ChannelList(new.channels)),
        timezone: Set(new.timezone.name().to_string()),
        address: Set(new.address),
        sms_opted_out: Set(false),
        email_opted_out: Set(false),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Writes a customer's checked contact details. A changed phone or email
/// clears what a failed delivery said about the old one (`sms_problem`,
/// `email_problem`); an opt-out stays: only the customer lifts it.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    current: customer::Model,
    new: NewCustomer,
) -> Result<customer::Model, Error> {
    let phone_changed = current.phone != new.phone;
    let email_changed = current.email != new.email;
    let mut row: customer::ActiveModel = current.into();
    row.name = Set(new.name);
    row.phone = Set(new.phone);
    row.email = Set(new.email);
    row.channels = Set(ChannelList(new.channels));
    row.timezone = Set(new.timezone.name().to_string());
    row.address = Set(new.address);
    if phone_changed {
        row.sms_problem = Set(None);
    }
    if email_changed {
        row.email_problem = Set(None);
    }
    Ok(row.update(db).await?)
}

pub async fn get<C: ConnectionTrait>(db: &C, organization_id: i64, id: i64) -> Result<customer::Model, Error> {
    customer::Entity::find_by_id(id)
        .filter(customer::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound)
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    page: PageRequest,
) -> Result<Vec<customer::Model>, Error> {
    let mut q = customer::Entity::find().filter(customer::Column::OrganizationId.eq(organization_id));
    if let Some(after) = page.after {
        q = q.filter(customer::Column::Id.gt(after));
    }
    Ok(q.order_by_asc(customer::Column::Id).limit(page.limit).all(db).await?)
}

/// Customers by id, for code that works on many jobs or messages at once.
pub async fn by_ids<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<std::collections::HashMap<i64, customer::Model>, Error> {
    Ok(customer::Entity::find()
        .filter(customer::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect())
}

/// The channels the customer chose, in order.
pub fn channels(c: &customer::Model) -> Vec<Channel> {
    c.channels.iter().collect()
}

/// The customer's zone. Checked on the way in, so a bad stored value is a
/// broken invariant: an error naming the row, never a silent UTC.
pub fn zone(c: &customer::Model) -> Result<crate::domain::time::Zone, Error> {
    crate::error::stored_zone(&c.timezone, format_args!("customer {}", c.id))
}

/// Customers whose name, address or email holds `text` (any case), or whose phone
/// holds its digits: what the office types while the phone rings. Newest
/// first, at most `limit`.
pub async fn search<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    text: &str,
    limit: u64,
) -> Result<Vec<customer::Model>, Error> {
    use sea_orm::sea_query::{Condition, Expr, Func};
    let text = text.trim().to_lowercase();
    if text.is_empty() {
        return Ok(vec![]);
    }
    // LIKE's wildcards typed by someone are matched as themselves.
    let escape = |s: &str| s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let pattern = format!("%{}%", escape(&text));
    let lower = |c: customer::Column| Expr::expr(Func::lower(Expr::col(c)));
    let mut any = Condition::any()
        .add(lower(customer::Column::Name).like(sea_orm::sea_query::LikeExpr::new(&pattern).escape('\\')))
        .add(lower(customer::Column::Address).like(sea_orm::sea_query::LikeExpr::new(&pattern).escape('\\')))
        .add(lower(customer::Column::Email).like(sea_orm::sea_query::LikeExpr::new(&pattern).escape('\\')));
    let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() >= 3 {
        any = any.add(customer::Column::Phone.like(format!("%{digits}%")));
    }
    Ok(customer::Entity::find()
        .filter(customer::Column::OrganizationId.eq(organization_id))
        .filter(any)
        .order_by_desc(customer::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Marks what a permanent failure said about a customer's address: opted
/// out (they told the carrier or mailbox STOP), or unreachable (why).
pub async fn flag<C: ConnectionTrait>(
    db: &C,
    customer_id: i64,
    channel: Channel,
    flag: &crate::domain::messaging::Flag,
) -> Result<(), Error> {
    use crate::domain::messaging::Flag;
    use sea_orm::sea_query::Expr;
    let q = customer::Entity::update_many().filter(customer::Column::Id.eq(customer_id));
    let q = match (channel, flag) {
        (Channel::Sms, Flag::OptedOut) => q.col_expr(customer::Column::SmsOptedOut, Expr::value(true)),
        (Channel::Email, Flag::OptedOut) => q.col_expr(customer::Column::EmailOptedOut, Expr::value(true)),
        (Channel::Sms, Flag::Unreachable(why)) => q.col_expr(customer::Column::SmsProblem, Expr::value(why.clone())),
        (Channel::Email, Flag::Unreachable(why)) => {
            q.col_expr(customer::Column::EmailProblem, Expr::value(why.clone()))
        }
    };
    q.exec(db).await?;
    Ok(())
}
