//! Inspection of a built `bootstrap` before anything is deployed: its machine (a binary for the
//! other architecture fails every invocation with `Runtime.InvalidEntrypoint`), and the highest
//! `GLIBC_x.y` symbol version it needs (a binary linked against a newer glibc than the runtime's
//! fails at start-up with "version `GLIBC_2.xx' not found").
//!
//! The versions come from the ELF's version requirements (`.gnu.version_r`, `SHT_GNU_VERNEED`):
//! for every shared library the binary links, the symbol versions it requires. Static binaries
//! (musl) have none and need no glibc.

use crate::spec::model::Architecture;
use object::elf;
use object::read::elf::{FileHeader, SectionTable};
use object::{Endianness, FileKind};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A glibc version (`2.34`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GlibcVersion {
    pub major: u32,
    pub minor: u32,
}

impl GlibcVersion {
    pub const fn new(major: u32, minor: u32) -> Self {
        GlibcVersion { major, minor }
    }

    /// `GLIBC_2.34` -> 2.34, `GLIBC_2.2.5` -> 2.2 (the patch level does not matter for a runtime's
    /// glibc); `GLIBC_PRIVATE` and other names -> `None`.
    pub fn from_symbol_version(name: &str) -> Option<Self> {
        let mut parts = name.strip_prefix("GLIBC_")?.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(GlibcVersion { major, minor })
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A Lambda OS-only runtime and the glibc it ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// `provided.al2023`: Amazon Linux 2023, glibc 2.34.
    ProvidedAl2023,
    /// `provided.al2`: Amazon Linux 2, glibc 2.26.
    ProvidedAl2,
}

impl Runtime {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "provided.al2023" => Some(Runtime::ProvidedAl2023),
            "provided.al2" => Some(Runtime::ProvidedAl2),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Runtime::ProvidedAl2023 => "provided.al2023",
            Runtime::ProvidedAl2 => "provided.al2",
        }
    }

    /// The newest glibc symbol version a binary may need on this runtime.
    pub fn glibc(self) -> GlibcVersion {
        match self {
            Runtime::ProvidedAl2023 => GlibcVersion::new(2, 34),
            Runtime::ProvidedAl2 => GlibcVersion::new(2, 26),
        }
    }
}

/// The machine an ELF file is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    X86_64,
    Aarch64,
    /// Another `e_machine` value (with its ELF class: 32 or 64 bits).
    Other {
        e_machine: u16,
        bits: u8,
    },
}

impl Machine {
    /// The Lambda architecture that runs it.
    pub fn architecture(self) -> Option<Architecture> {
        match self {
            Machine::X86_64 => Some(Architecture::X86_64),
            Machine::Aarch64 => Some(Architecture::Arm64),
            Machine::Other { .. } => None,
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Machine::X86_64 => f.write_str("x86_64"),
            Machine::Aarch64 => f.write_str("aarch64"),
            Machine::Other { e_machine, bits } => write!(f, "ELF machine {e_machine} ({bits}-bit)"),
        }
    }
}

/// What a binary is and what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub machine: Machine,
    /// The highest `GLIBC_x.y` version the binary requires; `None` for a binary that needs no glibc.
    pub glibc: Option<GlibcVersion>,
    /// Every shared library with version requirements (`libc.so.6`, `libm.so.6`, ...), in file order.
    pub libraries: Vec<String>,
}

/// A file that is not an ELF executable, or a malformed one.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("not an ELF file (Lambda runs Linux ELF executables)")]
    NotElf,
    #[error("malformed ELF file: {0}")]
    Malformed(String),
}

impl From<object::read::Error> for InspectError {
    fn from(e: object::read::Error) -> Self {
        InspectError::Malformed(e.to_string())
    }
}

