//! The plugin side of the boundary: wraps a [`Processor`] in the ABI traits, catching every
//! panic before it can reach the FFI boundary (a panic crossing an `extern "C"` function aborts
//! the whole process).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, OnceLock, PoisonError};

use abi_stable::{
    prefix_type::PrefixTypeTrait,
    sabi_trait::TD_Opaque,
    std_types::{RResult, RStr, RVec},
};

use crate::abi::{
    protocol, Derived, FinishOutcome, HostServices, LogLevel, Manifest, PluginMod, PluginModRef,
    ProcessorAbi, ProcessorAbi_TO, ProcessorBox, RowOutcome, RowRef, RunAbi, RunAbi_TO, RunBox,
    RunSpec, StartError, TxnMut, TxnRef,
};
use crate::processor::{finish_to_abi, Columns, Processor, Row, RowHandler, StartContext};
use crate::schema::{self, Cell, ColumnType};
use crate::time::Zone;
use crate::txn::{ReadTxn, Txn};

static HOST: OnceLock<HostServices> = OnceLock::new();

/// The plugin crate's name (`toolsync-users`), which its log lines carry.
static NAME: OnceLock<&'static str> = OnceLock::new();

/// Sends a log line to the host's subscriber, under this plugin's name (a no-op before the
/// host's `init`).
pub fn log(level: LogLevel, message: &str) {
    if let Some(host) = HOST.get() {
        let name = NAME.get().copied().unwrap_or("plugin");
        (host.log)(level, RStr::from(name), RStr::from(message));
    }
}

extern "C" fn init(host: HostServices) {
    let _ = HOST.set(host);
    // The host's panic hook lives in another copy of std: without our own, a caught panic would
    // still print a raw backtrace banner on the operator's terminal.
    std::panic::set_hook(Box::new(|info| {
        let text = format!("processor panicked: {info}").replace('\n', " ");
        log(LogLevel::Debug, &text);
    }));
}

/// Builds the root module from the processors list; used by [`crate::export_plugin!`], which
/// passes the plugin crate's name for its log lines.
#[doc(hidden)]
pub fn root_module(
    name: &'static str,
    processors: extern "C" fn() -> RVec<ProcessorBox>,
) -> PluginModRef {
    let _ = NAME.set(name);
    PluginMod { init, processors }.leak_into_prefix()
}

/// Boxes a processor for the host.
#[doc(hidden)]
pub fn boxed<P: Processor>(processor: P) -> ProcessorBox {
    ProcessorAbi_TO::from_value(ProcessorShim(processor), TD_Opaque)
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    format!("the processor panicked: {}", panic_text(payload))
}

fn survey_panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    format!(
        "the processor panicked while surveying the file: {}",
        panic_text(payload)
    )
}

struct ProcessorShim<P>(P);

impl<P: Processor> ProcessorAbi for ProcessorShim<P> {
    fn manifest(&self) -> Manifest {
        match catch_unwind(AssertUnwindSafe(|| self.0.manifest())) {
            Ok(m) => m,
            Err(p) => Manifest::new("?", "0", &panic_message(p), ""),
        }
    }

    fn start(&self, spec: RunSpec) -> RResult<RunBox, StartError> {
        let run = catch_unwind(AssertUnwindSafe(|| {
            let ctx = StartContext::from_spec(&spec);
            let handler = self.0.start(&ctx)?;
            let columns = ctx.columns_handle();
            let manifest = self.0.manifest();
            let typing = Typing::new(&manifest, &columns, ctx.option("timezone"));
            // The processor's own keyspaces are named after it.
            let namespace = manifest.name.to_string();
            Ok(
                if ctx.option(protocol::PHASE_OPTION) == protocol::PHASE_SURVEY {
                    RunAbi_TO::from_value(
                        SurveyShim {
                            handler: Mutex::new(handler),
                            columns,
                            typing,
                            namespace,
                            panic: OnceLock::new(),
                        },
                        TD_Opaque,
                    )
                } else {
                    RunAbi_TO::from_value(
                        RunShim {
                            handler,
                            columns,
                            typing,
                            namespace,
                        },
                        TD_Opaque,
                    )
                },
            )
        }));
        match run {
            Ok(Ok(run)) => RResult::ROk(run),
            Ok(Err(e)) => RResult::RErr(e),
            Err(p) => RResult::RErr(StartError::Refused(panic_message(p).into())),
        }
    }
}

