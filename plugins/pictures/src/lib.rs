//! toolsync's pictures processor (formats.md §3.10): account pictures from zip archives.
//!
//! - [`pictures`]: the processor — an entry per account, its outcome decided against the store;
//! - [`imaging`]: what one entry's bytes become (format from the content, dimensions from the
//!   header before decoding, decoding under limits, the three PNG renditions), pure;
//! - `fixtures`: images made in code for the tests and the benchmark, hostile ones included.

#[doc(hidden)]
pub mod fixtures;
pub mod imaging;
pub mod pictures;

toolsync_plugin_api::export_plugin!(pictures::PicturesProcessor);