/// Reads the machine and the glibc symbol versions required by an ELF file.
pub fn inspect(data: &[u8]) -> Result<Inspection, InspectError> {
    match FileKind::parse(data).map_err(|_| InspectError::NotElf)? {
        FileKind::Elf64 => inspect_elf::<elf::FileHeader64<Endianness>>(data, 64),
        FileKind::Elf32 => inspect_elf::<elf::FileHeader32<Endianness>>(data, 32),
        _ => Err(InspectError::NotElf),
    }
}

fn inspect_elf<H: FileHeader<Endian = Endianness>>(data: &[u8], bits: u8) -> Result<Inspection, InspectError> {
    let header = H::parse(data)?;
    let endian = header.endian()?;
    let machine = match (header.e_machine(endian), bits) {
        (elf::EM_X86_64, 64) => Machine::X86_64,
        (elf::EM_AARCH64, 64) => Machine::Aarch64,
        (e_machine, bits) => Machine::Other { e_machine, bits },
    };
    let sections: SectionTable<H> = header.sections(endian, data)?;
    let mut glibc = None;
    let mut libraries = Vec::new();
    if let Some((mut needs, link)) = sections.gnu_verneed(endian, data)? {
        let strings = sections.strings(endian, data, link)?;
        while let Some((need, mut aux)) = needs.next()? {
            libraries.push(String::from_utf8_lossy(need.file(endian, strings)?).into_owned());
            while let Some(version) = aux.next()? {
                let name = String::from_utf8_lossy(version.name(endian, strings)?).into_owned();
                if let Some(v) = GlibcVersion::from_symbol_version(&name) {
                    glibc = glibc.max(Some(v));
                }
            }
        }
    }
    Ok(Inspection { machine, glibc, libraries })
}

/// A bootstrap that must not be deployed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unfit {
    #[error(
        "stage `{stage}`: bootstrap is built for {found}, but the function runs on {expected} \
         (Lambda would fail every invocation with Runtime.InvalidEntrypoint)"
    )]
    WrongArchitecture { stage: String, found: Machine, expected: &'static str },
    #[error(
        "stage `{stage}`: bootstrap needs GLIBC_{found}, but {runtime} has glibc {limit} \
         (the function would fail at start-up)"
    )]
    GlibcTooNew { stage: String, found: GlibcVersion, limit: GlibcVersion, runtime: &'static str },
}

impl Unfit {
    pub fn hint(&self) -> &'static str {
        match self {
            Unfit::WrongArchitecture { .. } => {
                "build for the function's `architecture` (`pipewright build` without --arm64/--x86-64 uses the spec's)"
            }
            Unfit::GlibcTooNew { .. } => {
                "build with cargo-lambda's default zig linker (not `--compiler cargo`), which targets glibc 2.17+, \
                 or build on a host whose glibc is not newer than the runtime's"
            }
        }
    }
}

/// Everything wrong with a bootstrap for a stage running on `architecture` and `runtime`.
pub fn verify(stage: &str, inspection: &Inspection, architecture: Architecture, runtime: Runtime) -> Vec<Unfit> {
    let mut unfit = Vec::new();
    if inspection.machine.architecture() != Some(architecture) {
        unfit.push(Unfit::WrongArchitecture {
            stage: stage.to_string(),
            found: inspection.machine,
            expected: architecture.as_str(),
        });
    }
    if let Some(found) = inspection.glibc.filter(|v| *v > runtime.glibc()) {
        unfit.push(Unfit::GlibcTooNew {
            stage: stage.to_string(),
            found,
            limit: runtime.glibc(),
            runtime: runtime.name(),
        });
    }
    unfit
}

/// A zip that Lambda cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not a readable zip: {source}")]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("`{path}` has no `bootstrap` at its root (an OS-only runtime runs `bootstrap`)")]
    NoBootstrap { path: PathBuf },
    #[error("`bootstrap` in `{path}` is not executable (mode {mode:o}): the runtime could not start it")]
    NotExecutable { path: PathBuf, mode: u32 },
}

