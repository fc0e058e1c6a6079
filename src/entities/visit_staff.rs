use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "visit_staff")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub visit_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub staff_id: i64,
    pub organization_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
