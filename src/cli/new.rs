//! `pipewright new DIR [--spec SPEC]`.

use crate::Exit;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct NewArgs {
    /// Directory of the new project (created; it may exist only when empty).
    pub dir: PathBuf,
    /// The spec of the project (default: a starter pipeline named after DIR).
    #[arg(long)]
    pub spec: Option<PathBuf>,
}

pub fn run(args: &NewArgs, color: bool, err: &mut dyn Write) -> std::io::Result<Exit> {
    if std::fs::read_dir(&args.dir).is_ok_and(|mut entries| entries.next().is_some()) {
        writeln!(err, "error: `{}` exists and is not empty\nhint: choose a new directory", args.dir.display())?;
        return Ok(Exit::Usage);
    }
    let (text, pipeline) = match &args.spec {
        Some(path) => match super::load_valid(Some(path), "making a project of", color, err)? {
            Ok((source, pipeline)) => (source.text, pipeline),
            Err(exit) => return Ok(exit),
        },
        None => {
            let text = match crate::new::starter_spec(&crate::new::project_name(&std::path::absolute(&args.dir)?)) {
                Ok(text) => text,
                Err(e) => {
                    writeln!(err, "error: {e}")?;
                    return Ok(Exit::Failure);
                }
            };
            let loaded = crate::spec::load(crate::spec::Source::text("pipewright.yaml", text.clone()));
            match loaded.pipeline {
                Some(p) if loaded.diagnostics.is_empty() => (text, p),
                _ => {
                    writeln!(err, "error: the starter spec does not check clean: {:?}", loaded.diagnostics)?;
                    return Ok(Exit::Failure);
                }
            }
        }
    };
    let files = match crate::new::project(&pipeline, &text, &crate::new::library_path()) {
        Ok(files) => files,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(Exit::Failure);
        }
    };
    for f in &files {
        let target = args.dir.join(&f.path);
        let written =
            target.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(&target, &f.contents));
        if let Err(e) = written {
            writeln!(err, "error: cannot write `{}`: {e}", target.display())?;
            return Ok(Exit::Failure);
        }
    }
    let dir = args.dir.display();
    writeln!(
        err,
        "created `{dir}`: pipewright.yaml and a crate per stage ({} stage(s), {} files)\nnext:\n  cd {dir}\n  pipewright check\n  pipewright generate\n  pipewright run-local",
        pipeline.stages.len(),
        files.len()
    )?;
    Ok(Exit::Clean)
}
