/// mimalloc: generating a large pipeline allocates millions of small strings and JSON values; with
/// glibc's allocator half of the time went to malloc/free (1,000 stages).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let exit = pipewright::cli::main();
    std::process::ExitCode::from(exit as u8)
}