/// The conversions of a run's columns, by position in the file: every non-empty cell of a
/// typed column is converted before the row handler sees the row (see [`crate::schema::types`]).
struct Typing {
    /// `(column name, type)` per position; `None` for a column ignored or of no known type.
    types: Vec<Option<(String, ColumnType)>>,
    zone: Zone,
}

impl Typing {
    fn new(manifest: &Manifest, columns: &Columns, timezone: &str) -> Typing {
        let types = columns
            .names()
            .iter()
            .map(|name| {
                let (spec, _) = schema::match_column(&manifest.columns, name)?;
                ColumnType::parse(&spec.kind).map(|t| (name.clone(), t))
            })
            .collect();
        Typing {
            types,
            // The host always passes a valid zone; a unit-test runner may pass none.
            zone: Zone::parse(timezone).unwrap_or_default(),
        }
    }

    /// The converted cells of a row, or the reason it fails: the first cell that does not
    /// convert, named by its column.
    fn convert(&self, row: &RowRef<'_>) -> Result<Vec<Option<Cell>>, String> {
        let mut cells = Vec::with_capacity(row.values.len());
        for (i, value) in row.values.iter().enumerate() {
            let cell = match self.types.get(i).and_then(Option::as_ref) {
                Some((name, kind)) if !value.is_empty() => Some(
                    kind.convert(value.as_str(), &self.zone)
                        .map_err(|why| format!("`{name}`: {why}"))?,
                ),
                _ => None,
            };
            cells.push(cell);
        }
        Ok(cells)
    }
}

struct RunShim {
    handler: Box<dyn RowHandler>,
    columns: Columns,
    typing: Typing,
    namespace: String,
}

impl RunAbi for RunShim {
    fn prepare(&self, row: RowRef<'_>, store: TxnRef<'_>) -> Derived {
        // A panic here leaves the row without derived values; `apply` then does the work itself
        // (or panics again, and the row fails with the message). A row whose cells do not
        // convert is not prepared: it fails in `apply`.
        catch_unwind(AssertUnwindSafe(|| {
            let Ok(cells) = self.typing.convert(&row) else {
                return Derived::default();
            };
            self.handler.prepare(
                &Row::new(row, &cells, &self.columns),
                &ReadTxn::new(store, &self.namespace),
            )
        }))
        .unwrap_or_default()
    }

    fn apply(&mut self, row: RowRef<'_>, derived: Derived, txn: TxnMut<'_>) -> RowOutcome {
        let columns = &self.columns;
        let handler = &mut self.handler;
        let namespace = &self.namespace;
        let typing = &self.typing;
        let result = catch_unwind(AssertUnwindSafe(move || {
            let cells = typing.convert(&row).map_err(|reason| {
                let unconverted = vec![None; row.values.len()];
                let subject = handler.subject(&Row::new(row, &unconverted, columns));
                crate::RowError::new(reason).about(&subject)
            })?;
            let mut txn = Txn::new(txn, namespace);
            handler.apply(&Row::new(row, &cells, columns), derived, &mut txn)
        }));
        match result {
            Ok(Ok(outcome)) => outcome.into(),
            Ok(Err(e)) => e.into(),
            Err(p) => crate::RowError::new(panic_message(p)).into(),
        }
    }

    fn finish(&mut self, txn: TxnMut<'_>) -> FinishOutcome {
        let handler = &mut self.handler;
        let namespace = &self.namespace;
        let result = catch_unwind(AssertUnwindSafe(move || {
            let mut txn = Txn::new(txn, namespace);
            handler.finish(&mut txn)
        }));
        match result {
            Ok(r) => finish_to_abi(r),
            Err(p) => finish_to_abi(Err(panic_message(p).into())),
        }
    }
}

/// A survey run (`_phase=survey`, see [`crate::abi::protocol`]) over the 1.0 `RunAbi`:
/// `prepare` → [`RowHandler::survey`], `finish` → [`RowHandler::survey_verdict`] encoded in
/// the [`FinishOutcome`]; `apply` is not part of the phase.
struct SurveyShim {
    /// `prepare` takes `&self` while `survey` takes `&mut self`; the host surveys row by row,
    /// so the lock is never contended.
    handler: Mutex<Box<dyn RowHandler>>,
    columns: Columns,
    typing: Typing,
    namespace: String,
    /// The first panic of the survey: the rest of it is skipped and the verdict refuses the
    /// file, since a threshold that could not be checked must not let it through.
    panic: OnceLock<String>,
}

