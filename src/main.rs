fn main() -> std::process::ExitCode {
    let exit = pipewright::cli::main();
    std::process::ExitCode::from(exit as u8)
}
