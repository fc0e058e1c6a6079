use super::staff::{self, NewStaff};
use crate::db::Db;
use crate::domain::people::Role;
use crate::domain::time::Zone;
use crate::domain::tokens::{hash_token, new_token};
use crate::entities::{api_token, organization};
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};

#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub name: String,
    pub timezone: Zone,
    pub mission_statement: String,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CreatedOrganization {
    pub organization: organization::Model,
    pub admin: crate::entities::staff::Model,
    /// Shown once; only its hash is stored.
    pub api_token: String,
}

/// Creates an organization, its first admin, and an admin API token, together.
pub async fn create_with_admin(
    db: &Db,
    org: NewOrganization,
    admin: NewStaff,
    now: DateTime<Utc>,
) -> Result<CreatedOrganization, Error> {
    let txn = db.begin().await?;
    let organization = organization::ActiveModel {
        name: Set(org.name),
        timezone: Set(org.timezone.name().to_string()),
        country: Set("US".into()),
        currency: Set("USD".into()),
        mission_statement: Set(org.mission_statement),
        phone: Set(org.phone),
        email: Set(org.email),
        travel_buffer_minutes: Set(30),
        max_window_minutes: Set(240),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let admin = staff::insert(&txn, organization.id, admin, now).await?;
    let api_token = issue_token(&txn, organization.id, Some(admin.id), Role::Admin, "admin", now).await?;
    txn.commit().await?;
    Ok(CreatedOrganization { organization, admin, api_token })
}

/// Issues a new API token and returns it in the clear (the only time it is).
pub async fn issue_token<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    staff_id: Option<i64>,
    role: Role,
    name: &str,
    now: DateTime<Utc>,
) -> Result<String, Error> {
    let token = new_token();
    api_token::ActiveModel {
        organization_id: Set(organization_id),
        staff_id: Set(staff_id),
        name: Set(name.to_string()),
        role: Set(role),
        token_hash: Set(hash_token(&token)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(token)
}

pub async fn get<C: ConnectionTrait>(db: &C, id: i64) -> Result<organization::Model, Error> {
    organization::Entity::find_by_id(id).one(db).await?.ok_or(Error::NotFound)
}

pub async fn count<C: ConnectionTrait>(db: &C) -> Result<u64, Error> {
    use sea_orm::PaginatorTrait;
    Ok(organization::Entity::find().count(db).await?)
}
