//! The build manifest: one entry per stage, content-addressed (the artifact key is derived from the
//! zip's SHA-256, so an unchanged build is never uploaded or deployed again).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A built stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub stage: String,
    /// The zip (`bootstrap` inside), relative to the workspace root or absolute.
    pub zip: PathBuf,
    /// Hex SHA-256 of the zip.
    pub sha256: String,
    pub size: u64,
    /// `arm64` or `x86_64`.
    pub architecture: String,
}

impl Artifact {
    /// The key in the artifact bucket: `<stage>/<sha256>.zip`.
    pub fn key(&self) -> String {
        format!("{}/{}.zip", self.stage, self.sha256)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub artifacts: Vec<Artifact>,
}

impl Manifest {
    /// Where `build` writes the manifest of a spec.
    pub fn default_path(spec_name: &str) -> PathBuf {
        PathBuf::from("target").join("pipewright").join(spec_name).join("manifest.json")
    }

    pub fn read(path: &Path) -> Result<Self, ManifestError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ManifestError::Read { path: path.to_path_buf(), source })?;
        serde_json::from_str(&text).map_err(|source| ManifestError::Malformed { path: path.to_path_buf(), source })
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        text.push('\n');
        std::fs::write(path, text)
    }

    pub fn artifact(&self, stage: &str) -> Option<&Artifact> {
        self.artifacts.iter().find(|a| a.stage == stage)
    }
}

/// A build manifest that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read build manifest `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("build manifest `{}` is malformed: {source}", path.display())]
    Malformed {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}
