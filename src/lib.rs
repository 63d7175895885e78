pub mod anon_id;
pub mod bearer;
pub mod config;
pub mod token;
