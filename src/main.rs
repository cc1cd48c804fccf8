/// mimalloc: generating a large pipeline allocates millions of small strings and JSON values, which
/// glibc's allocator frees and reallocates slowly; mimalloc keeps freed memory for reuse.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let exit = pipewright::cli::main();
    std::process::ExitCode::from(exit as u8)
}
