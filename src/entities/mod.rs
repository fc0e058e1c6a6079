//! sea-orm entities, one per table, in the shape `sea-orm-cli generate` writes.
//! Behaviour lives in `store` and `domain`, not here.

pub mod api_token;
pub mod audit;
pub mod customer;
pub mod customer_link;
pub mod estimate;
pub mod estimate_line;
pub mod inbound_message;
pub mod job;
pub mod message;
pub mod organization;
pub mod password_reset;
pub mod promise;
pub mod rating;
pub mod session;
pub mod staff;
pub mod task;
pub mod timeline_event;
pub mod visit;
pub mod visit_staff;