/// The `bootstrap` inside a deployment zip, checked to be executable.
pub fn read_bootstrap(path: &Path) -> Result<Vec<u8>, ZipError> {
    let file = std::fs::File::open(path).map_err(|source| ZipError::Io { path: path.to_path_buf(), source })?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|source| ZipError::Zip { path: path.to_path_buf(), source })?;
    let mut entry = match archive.by_name("bootstrap") {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Err(ZipError::NoBootstrap { path: path.to_path_buf() }),
        Err(source) => return Err(ZipError::Zip { path: path.to_path_buf(), source }),
    };
    // Zips written without Unix permissions get the default mode (0644 for files) from Lambda.
    let mode = entry.unix_mode().map_or(0o644, |m| m & 0o7777);
    if mode & 0o111 == 0 {
        return Err(ZipError::NotExecutable { path: path.to_path_buf(), mode });
    }
    let mut data = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
    entry.read_to_end(&mut data).map_err(|source| ZipError::Io { path: path.to_path_buf(), source })?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn glibc_versions_parse_and_order() {
        assert_eq!(GlibcVersion::from_symbol_version("GLIBC_2.34"), Some(GlibcVersion::new(2, 34)));
        assert_eq!(GlibcVersion::from_symbol_version("GLIBC_2.2.5"), Some(GlibcVersion::new(2, 2)));
        assert_eq!(GlibcVersion::from_symbol_version("GLIBC_PRIVATE"), None);
        assert_eq!(GlibcVersion::from_symbol_version("GCC_3.0"), None);
        assert!(GlibcVersion::new(2, 34) > GlibcVersion::new(2, 9));
        assert_eq!(GlibcVersion::new(2, 26).to_string(), "2.26");
        assert_eq!(Runtime::from_name(crate::cfn::RUNTIME), Some(Runtime::ProvidedAl2023));
    }

    /// The glibc of this machine, from `ldd --version` ("ldd (Debian GLIBC 2.41-12) 2.41").
    fn host_glibc() -> GlibcVersion {
        let out = Command::new("ldd").arg("--version").output().expect("ldd runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let first = text.lines().next().expect("a line");
        let version = first.rsplit(' ').next().expect("a version");
        GlibcVersion::from_symbol_version(&format!("GLIBC_{version}")).expect("x.y")
    }

    /// Compiles C source with the system `cc` and returns the executable's bytes.
    fn compile(dir: &Path, name: &str, source: &str, extra: &[&str]) -> Vec<u8> {
        let c = dir.join(format!("{name}.c"));
        std::fs::write(&c, source).expect("write source");
        let exe = dir.join(name);
        let status = Command::new("cc").arg("-O1").arg("-o").arg(&exe).arg(&c).args(extra).status().expect("cc runs");
        assert!(status.success(), "cc failed on {name}");
        std::fs::read(&exe).expect("read executable")
    }

    #[test]
    fn reads_machine_and_glibc_of_real_binaries() {
        let dir = tempfile::tempdir().expect("tempdir");
        // `puts` exists since the first versioned glibc (2.2.5 on x86_64).
        let plain = compile(dir.path(), "plain", "#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n", &[]);
        let i = inspect(&plain).expect("inspects");
        assert_eq!(i.machine, Machine::X86_64);
        assert!(i.libraries.iter().any(|l| l == "libc.so.6"), "{:?}", i.libraries);
        let found = i.glibc.expect("needs glibc");
        assert!(found >= GlibcVersion::new(2, 2) && found <= host_glibc(), "{found}");

        // `__libc_start_main@GLIBC_2.34` (glibc >= 2.34 links every program against it) and
        // `getrandom` (2.25): a program built on this host needs the host's newer symbols.
        let newer = compile(
            dir.path(),
            "newer",
            "#include <sys/random.h>\nint main(void){char b[4];return getrandom(b,4,0)==4?0:1;}\n",
            &[],
        );
        let i = inspect(&newer).expect("inspects");
        assert!(i.glibc.expect("needs glibc") >= GlibcVersion::new(2, 25), "{:?}", i.glibc);
        assert!(verify("newer", &i, Architecture::X86_64, Runtime::ProvidedAl2).iter().any(|u| matches!(
            u,
            Unfit::GlibcTooNew { stage, limit, runtime: "provided.al2", .. }
                if stage == "newer" && *limit == GlibcVersion::new(2, 26)
        )));
        // The message names the stage, the version found and the limit.
        let problems = verify("silver-processing", &i, Architecture::X86_64, Runtime::ProvidedAl2);
        let text = problems.iter().map(ToString::to_string).collect::<String>();
        let found = i.glibc.expect("needs glibc");
        assert!(
            text.contains("silver-processing") && text.contains(&format!("GLIBC_{found}")) && text.contains("2.26")
        );
    }

    #[test]
    fn reports_a_mismatched_architecture() {
        let me = std::fs::read(std::env::current_exe().expect("test binary")).expect("read test binary");
        let i = inspect(&me).expect("inspects");
        assert_eq!(i.machine, Machine::X86_64);
        assert!(
            verify("gold-analytics", &i, Architecture::X86_64, Runtime::ProvidedAl2023)
                .iter()
                .all(|u| !matches!(u, Unfit::WrongArchitecture { .. }))
        );
        let problems = verify("gold-analytics", &i, Architecture::Arm64, Runtime::ProvidedAl2023);
        assert!(
            problems.contains(&Unfit::WrongArchitecture {
                stage: "gold-analytics".into(),
                found: Machine::X86_64,
                expected: "arm64"
            }),
            "{problems:?}"
        );
    }

    #[test]
    fn reads_an_aarch64_header_and_refuses_what_is_not_elf() {
        // A minimal 64-bit little-endian ELF header for EM_AARCH64 (no sections).
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2; // ELFCLASS64
        h[5] = 1; // little endian
        h[6] = 1; // EV_CURRENT
        h[16] = 2; // ET_EXEC
        h[18..20].copy_from_slice(&elf::EM_AARCH64.to_le_bytes());
        h[20] = 1; // e_version
        h[52] = 64; // e_ehsize
        let i = inspect(&h).expect("inspects");
        assert_eq!(i, Inspection { machine: Machine::Aarch64, glibc: None, libraries: vec![] });
        assert!(verify("s", &i, Architecture::Arm64, Runtime::ProvidedAl2).is_empty());
        assert!(matches!(inspect(b"#!/bin/sh\necho hi\n"), Err(InspectError::NotElf)));
        assert!(matches!(inspect(&h[..20]), Err(InspectError::NotElf | InspectError::Malformed(_))));
    }

    #[test]
    fn reads_the_bootstrap_of_a_zip_and_checks_its_mode() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let me = std::fs::read(std::env::current_exe().expect("test binary")).expect("read");
        let write = |name: &str, entry: &str, mode: u32| -> PathBuf {
            let path = dir.path().join(name);
            let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(mode);
            zip.start_file(entry, options).expect("start");
            zip.write_all(&me).expect("write");
            zip.finish().expect("finish");
            path
        };
        let good = write("good.zip", "bootstrap", 0o755);
        assert_eq!(read_bootstrap(&good).expect("reads"), me);
        let bad_mode = write("mode.zip", "bootstrap", 0o644);
        assert!(matches!(read_bootstrap(&bad_mode), Err(ZipError::NotExecutable { mode: 0o644, .. })));
        let wrong_name = write("name.zip", "hello/bootstrap", 0o755);
        assert!(matches!(read_bootstrap(&wrong_name), Err(ZipError::NoBootstrap { .. })));
        assert!(matches!(read_bootstrap(&dir.path().join("missing.zip")), Err(ZipError::Io { .. })));
    }
}
