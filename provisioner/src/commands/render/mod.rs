//! `render runtimeclasses` and `render compose-override`: text for other
//! tools, produced on the controller without touching any host.

use crate::exit::ExitStatus;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;

use crate::plan::templates;
use crate::{inventory, kubernetes};

mod compose;

#[derive(Debug, Subcommand)]
pub enum RenderCommand {
    /// Print RuntimeClass manifests for every handler the inventory wires.
    Runtimeclasses {
        inventory: PathBuf,
        /// Only these hosts: names, globs or @group, comma-separated.
        #[arg(long, value_name = "PATTERN")]
        limit: Option<String>,
    },
    /// Print a Docker Compose override that runs services of a Compose file under Kata.
    ComposeOverride {
        /// Your Compose file (e.g. docker-compose.yml): read to check the
        /// services exist, never written.
        compose_file: PathBuf,
        /// A service to run in a Kata VM; repeat for more.
        #[arg(long = "service", value_name = "NAME", required = true)]
        services: Vec<String>,
        /// The Docker runtime name (default `kata`; `kata-clh` etc. pick a hypervisor).
        #[arg(long, default_value = "kata")]
        runtime: String,
        /// Write the override to FILE instead of stdout; FILE must be new or
        /// one katafleet wrote (it starts with katafleet's header comment).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

pub fn run(command: RenderCommand) -> anyhow::Result<ExitStatus> {
    match command {
        RenderCommand::Runtimeclasses { inventory, limit } => {
            let inv = match inventory::load(&inventory) {
                Ok(inv) => inv,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitStatus::Usage);
                }
            };
            let hosts = match inventory::select(&inv.hosts, limit.as_deref()) {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitStatus::Usage);
                }
            };
            print!("{}", kubernetes::runtime_classes(&hosts));
            Ok(ExitStatus::Ok)
        }
        RenderCommand::ComposeOverride {
            compose_file,
            services,
            runtime,
            output,
        } => compose_override(&compose_file, &services, &runtime, output.as_deref()),
    }
}

fn compose_override(
    compose_file: &Path,
    services: &[String],
    runtime: &str,
    output: Option<&Path>,
) -> anyhow::Result<ExitStatus> {
    for name in services.iter().map(String::as_str).chain([runtime]) {
        if !valid_compose_name(name) {
            eprintln!(
                "error: `{name}` is not a valid Compose service or runtime name ([a-zA-Z0-9._-])"
            );
            return Ok(ExitStatus::Usage);
        }
    }
    let checked = compose::services(compose_file)
        .and_then(|known| compose::check_services(compose_file, &known, services))
        .and_then(|()| output.map_or(Ok(()), |o| compose::check_output(o, compose_file)));
    if let Err(e) = checked {
        eprintln!("error: {e}");
        return Ok(ExitStatus::Usage);
    }
    let shown = |p: &Path| p.display().to_string().escape_debug().to_string();
    let text = templates::compose_override(
        services,
        runtime,
        &shown(compose_file),
        &output.map_or("THIS_FILE".to_string(), shown),
    );
    debug_assert!(text.starts_with(compose::HEADER));
    match output {
        None => print!("{text}"),
        Some(file) => {
            write_atomically(file, &text)?;
            eprintln!("wrote {}", file.display());
        }
    }
    Ok(ExitStatus::Ok)
}

fn valid_compose_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn write_atomically(path: &Path, content: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, content.as_bytes())?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
