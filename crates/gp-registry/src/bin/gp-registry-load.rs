//! Load generator for a goldenpath registry: appends phase events and
//! reserves build ids, as a CI runner would, so that several processes can
//! be pointed at one registry (SQLite file or PostgreSQL) to measure
//! throughput and prove that nothing is lost or duplicated.
//!
//! ```text
//! gp-registry-load --registry PATH|URL --env ENV [--phases N] [--auto N]
//!                  [--race DD-MM-YY:COUNT] [--start-at-us T] [--worker ID]
//! ```
//!
//! Prints one JSON line per reservation (`{"build_id":..,"new":..}`) and a
//! final summary line with the time spent appending.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::Instant;

use gp_core::{BuildId, BuildIdArg};
use gp_registry::{
    ChainKey, Location, OpenOptions, Phase, Registry, ReserveRequest, new_id, now_us,
};

struct Args {
    registry: String,
    env: String,
    phases: u64,
    auto: u64,
    race: Option<(String, u8)>,
    start_at_us: Option<i64>,
    worker: String,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        registry: String::new(),
        env: "load".into(),
        phases: 0,
        auto: 0,
        race: None,
        start_at_us: None,
        worker: std::process::id().to_string(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--registry" => a.registry = value()?,
            "--env" => a.env = value()?,
            "--phases" => a.phases = value()?.parse().map_err(|e| format!("--phases: {e}"))?,
            "--auto" => a.auto = value()?.parse().map_err(|e| format!("--auto: {e}"))?,
            "--race" => {
                let v = value()?;
                let (date, n) = v.split_once(':').ok_or("--race takes DD-MM-YY:COUNT")?;
                a.race = Some((
                    date.to_string(),
                    n.parse().map_err(|e| format!("--race: {e}"))?,
                ));
            }
            "--start-at-us" => {
                a.start_at_us = Some(
                    value()?
                        .parse()
                        .map_err(|e| format!("--start-at-us: {e}"))?,
                )
            }
            "--worker" => a.worker = value()?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.registry.is_empty() {
        return Err("--registry is required".into());
    }
    Ok(a)
}

fn run(a: Args) -> Result<(), String> {
    // The chain key as goldenpath's CLI takes it; a SQLite registry keeps
    // its own key file.
    let location = Location::parse(&a.registry).map_err(|e| e.to_string())?;
    let key = match (&location, std::env::var("GOLDENPATH_REGISTRY_KEY")) {
        (Location::Postgres(_), Ok(k)) => Some(ChainKey::parse(&k).map_err(|e| e.to_string())?),
        _ => None,
    };
    let opts = OpenOptions {
        key,
        read_only: false,
    };
    let registry = Registry::open_with(&location, &opts).map_err(|e| e.to_string())?;
    if let Some(t) = a.start_at_us {
        // Start together with the other workers.
        while now_us() < t {
            std::thread::yield_now();
        }
    }
    let actor = format!("load-{}", a.worker);
    if let Some((date, count)) = &a.race {
        for seq in 1..=*count {
            let id: BuildId = format!("{date}-{seq:02}")
                .parse()
                .map_err(|e: gp_core::BuildIdError| e.to_string())?;
            let r = registry
                .reserve(&ReserveRequest::new(&a.env, BuildIdArg::Id(id), &actor))
                .map_err(|e| e.to_string())?;
            println!("{{\"build_id\":\"{}\",\"new\":{}}}", r.build_id, r.new);
        }
    }
    let started = Instant::now();
    // Each phase run appends a start and an end: `--phases N` appends N
    // events.
    let mut i = 0;
    while i < a.phases {
        let mut p = Phase {
            run: new_id(),
            env: a.env.clone(),
            deployment: "persistent".into(),
            build_id: String::new(),
            phase: format!("load-{}", i % 4),
            started_us: now_us(),
            actor: Some(actor.clone()),
            ..Phase::default()
        };
        registry.phase_start(&p).map_err(|e| e.to_string())?;
        i += 1;
        if i < a.phases {
            p.ended_us = Some(p.started_us + 1000);
            p.exit_code = Some(0);
            registry.phase_end(&p).map_err(|e| e.to_string())?;
            i += 1;
        }
    }
    let append_s = started.elapsed().as_secs_f64();
    for _ in 0..a.auto {
        let r = registry
            .reserve(&ReserveRequest::new(&a.env, BuildIdArg::Auto, &actor))
            .map_err(|e| e.to_string())?;
        println!("{{\"build_id\":\"{}\",\"new\":{}}}", r.build_id, r.new);
    }
    println!(
        "{{\"summary\":true,\"phases\":{},\"append_seconds\":{append_s}}}",
        a.phases
    );
    Ok(())
}

fn main() -> ExitCode {
    match parse().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gp-registry-load: {e}");
            ExitCode::FAILURE
        }
    }
}
