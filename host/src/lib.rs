//! The toolsync host: loads processor plugins, reads CSV files by the common rules, applies
//! rows through the shared transactional store, and writes reports.
//!
//! The binary (`main.rs`) only calls [`cli::main`]; the library exists so that benchmarks and
//! tests can reach the store and the runner without a process in between.

pub mod area;
pub mod backup;
pub mod bundle;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod data_dir;
pub mod error;
pub mod escape;
pub mod faults;
pub mod history;
pub mod ingest;
pub mod loader;
pub mod logging;
pub mod output;
pub mod panics;
pub mod run;
pub mod schedule;
pub mod store;
pub mod stored_files;
pub mod suggest;
pub mod undo;
pub mod write_bytes;
