//! Pure rules: no I/O, no clock. Everything here is unit-tested beside the code.

pub mod bounds;
pub mod feasibility;
pub mod job;
pub mod messaging;
pub mod money;
pub mod people;
pub mod time;
pub mod tokens;
pub mod visit;
