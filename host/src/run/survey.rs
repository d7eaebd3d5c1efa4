//! Step 3, survey (plugin API 1.1, see `toolsync_plugin_api::abi::protocol`): for a processor
//! whose manifest asks for it, the file is read once more and shown row by row to a survey run
//! with a read-only view of the store, whose verdict may refuse the whole file before any row
//! is applied (course-delete's `max_delete_ratio`). Streams like the main pass.

use toolsync_plugin_api::abi::{RunSpec, StartError};
use toolsync_plugin_api::engine::{Backend, Survey};
use toolsync_reader::CsvReader;

use super::input::items;
use super::plan::Plan;

/// The survey's notes (file-level warnings), or why the run must not go on.
pub fn survey(
    plan: &Plan<'_>,
    spec: &RunSpec,
    backend: &dyn Backend,
) -> Result<Vec<String>, StartError> {
    let refused = |m: String| StartError::Refused(m.into());
    let mut survey = Survey::start(&plan.processor.processor, spec, backend)?;
    let (mut reader, _) =
        CsvReader::open(&plan.input, &plan.read).map_err(|r| refused(r.message))?;
    for item in items(&mut reader) {
        survey.item(&item);
    }
    // A partial count could let a file through a threshold it exceeds.
    if let Some(error) = reader.read_error() {
        return Err(refused(format!(
            "the input could not be read to the end while surveying it: {error}"
        )));
    }
    survey.verdict()
}
