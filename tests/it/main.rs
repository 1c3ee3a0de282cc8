//! Integration tests: a real server on port 0, driven through tokio-postgres (simple and
//! extended protocol) and sqllogictest scripts, against real local PostgreSQL and MariaDB.

mod cold_start;
mod common;
mod databases;
mod models;
mod remote;
mod slt;
mod wire;
