fn main() {
    std::process::exit(toolsync::cli::main());
}