impl RunAbi for SurveyShim {
    fn prepare(&self, row: RowRef<'_>, store: TxnRef<'_>) -> Derived {
        if self.panic.get().is_some() {
            return Derived::default();
        }
        // A row whose cells do not convert is not surveyed: it fails later as usual.
        let Ok(cells) = self.typing.convert(&row) else {
            return Derived::default();
        };
        // The panic is caught inside the lock, so the mutex is never poisoned.
        let mut handler = self.handler.lock().unwrap_or_else(PoisonError::into_inner);
        let result = catch_unwind(AssertUnwindSafe(|| {
            handler.survey(
                &Row::new(row, &cells, &self.columns),
                &ReadTxn::new(store, &self.namespace),
            )
        }));
        if let Err(p) = result {
            let _ = self.panic.set(survey_panic_message(p));
        }
        Derived::default()
    }

    fn apply(&mut self, _row: RowRef<'_>, _derived: Derived, _txn: TxnMut<'_>) -> RowOutcome {
        crate::RowError::new(protocol::SURVEY_APPLY).into()
    }

    fn finish(&mut self, txn: TxnMut<'_>) -> FinishOutcome {
        if let Some(message) = self.panic.get() {
            return protocol::verdict_to_finish(Err(StartError::Refused(message.as_str().into())));
        }
        let handler = self
            .handler
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let result = catch_unwind(AssertUnwindSafe(|| {
            handler.survey_verdict(&ReadTxn::new(txn.sabi_reborrow(), &self.namespace))
        }));
        protocol::verdict_to_finish(match result {
            Ok(verdict) => verdict.map(|note| note.into_iter().collect()),
            Err(p) => Err(StartError::Refused(survey_panic_message(p).into())),
        })
    }
}

/// The symbol abi_stable's loader looks for. `#[export_root_module]` would name it for us, but
/// its expansion needs `abi_stable` as a direct dependency of every plugin crate; spelling the
/// name here keeps plugin crates free of ABI plumbing, and this check keeps it honest.
#[doc(hidden)]
pub const ROOT_MODULE_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

const _: () = {
    let a = ROOT_MODULE_SYMBOL.as_bytes();
    let b = abi_stable::library::ROOT_MODULE_LOADER_NAME.as_bytes();
    assert!(a.len() == b.len());
    let mut i = 0;
    while i < a.len() {
        assert!(a[i] == b[i]);
        i += 1;
    }
};

/// Exports a plugin library's processors:
/// `toolsync_plugin_api::export_plugin!(Users);` at the root of a `cdylib` crate.
///
/// A plugin must be built with `panic = "unwind"` (the default): a panic in processor code is
/// caught here and fails its row, but under `panic = "abort"` nothing can catch it, and the
/// host process would die with it — so such a build does not compile.
#[macro_export]
macro_rules! export_plugin {
    ($($processor:expr),+ $(,)?) => {
        #[cfg(panic = "abort")]
        ::std::compile_error!(
            "toolsync plugins must be built with panic = \"unwind\" (the default): under \
             panic = \"abort\" a panic in a processor would kill the toolsync process instead \
             of failing its row. Remove `panic = \"abort\"` from the profile in Cargo.toml \
             (and `-C panic=abort` from RUSTFLAGS)."
        );

        #[doc(hidden)]
        extern "C" fn __toolsync_processors(
        ) -> $crate::abi_stable::std_types::RVec<$crate::abi::ProcessorBox> {
            // A panic while building the list must not cross the boundary either.
            ::std::panic::catch_unwind(|| {
                let list: ::std::vec::Vec<$crate::abi::ProcessorBox> =
                    ::std::vec![$($crate::export::boxed($processor)),+];
                list.into_iter().collect()
            })
            .unwrap_or_default()
        }

        #[doc(hidden)]
        fn __toolsync_root_module() -> $crate::abi::PluginModRef {
            $crate::export::root_module(::std::env!("CARGO_PKG_NAME"), __toolsync_processors)
        }

        #[doc(hidden)]
        extern "C" fn __toolsync_erased_root_module(
        ) -> $crate::abi_stable::library::RootModuleResult {
            $crate::abi_stable::library::__call_root_module_loader(__toolsync_root_module)
        }

        #[doc(hidden)]
        #[export_name = "_1as_0lib_1header_0root_bmodule_bloader"]
        pub static __TOOLSYNC_LIB_HEADER: $crate::abi_stable::library::LibHeader = unsafe {
            $crate::abi_stable::library::LibHeader::from_constructor::<$crate::abi::PluginModRef>(
                __toolsync_erased_root_module,
                $crate::abi_stable::library::CheckTypeLayout::Yes,
            )
        };
    };
}
