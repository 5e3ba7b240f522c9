//! `render runtimeclasses` and `render compose-override`: text for other
//! tools, produced on the controller without touching any host.

use crate::exit::ExitStatus;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;

use crate::plan::templates;
use crate::{inventory, kubernetes};

#[derive(Debug, Subcommand)]
pub enum RenderCommand {
    /// Print RuntimeClass manifests for every handler the inventory wires.
    Runtimeclasses {
        inventory: PathBuf,
        /// Only these hosts: names, globs or @group, comma-separated.
        #[arg(long, value_name = "PATTERN")]
        limit: Option<String>,
    },
    /// Write a Docker Compose override file that runs services under Kata.
    ComposeOverride {
        /// The override file to write (e.g. docker-compose.kata.yml).
        file: PathBuf,
        /// A service to run in a Kata VM; repeat for more.
        #[arg(long = "service", value_name = "NAME", required = true)]
        services: Vec<String>,
        /// The Docker runtime name (default `kata`; `kata-clh` etc. pick a hypervisor).
        #[arg(long, default_value = "kata")]
        runtime: String,
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
            file,
            services,
            runtime,
        } => {
            for name in services.iter().chain([&runtime]) {
                if !valid_compose_name(name) {
                    eprintln!("error: `{name}` is not a valid Compose service or runtime name ([a-zA-Z0-9._-])");
                    return Ok(ExitStatus::Usage);
                }
            }
            write_atomically(&file, &templates::compose_override(&services, &runtime))?;
            eprintln!("wrote {}", file.display());
            Ok(ExitStatus::Ok)
        }
    }
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
