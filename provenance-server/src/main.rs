//! The `provenance` binary: ledger service and command line.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(provenance_server::cli::main());
}
