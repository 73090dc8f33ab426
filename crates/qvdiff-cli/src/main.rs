fn main() {
    std::process::exit(qvdiff_cli::run(std::env::args_os()));
}
