//! `toolsync picture get`: a stored picture's PNG, out of the store's files, on stdout or into
//! a file — the way back out for what the pictures processor stored.

use std::io::IsTerminal;
use std::path::Path;

use toolsync_plugin_api::blobs::Blobs;
use toolsync_plugin_api::model::registry;

use crate::data_dir::DataDir;
use crate::error::{CmdResult, Error, ExitCode};
use crate::output::{self, Out};

/// Writes the `size` rendition (512, 100 or 35) of `account`'s picture to `into`, else to
/// stdout — refused when stdout is a terminal, which binary bytes would garble.
pub fn get(
    data: &DataDir,
    account: &str,
    size: u32,
    by: Option<&str>,
    into: Option<&Path>,
) -> CmdResult {
    if into.is_none() && Out::is_terminal() {
        return Err(Error::usage(
            "a PNG is not printed on a terminal: redirect stdout (`> picture.png`) or give \
             --output FILE",
        ));
    }
    let entity = registry::entity("picture").expect("the model declares pictures");
    let store = data.open_store()?;
    let keys = [account.to_string()];
    let fields = match super::show::find(entity, &store, &keys, by)? {
        Ok(fields) => fields,
        Err(why) => {
            // No picture because no account: say which.
            let users = registry::entity("user").expect("the model declares users");
            let why = match super::show::find(users, &store, &keys, by)? {
                Ok(_) => why,
                Err(no_account) => no_account,
            };
            output::note(why);
            return Ok(ExitCode::RowsFailed);
        }
    };
    let file = fields["renditions"][size.to_string()]["file"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    drop(store);
    let blobs = Blobs::new(data.stored_files());
    let bytes = blobs.read(&file).map_err(|e| {
        Error::output(
            format!(
                "cannot read the {size} picture of `{account}` ({}); `toolsync check` \
                 compares the store with its files",
                blobs.path(&file).unwrap_or_default().display()
            ),
            e,
        )
    })?;
    match into {
        Some(path) => {
            let failed = |e| Error::output(format!("cannot write {}", path.display()), e);
            let mut file = std::fs::File::create(path).map_err(failed)?;
            // `--output /dev/tty` is a terminal too.
            if file.is_terminal() {
                return Err(Error::usage(format!(
                    "{} is a terminal: a PNG is not written there",
                    path.display()
                )));
            }
            std::io::Write::write_all(&mut file, &bytes).map_err(failed)?;
        }
        None => {
            let mut out = Out::stdout();
            out.write_all(&bytes)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::Ok)
}
