//! Engine tests with real drivers (exec) and an in-test file driver.
#![allow(missing_docs)]

mod approval;
mod boundaries;
mod claims;
mod cloud;
mod drift_gate;
mod engine;
mod file_driver;
mod policy;
mod previews;
mod trust;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use gp_core::Platform;
use gp_driver::DriverSet;
use gp_engine::{Engine, Event, EventSink};
use gp_registry::{Location, Registry};

/// Records events for assertions.
#[derive(Default)]
pub struct Events(pub Mutex<Vec<Event>>);

impl EventSink for Events {
    fn emit(&self, e: &Event) {
        self.0.lock().unwrap().push(e.clone());
    }
}

pub struct World {
    pub dir: tempfile::TempDir,
    pub platform: Platform,
    pub registry: Registry,
    pub drivers: DriverSet,
    pub events: Events,
    pub cancel: AtomicBool,
}

impl World {
    pub fn new(spec: &str) -> World {
        let dir = gp_test::tempdir();
        let path = dir.path().join("goldenpath.yaml");
        std::fs::write(&path, spec).unwrap();
        let platform = Platform::load(&path).unwrap();
        let registry =
            Registry::open(&Location::Sqlite(dir.path().join("state/registry.db"))).unwrap();
        let drivers = DriverSet::new()
            .with(Arc::new(gp_driver::exec::ExecDriver))
            .with(Arc::new(file_driver::FileDriver));
        World {
            dir,
            platform,
            registry,
            drivers,
            events: Events::default(),
            cancel: AtomicBool::new(false),
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn engine(&self) -> Engine<'_> {
        let mut e = Engine::new(
            &self.platform,
            &self.registry,
            &self.drivers,
            self.state_dir(),
            &self.events,
            &self.cancel,
        );
        e.actor = "tester".into();
        e
    }

    pub fn files(&self) -> PathBuf {
        self.state_dir().join("files")
    }

    pub fn exists(&self, rel: &str) -> bool {
        Path::new(&self.files()).join(rel).exists()
    }
}

pub const HEADER: &str = "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: gp
domain: example.io
owner: team
environments:
  dev:
    persistent: { maxTier: 3 }
    ephemeral: { maxTier: 2 }
";
