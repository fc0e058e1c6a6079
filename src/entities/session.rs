use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub staff_id: i64,
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Every form of a signed-in person carries this.
    pub csrf_token: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    /// The browser it was opened on, as it named itself (shortened).
    pub device: String,
    /// Kept for long on that device ("keep me signed in on this phone").
    pub long_lived: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
