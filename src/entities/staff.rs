use crate::domain::people::Role;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "staff")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub name: String,
    pub role: Role,
    pub phone: Option<String>,
    pub email: String,
    pub photo_url: Option<String>,
    pub bio: String,
    pub timezone: String,
    /// JSON: `{"mon": [["08:00","17:00"]], ...}`
    pub working_hours: String,
    /// Bumped by every booking that touches this person's day; the write is
    /// what serializes concurrent bookings (a row lock on PostgreSQL, the
    /// database write lock on SQLite).
    pub schedule_version: i64,
    pub created_at: DateTimeUtc,
    /// argon2id PHC string; none until the person sets a password.
    pub password_hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
