//! Guard: the ABI layout stays exactly API 1.0's.
//!
//! abi_stable's load-time check refuses a library whose prefix types (the root module, the sabi
//! traits' vtables) have FEWER fields than the host's, so a 1.x minor that appended a method to
//! `RunAbi` would make every plugin built against 1.0 unloadable ("too many fields"). New
//! behaviour travels through data over the 1.0 surface instead (see `abi.rs`, "Protocol
//! flags").
//!
//! `v1_0` below is a frozen copy of the ABI types as released in 1.0 (commit 1270534,
//! `plugin-api/src/abi.rs`, doc comments and non-layout impls left out). The tests run the very
//! check the host runs when it loads a library — `<PluginModRef as StableAbi>::LAYOUT` against
//! the library's — in both directions. Never edit `v1_0`: if these tests fail, the change to
//! `abi.rs` is what has to go (or it is a new major version, with its own frozen copy).

use abi_stable::abi_stability::abi_checking::{
    check_layout_compatibility_with_globals, CheckingGlobals,
};
use abi_stable::type_layout::TypeLayout;
use abi_stable::StableAbi;

#[allow(non_local_definitions, non_camel_case_types, dead_code)]
mod v1_0 {
    use abi_stable::{
        sabi_trait,
        sabi_types::{RMut, RRef},
        std_types::{RBox, ROption, RResult, RSlice, RStr, RString, RVec, Tuple2},
        StableAbi,
    };

    #[repr(C)]
    #[derive(StableAbi)]
    #[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
    #[sabi(missing_field(panic))]
    pub struct PluginMod {
        pub init: extern "C" fn(host: HostServices),
        #[sabi(last_prefix_field)]
        pub processors: extern "C" fn() -> RVec<ProcessorBox>,
    }

    #[repr(C)]
    #[derive(StableAbi, Clone, Copy)]
    pub struct HostServices {
        pub log: extern "C" fn(level: LogLevel, target: RStr<'_>, message: RStr<'_>),
    }

    #[repr(u8)]
    #[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub enum LogLevel {
        Error,
        Warn,
        Info,
        Debug,
        Trace,
    }

    pub type ProcessorBox = ProcessorAbi_TO<RBox<()>>;
    pub type RunBox = RunAbi_TO<RBox<()>>;
    pub type TxnMut<'a> = TxnAbi_TO<'a, RMut<'a, ()>>;
    pub type TxnRef<'a> = TxnAbi_TO<'a, RRef<'a, ()>>;

    #[sabi_trait]
    pub trait ProcessorAbi: Send + Sync + 'static {
        fn manifest(&self) -> Manifest;

        #[sabi(last_prefix_field)]
        fn start(&self, spec: RunSpec) -> RResult<RunBox, StartError>;
    }

    #[sabi_trait]
    pub trait RunAbi: Send + Sync + 'static {
        fn prepare(&self, row: RowRef<'_>, store: TxnRef<'_>) -> Derived;

        fn apply(&mut self, row: RowRef<'_>, derived: Derived, txn: TxnMut<'_>) -> RowOutcome;

        #[sabi(last_prefix_field)]
        fn finish(&mut self, txn: TxnMut<'_>) -> FinishOutcome;
    }

    pub type Entries = RVec<Tuple2<RVec<u8>, RVec<u8>>>;

    #[sabi_trait]
    pub trait TxnAbi {
        fn get(&self, space: RStr<'_>, key: RSlice<'_, u8>) -> RResult<ROption<RVec<u8>>, RString>;

        fn put(
            &mut self,
            space: RStr<'_>,
            key: RSlice<'_, u8>,
            value: RSlice<'_, u8>,
        ) -> RResult<(), RString>;

        fn remove(&mut self, space: RStr<'_>, key: RSlice<'_, u8>) -> RResult<(), RString>;

        fn scan_prefix(
            &self,
            space: RStr<'_>,
            prefix: RSlice<'_, u8>,
            limit: usize,
        ) -> RResult<Entries, RString>;

        #[sabi(last_prefix_field)]
        fn next_id(&mut self, sequence: RStr<'_>) -> RResult<u64, RString>;
    }

    #[repr(C)]
    #[derive(StableAbi, Clone, Copy)]
    pub struct RowRef<'a> {
        pub line: u64,
        pub values: RSlice<'a, RStr<'a>>,
    }

    #[repr(C)]
    #[derive(StableAbi, Clone, Debug, Default)]
    pub struct Derived {
        pub entries: RVec<Tuple2<RString, RString>>,
    }

    #[repr(C)]
    #[derive(StableAbi, Clone, Debug)]
    pub struct Manifest {
        pub name: RString,
        pub version: RString,
        pub description: RString,
        pub default_input: RString,
        pub has_header: bool,
        pub split_fields: bool,
        pub parallel_prepare: bool,
        pub columns: RVec<ColumnSpec>,
        pub options: RVec<OptionSpec>,
    }

    #[repr(C)]
    #[derive(StableAbi, Clone, Debug)]
    pub struct ColumnSpec {
        pub name: RString,
        pub kind: RString,
        pub required: bool,
        pub description: RString,
        pub index_min: u32,
        pub index_max: u32,
        pub anchor: ROption<RString>,
        pub in_template: bool,
    }

    #[repr(C)]
    #[derive(StableAbi, Clone, Debug)]
    pub struct OptionSpec {
        pub key: RString,
        pub default: RString,
        pub description: RString,
        pub choices: RVec<RString>,
    }

    #[repr(C)]
    #[derive(StableAbi, Clone, Debug)]
    pub struct RunSpec {
        pub columns: RVec<RString>,
        pub options: RVec<Tuple2<RString, RString>>,
        pub input: RString,
        pub started_at: i64,
        pub dry_run: bool,
        pub force: bool,
    }

    #[repr(u8)]
    #[derive(StableAbi, Clone, Debug)]
    pub enum StartError {
        BadOption(RString),
        Refused(RString),
    }

    #[repr(u8)]
    #[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum OutcomeKind {
        Created,
        Updated,
        Deleted,
        Unchanged,
        Checked,
        Skipped,
        Failed,
    }

    #[repr(C)]
    #[derive(StableAbi, Clone, Debug)]
    pub struct RowOutcome {
        pub kind: OutcomeKind,
        pub subject: RString,
        pub message: RString,
        pub warnings: RVec<RString>,
    }

    #[repr(C)]
    #[derive(StableAbi, Clone, Debug, Default)]
    pub struct FinishOutcome {
        pub details_json: RString,
        pub report_lines: RVec<RString>,
        pub warnings: RVec<RString>,
        pub error: ROption<RString>,
    }
}

