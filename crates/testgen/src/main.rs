//! `netposture-testgen`: writes a generated cluster as manifests, for
//! `netposture scan -f`, other analyzers, or `kubectl apply`.

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use netposture_testgen::{Sizes, Style, generate};

#[derive(Debug, Parser)]
#[command(
    name = "netposture-testgen",
    about = "Write a deterministic synthetic cluster as one v1 List (JSON), Namespaces first"
)]
struct Cli {
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, default_value_t = 2_000)]
    namespaces: usize,
    #[arg(long, default_value_t = 50)]
    pods_per_namespace: usize,
    #[arg(long, default_value_t = 10)]
    policies_per_namespace: usize,
    /// mixed, default-deny, allow-same-namespace, cross-namespace, ipblock, named-ports, all or realistic.
    #[arg(long, default_value_t = Style::Mixed)]
    style: Style,
    /// Where to write the List; `-` for stdout.
    #[arg(short, long, default_value = "-")]
    out: PathBuf,
    /// Instead of one List: write DIR/00000.json, DIR/00001.json... each a
    /// List of at most this many objects, in order (for `kubectl apply` in chunks).
    #[arg(long, value_name = "OBJECTS")]
    split: Option<usize>,
}

fn main() -> std::io::Result<()> {
    let cli = Cli::parse();
    let objects = generate(&Sizes {
        seed: cli.seed,
        namespaces: cli.namespaces,
        pods_per_namespace: cli.pods_per_namespace,
        policies_per_namespace: cli.policies_per_namespace,
        style: cli.style,
    });
    match cli.split {
        Some(_) if cli.out.as_os_str() == "-" => {
            eprintln!("error: --split writes files into a directory: give it with --out DIR");
            std::process::exit(2);
        }
        Some(size) => {
            std::fs::create_dir_all(&cli.out)?;
            for (i, chunk) in objects.to_list_chunks(size.max(1))?.iter().enumerate() {
                std::fs::write(cli.out.join(format!("{i:05}.json")), chunk)?;
            }
        }
        None => {
            let list = objects.to_list_json()?;
            if cli.out.as_os_str() == "-" {
                std::io::stdout().lock().write_all(&list)?;
            } else {
                std::fs::write(&cli.out, list)?;
            }
        }
    }
    Ok(())
}
