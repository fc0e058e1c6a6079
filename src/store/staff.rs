use super::{unique_violation, PageRequest};
use crate::domain::people::{Role, WorkingHours};
use crate::domain::time::Zone;
use crate::entities::staff;
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

#[derive(Debug, Clone)]
pub struct NewStaff {
    pub name: String,
    pub role: Role,
    pub phone: Option<String>,
    pub email: String,
    pub photo_url: Option<String>,
    pub bio: String,
    pub timezone: Zone,
    pub working_hours: WorkingHours,
}

pub async fn insert<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    new: NewStaff,
    now: DateTime<Utc>,
) -> Result<staff::Model, Error> {
    let email = new.email.clone();
    staff::ActiveModel {
        organization_id: Set(organization_id),
        name: Set(new.name),
        role: Set(new.role),
        phone: Set(new.phone),
        email: Set(new.email),
        photo_url: Set(new.photo_url),
        bio: Set(new.bio),
        timezone: Set(new.timezone.name().to_string()),
        working_hours: Set(serde_json::to_string(&new.working_hours).unwrap_or_else(|_| "{}".into())),
        schedule_version: Set(0),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| unique_violation(e, "email_taken", format!("a staff member with email {email} already exists")))
}

pub async fn get<C: ConnectionTrait>(db: &C, organization_id: i64, id: i64) -> Result<staff::Model, Error> {
    staff::Entity::find_by_id(id)
        .filter(staff::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound)
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    page: PageRequest,
) -> Result<Vec<staff::Model>, Error> {
    let mut q = staff::Entity::find().filter(staff::Column::OrganizationId.eq(organization_id));
    if let Some(after) = page.after {
        q = q.filter(staff::Column::Id.gt(after));
    }
    Ok(q.order_by_asc(staff::Column::Id).limit(page.limit).all(db).await?)
}

pub async fn by_ids<C: ConnectionTrait>(db: &C, organization_id: i64, ids: &[i64]) -> Result<Vec<staff::Model>, Error> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(staff::Entity::find()
        .filter(staff::Column::OrganizationId.eq(organization_id))
        .filter(staff::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(staff::Column::Id)
        .all(db)
        .await?)
}

/// Everyone in the organization, by id: the pages that list or name staff
/// read them once with this.
pub async fn all<C: ConnectionTrait>(db: &C, organization_id: i64) -> Result<Vec<staff::Model>, Error> {
    Ok(staff::Entity::find()
        .filter(staff::Column::OrganizationId.eq(organization_id))
        .order_by_asc(staff::Column::Id)
        .all(db)
        .await?)
}

/// Everyone with this email, in any organization (a password reset is asked
/// for before anyone knows which organization the person is in).
pub async fn with_email<C: ConnectionTrait>(db: &C, email: &str) -> Result<Vec<staff::Model>, Error> {
    Ok(staff::Entity::find().filter(staff::Column::Email.eq(email)).order_by_asc(staff::Column::Id).all(db).await?)
}

/// How many admins the organization has.
pub async fn admin_count<C: ConnectionTrait>(db: &C, organization_id: i64) -> Result<u64, Error> {
    use sea_orm::PaginatorTrait;
    Ok(staff::Entity::find()
        .filter(staff::Column::OrganizationId.eq(organization_id))
        .filter(staff::Column::Role.eq(Role::Admin.as_str()))
        .count(db)
        .await?)
}

/// Gives the person `role`.
pub async fn set_role<C: ConnectionTrait>(db: &C, person: staff::Model, role: Role) -> Result<staff::Model, Error> {
    let mut a: staff::ActiveModel = person.into();
    a.role = Set(role);
    Ok(a.update(db).await?)
}

/// The staff member's zone (see `customers::zone`).
pub fn zone(s: &staff::Model) -> Result<crate::domain::time::Zone, Error> {
    crate::error::stored_zone(&s.timezone, format_args!("staff member {}", s.id))
}

/// Everyone in the organization with `role`, by id.
pub async fn with_role<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    role: Role,
) -> Result<Vec<staff::Model>, Error> {
    Ok(staff::Entity::find()
        .filter(staff::Column::OrganizationId.eq(organization_id))
        .filter(staff::Column::Role.eq(role.as_str()))
        .order_by_asc(staff::Column::Id)
        .all(db)
        .await?)
}

/// The staff member's working hours. Checked on the way in, so a stored
/// value that does not read is a broken invariant: an error naming the
/// row, never a guess at someone's day.
pub fn hours(s: &staff::Model) -> Result<crate::domain::availability::WeekHours, Error> {
    serde_json::from_str::<WorkingHours>(&s.working_hours)
        .map_err(|e| e.to_string())
        .and_then(|h| crate::domain::availability::WeekHours::parse(&h))
        .map_err(|e| Error::Internal(format!("staff member {} has working hours stored that do not read: {e}", s.id)))
}