use toolsync_plugin_api::abi as current;

/// abi_stable's verdict on loading a library built with `library` into a host built with
/// `host` (fresh globals each time: the process-wide ones would remember earlier checks).
fn check(host: &'static TypeLayout, library: &'static TypeLayout) -> Result<(), String> {
    check_layout_compatibility_with_globals(host, library, &CheckingGlobals::new())
        .map_err(|e| e.to_string())
}

/// The host's check of a library's root module, as the loader runs it.
fn root<T: StableAbi>() -> &'static TypeLayout {
    T::LAYOUT
}

#[test]
fn a_plugin_built_against_api_1_0_passes_the_hosts_layout_check() {
    if let Err(report) = check(
        root::<current::PluginModRef>(),
        root::<v1_0::PluginModRef>(),
    ) {
        panic!(
            "this host would refuse every plugin built against API 1.0 (a field or method \
             added to an ABI type? it must travel as data instead, see abi.rs):\n{report}"
        );
    }
}

#[test]
fn the_abi_layout_is_exactly_api_1_0s() {
    // The other direction as well: prefix types may only grow one way at load time, so with
    // both passing every ABI type has exactly 1.0's fields and methods.
    if let Err(report) = check(
        root::<v1_0::PluginModRef>(),
        root::<current::PluginModRef>(),
    ) {
        panic!("the ABI layout differs from API 1.0's:\n{report}");
    }
}

/// The types the root module reaches, checked one by one too, so that a failure names the
/// culprit even if abi_stable's report of the root is long.
#[test]
fn each_abi_type_matches_api_1_0() {
    let pairs: [(&str, &'static TypeLayout, &'static TypeLayout); 9] = [
        (
            "ProcessorAbi",
            root::<current::ProcessorBox>(),
            root::<v1_0::ProcessorBox>(),
        ),
        ("RunAbi", root::<current::RunBox>(), root::<v1_0::RunBox>()),
        (
            "TxnAbi",
            root::<current::TxnMut<'static>>(),
            root::<v1_0::TxnMut<'static>>(),
        ),
        (
            "Manifest",
            root::<current::Manifest>(),
            root::<v1_0::Manifest>(),
        ),
        (
            "RunSpec",
            root::<current::RunSpec>(),
            root::<v1_0::RunSpec>(),
        ),
        (
            "RowRef",
            root::<current::RowRef<'static>>(),
            root::<v1_0::RowRef<'static>>(),
        ),
        (
            "RowOutcome",
            root::<current::RowOutcome>(),
            root::<v1_0::RowOutcome>(),
        ),
        (
            "FinishOutcome",
            root::<current::FinishOutcome>(),
            root::<v1_0::FinishOutcome>(),
        ),
        (
            "HostServices",
            root::<current::HostServices>(),
            root::<v1_0::HostServices>(),
        ),
    ];
    let mut failures = Vec::new();
    for (name, now, then) in pairs {
        for (direction, result) in [
            ("host now, plugin 1.0", check(now, then)),
            ("host 1.0, plugin now", check(then, now)),
        ] {
            if let Err(report) = result {
                failures.push(format!("{name} ({direction}):\n{report}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "ABI types differ from API 1.0:\n{}",
        failures.join("\n\n")
    );
}
